"""The affine coupling of affine_torch.py written in JAX, served to mwverify through
JaxLayer, which derives jvp (jax.jvp), vjp and vijp (jax.vjp):

    mwverify layer check --layer-cmd "python3 examples/python/affine_jax.py"

With h = n/2, odd layers condition on the first half and even layers on the second:

    z = b * exp(tanh(a Ws + bs)) + a Wt + bt,  y = (a, z)
    b = (z - a Wt - bt) * exp(-tanh(a Ws + bs))      (the inverse)

Parameters: the pytree {"s": {"W", "b"}, "t": {"W", "b"}}, W of h*h drawn N(0, 1/h) and
b N(0, 0.01) from the key JaxLayer makes of the seed. Needs jax (CPU is enough).
"""
import os
import sys

import jax
import jax.numpy as jnp

try:
    from mwverify_layer import serve
    from mwverify_layer.jax import JaxLayer
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "python"))
    from mwverify_layer import serve
    from mwverify_layer.jax import JaxLayer


def make(shape, index):
    n = shape.features
    if n < 2 or n % 2:
        raise ValueError("needs an even number of features (got %d)" % n)
    h = n // 2
    first_conditions = index % 2 == 1

    def init(key):
        k = jax.random.split(key, 4)
        lin = lambda kw, kb: {"W": jax.random.normal(kw, (h, h)) / jnp.sqrt(h),
                              "b": 0.1 * jax.random.normal(kb, (h,))}
        return {"s": lin(k[0], k[1]), "t": lin(k[2], k[3])}

    def split(x):
        lo, hi = x[:, :h], x[:, h:]
        return (lo, hi) if first_conditions else (hi, lo)

    def join(a, z):
        return jnp.concatenate([a, z] if first_conditions else [z, a], axis=1)

    def st(p, a):
        return jnp.tanh(a @ p["s"]["W"] + p["s"]["b"]), a @ p["t"]["W"] + p["t"]["b"]

    def forward(p, x):
        a, b = split(x)
        s, t = st(p, a)
        return join(a, b * jnp.exp(s) + t)

    def inverse(p, y):
        a, z = split(y)
        s, t = st(p, a)
        return join(a, (z - t) * jnp.exp(-s))

    return init, forward, inverse


layer = JaxLayer(make, name="affine-jax",
                 summary="affine coupling in JAX: z = b * exp(tanh(s(a))) + t(a), y = (a, z)",
                 reshape="flat",
                 roundings=lambda shape: None if shape is None
                 else shape.features // 2 + shape.batch + 10)

if __name__ == "__main__":
    serve(layer)
