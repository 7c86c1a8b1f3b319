"""A JAX layer as an mwverify layer: JaxLayer derives the protocol's five operations from a
pair of pure functions by jax.jvp and jax.vjp.

    import jax.numpy as jnp
    from mwverify_layer import serve
    from mwverify_layer.jax import JaxLayer

    def make(shape, index):
        h = shape.features // 2
        def init(key):                      # -> a pytree of arrays (the parameters)
            ...
        def forward(params, x):             # x as `reshape` says; -> y of the same shape
            ...
        def inverse(params, y):
            ...
        return init, forward, inverse

    serve(JaxLayer(make, name="my-coupling", summary="what it computes, one line"))

The parameters are the pytree's leaves in jax.tree_util order, flattened (one block per
leaf, named by its path where jax can say it). init is called with a PRNG key made from
the seed alone. Every operation runs in the call's dtype: the leaves, x and the tangents
are cast to it (float64 needs jax_enable_x64, which importing this module turns on).
jvp is one jax.jvp per tangent; vjp is jax.vjp; vijp is y = f(x), hy = the vjp of the
inverse at y with cotangent hx, then g = the vjp of f's parameters with that hy.

Tested with jax 0.10 on the CPU: examples/python/affine_jax.py passes every check
(tests' plugins.jax, with a Python that has jax named in MW_TEST_JAX_PYTHON). jax itself is
imported when the first JaxLayer is made, not when this module is.
"""
import numpy as np

from . import DomainError, _Derived

__all__ = ["JaxLayer"]

_jax = None


def _import_jax():
    global _jax
    if _jax is None:
        import jax
        import jax.numpy  # noqa: F401

        jax.config.update("jax_enable_x64", True)
        # f32 matmuls at full float32 precision (not bf16/TF32 passes on accelerators)
        jax.config.update("jax_default_matmul_precision", "highest")
        _jax = jax
    return _jax


