"""An additive coupling in plain numpy, every derivative written out by hand, served to
mwverify over the layer protocol:

    mwverify layer check --layer-cmd "python3 examples/python/additive_numpy.py"

The features x (B samples of n, n even) split into halves a and b of h = n/2 each. As in
mwverify's own additive coupling (engine/layers/coupling.h), odd layers (index 1, 3, ...)
condition on the first half (a = x[:, :h], b = x[:, h:]) and even layers on the second
(a = x[:, h:], b = x[:, :h]); the output keeps the halves in place:

    u = a W^T + c            (per sample, W a + c; W is [h, h], row-major)
    F(a) = tanh(u)
    z = b + F(a)
    y = (a, z)               (no output activation)

Parameters: the block "W" (h*h), then the block "c" (h), both uniform in +-1/sqrt(h)
from np.random.default_rng(seed). With d = tanh'(u) = sech^2(u) and J = [[I, 0], [F', I]]
in (a, b) -> (a, z) order, where F'(a) = diag(d) W:

    jvp   du = da W^T + a dW^T + dc,  dz = db + d * du,      dy = (da, dz)
    vjp   hu = hz * d (hz = hy_b),    hx = (hy_a + hu W, hz),  gW = hu^T a, gc = sum_b hu
    vijp  hz = hx_b, hu = hz * d,     hy = (hx_a - hu W, hz),  g as vjp's with this hy

Every operation computes in the call's dtype: theta and x arrive as float32 in a float32
call, and every intermediate stays float32.
"""
import os
import sys

import numpy as np

try:
    from mwverify_layer import Layer, serve
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "python"))
    from mwverify_layer import Layer, serve


def sech2(u):
    """tanh'(u) = sech(u)^2, which keeps its relative accuracy where tanh saturates
    (1 - tanh(u)^2 loses it); cosh overflowing to inf gives the right 0."""
    with np.errstate(over="ignore"):
        c = np.cosh(u)
    return 1 / (c * c)


class AdditiveCoupling(Layer):
    name = "additive-numpy"
    summary = "additive coupling in numpy: z = b + tanh(W a + c), y = (a, z)"

    def roundings(self, shape):
        # A dense map of h inputs (about h roundings), a handful more for tanh and the sum,
        # and the parameter gradient summed over the batch (B more). The hello reply has
        # no shape, so the adapter sends nothing there and mwverify takes n + 10.
        if shape is None:
            return None
        return shape.features // 2 + shape.batch + 10

    def accepts(self, shape):
        if shape.features < 2 or shape.features % 2:
            return False, "needs an even number of features (got %d)" % shape.features
        return True, ""

    def params(self, shape, index):
        h = shape.features // 2
        return [("W", h * h), ("c", h)]

    def init(self, shape, index, seed):
        h = shape.features // 2
        bound = 1 / np.sqrt(h)
        return np.random.default_rng(seed).uniform(-bound, bound, h * h + h)

    # -- the pieces every operation shares

    @staticmethod
    def unpack(theta, ctx):
        h = ctx.features // 2
        return theta[:h * h].reshape(h, h), theta[h * h:]

    @staticmethod
    def halves(ctx):
        """Slices of the conditioning half a and the transformed half b."""
        h = ctx.features // 2
        first, second = slice(0, h), slice(h, 2 * h)
        return (first, second) if ctx.index % 2 == 1 else (second, first)

    def join(self, a, z, ctx):
        sa, sb = self.halves(ctx)
        y = np.empty(a.shape[:-1] + (ctx.features,), dtype=ctx.dtype)
        y[..., sa] = a
        y[..., sb] = z
        return y

    # -- the five operations

    def forward(self, theta, x, ctx):
        W, c = self.unpack(theta, ctx)
        sa, sb = self.halves(ctx)
        a, b = x[:, sa], x[:, sb]
        return self.join(a, b + np.tanh(a @ W.T + c), ctx)

    def inverse(self, theta, y, ctx):
        W, c = self.unpack(theta, ctx)
        sa, sb = self.halves(ctx)
        a, z = y[:, sa], y[:, sb]
        return self.join(a, z - np.tanh(a @ W.T + c), ctx)

    def jvp(self, theta, x, dx, dtheta, ctx):
        W, c = self.unpack(theta, ctx)
        sa, sb = self.halves(ctx)
        h = ctx.features // 2
        a, b = x[:, sa], x[:, sb]
        u = a @ W.T + c
        d = sech2(u)
        y = self.join(a, b + np.tanh(u), ctx)
        dy = np.empty(dx.shape, dtype=ctx.dtype)
        for t in range(dx.shape[0]):
            da, db = dx[t][:, sa], dx[t][:, sb]
            dW, dc = dtheta[t, :h * h].reshape(h, h), dtheta[t, h * h:]
            du = da @ W.T + a @ dW.T + dc
            dy[t] = self.join(da, db + d * du, ctx)
        return y, dy

    def vjp(self, theta, x, hy, ctx):
        W, c = self.unpack(theta, ctx)
        sa, sb = self.halves(ctx)
        a = x[:, sa]
        d = sech2(a @ W.T + c)
        hz = hy[:, sb]
        hu = hz * d
        hx = self.join(hy[:, sa] + hu @ W, hz, ctx)
        return hx, self.grad(hu, a)

    def vijp(self, theta, x, hx, ctx):
        W, c = self.unpack(theta, ctx)
        sa, sb = self.halves(ctx)
        a, b = x[:, sa], x[:, sb]
        u = a @ W.T + c
        d = sech2(u)
        y = self.join(a, b + np.tanh(u), ctx)
        hz = hx[:, sb]  # J⁻¹ = [[I, 0], [-F', I]]: the z cotangent is b's
        hu = hz * d
        hy = self.join(hx[:, sa] - hu @ W, hz, ctx)
        return y, hy, self.vijp_grad(hu, hz, a)

    def vijp_grad(self, hu, hz, a):
        """g = hy J_θ: only z depends on θ, through u, so it is vjp's gradient with hu."""
        return self.grad(hu, a)

    @staticmethod
    def grad(hu, a):
        """gW = hu^T a and gc = the batch sum of hu, flattened as theta is."""
        return np.concatenate([(hu.T @ a).ravel(), hu.sum(axis=0)])


if __name__ == "__main__":
    serve(AdditiveCoupling())
