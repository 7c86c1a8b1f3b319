"""A negative control: additive_numpy.py with ONE deliberate error, in vijp.

vijp's parameter gradient uses the z cotangent hz itself where it needs hu = hz * tanh'(u):
the factor sech^2(u) of tanh's derivative is forgotten (a plausible slip, since hz is
what carries over unchanged from hx). y and hy are right; only vijp's gtheta is wrong, so
the forward, inverse, jvp and vjp checks and the identities that do not use vijp's
gradient all pass. mwverify must catch it in:

    vijp_identity, vijp_exact       (vijp's g is not vjp's g at the hy it returns)
    method:moonwalk, method:mixed   (the two methods built on vijp)

and nothing else.

    mwverify layer check --layer-cmd "python3 examples/python/additive_numpy_faulty.py"
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from additive_numpy import AdditiveCoupling, serve  # noqa: E402


class AdditiveCouplingFaulty(AdditiveCoupling):
    name = "additive-numpy-faulty"
    summary = ("additive coupling in numpy with a deliberate error: "
               "vijp's parameter gradient lacks tanh'(u)")

    def vijp_grad(self, hu, hz, a):
        return self.grad(hz, a)  # THE ERROR: should be self.grad(hu, a)


if __name__ == "__main__":
    serve(AdditiveCouplingFaulty())