class JaxLayer(_Derived):
    """An mwverify layer from JAX functions.

    make(shape, index) -> (init, forward, inverse): init(key) -> params (a pytree);
        forward(params, x) -> y; inverse(params, y) -> x. Raise ValueError in make for a
        shape the layer does not take (unless `accepts` is given).
    reshape: "flat" ([B, n]), "image" ([B, C, H, W]) or a function of the Shape.
    accepts, roundings: as for TorchLayer.
    jit: jax.jit the operations (default True; they are retraced per shape and dtype).
    """

    def __init__(self, make, name, summary, reshape="flat", accepts=None, roundings=None,
                 jit=True):
        super().__init__(name, summary, reshape, accepts, roundings)
        _import_jax()
        self.make = make
        self.jit = jit
        self._made = {}  # (shape, index) -> (init, forward, inverse, treedef, leaf shapes)
        self._ops = {}   # (shape, index, op) -> compiled function

    # ---- description

    def _build(self, shape, index):
        key = (shape, index)
        if key not in self._made:
            jax = _jax
            init, fwd, inv = self.make(shape, index)
            # the tree's structure from an abstract evaluation: no parameters computed
            abstract = jax.eval_shape(init, jax.random.PRNGKey(0))
            leaves, treedef = jax.tree_util.tree_flatten(abstract)
            names = self._leaf_names(abstract, len(leaves))
            self._made[key] = (init, fwd, inv, treedef, [tuple(l.shape) for l in leaves], names)
        return self._made[key]

    @staticmethod
    def _leaf_names(tree, count):
        """"W", "dense.bias", "0" for the leaves' paths; p0, p1, ... where jax has none."""
        tu = _jax.tree_util
        if hasattr(tu, "tree_flatten_with_path"):
            names = []
            for path, _ in tu.tree_flatten_with_path(tree)[0]:
                parts = []
                for k in path:
                    for attr in ("key", "name", "idx"):
                        if hasattr(k, attr):
                            parts.append(str(getattr(k, attr)))
                            break
                    else:
                        parts.append(str(k))
                names.append(".".join(parts)[-31:] or "p")
            if len(names) == count:
                return names
        return ["p%d" % i for i in range(count)]

    def params(self, shape, index):
        _, _, _, _, shapes, names = self._build(shape, index)
        return [(n, int(np.prod(s, dtype=np.int64))) for n, s in zip(names, shapes)]

    def init(self, shape, index, seed):
        jax = _jax
        init = self._build(shape, index)[0]
        key = jax.random.PRNGKey(seed & 0xFFFFFFFF)
        key = jax.random.fold_in(key, (seed >> 32) & 0xFFFFFFFF)
        leaves = jax.tree_util.tree_leaves(init(key))
        if not leaves:
            return np.zeros(0)
        return np.concatenate([np.asarray(l, dtype=np.float64).ravel() for l in leaves])

    # ---- conversions

    def _view(self, ctx):
        if self.reshape == "flat":
            return (ctx.batch, ctx.features)
        if self.reshape == "image":
            return ctx.shape.image
        return tuple(self.reshape(ctx.shape))

    def _unflatten(self, flat, treedef, shapes):
        """A flat jnp vector as the parameter pytree (inside traced code)."""
        leaves, off = [], 0
        for s in shapes:
            k = int(np.prod(s, dtype=np.int64))
            leaves.append(flat[off:off + k].reshape(s))
            off += k
        return _jax.tree_util.tree_unflatten(treedef, leaves)

    @staticmethod
    def _np(a, ctx, shape):
        a = np.asarray(a)
        if a.size == int(np.prod(shape, dtype=np.int64)):
            a = a.reshape(shape)
        return a

    def _compiled(self, ctx, op):
        """The op as a function of flat arrays (theta, x, ...), in jnp; jitted."""
        key = (ctx.shape, ctx.index, op)
        if key in self._ops:
            return self._ops[key]
        jax = _jax
        _, fwd, inv, treedef, shapes, _ = self._build(ctx.shape, ctx.index)
        view = self._view(ctx)
        flat_shape = (ctx.batch, ctx.features)

        def F(theta, x):
            return fwd(self._unflatten(theta, treedef, shapes), x.reshape(view)).reshape(flat_shape)

        def G(theta, y):
            return inv(self._unflatten(theta, treedef, shapes), y.reshape(view)).reshape(flat_shape)

        if op == "forward":
            fn = F
        elif op == "inverse":
            fn = G
        elif op == "jvp":
            def fn(theta, x, dx, dtheta):
                def one(d):
                    return jax.jvp(F, (theta, x), (d[1], d[0]))
                ys, dys = jax.vmap(one)((dx, dtheta))
                return ys[0], dys
        elif op == "vjp":
            def fn(theta, x, hy):
                _, pull = jax.vjp(F, theta, x)
                g, hx = pull(hy)
                return hx, g
        else:  # vijp
            def fn(theta, x, hx):
                y, pull_f = jax.vjp(lambda th: F(th, x), theta)
                _, pull_inv = jax.vjp(lambda yy: G(theta, yy), y)
                (hy,) = pull_inv(hx)
                (g,) = pull_f(hy)
                return y, hy, g
        fn = jax.jit(fn) if self.jit else fn
        self._ops[key] = fn
        return fn

    def _run(self, op, ctx, *arrays):
        jnp = _jax.numpy
        args = [jnp.asarray(a, dtype=ctx.dtype) for a in arrays]
        return self._compiled(ctx, op)(*args)

    # ---- the five operations

    def forward(self, theta, x, ctx):
        return self._np(self._run("forward", ctx, theta, x), ctx, x.shape)

    def inverse(self, theta, y, ctx):
        x = self._np(self._run("inverse", ctx, theta, y), ctx, y.shape)
        if not np.all(np.isfinite(x)):
            raise DomainError("inverse gave a non-finite x: y has no preimage in %s"
                              % np.dtype(ctx.dtype).name)
        return x

    def jvp(self, theta, x, dx, dtheta, ctx):
        if dx.shape[0] == 0:
            return self.forward(theta, x, ctx), np.zeros(dx.shape, dtype=ctx.dtype)
        y, dy = self._run("jvp", ctx, theta, x, dx, dtheta)
        return self._np(y, ctx, x.shape), self._np(dy, ctx, dx.shape)

    def vjp(self, theta, x, hy, ctx):
        hx, g = self._run("vjp", ctx, theta, x, hy)
        return self._np(hx, ctx, x.shape), self._np(g, ctx, theta.shape)

    def vijp(self, theta, x, hx, ctx):
        y, hy, g = self._run("vijp", ctx, theta, x, hx)
        return (self._np(y, ctx, x.shape), self._np(hy, ctx, x.shape),
                self._np(g, ctx, theta.shape))
