"""A PyTorch nn.Module as an mwverify layer: TorchLayer derives the protocol's five
operations from the module's forward and inverse by automatic differentiation.

    import torch.nn as nn
    from mwverify_layer import serve
    from mwverify_layer.torch import TorchLayer

    class Coupling(nn.Module):
        def __init__(self, n, index): ...
        def forward(self, x): ...     # y = f(x)
        def inverse(self, y): ...     # x = f^-1(y)

    serve(TorchLayer(lambda shape, index: Coupling(shape.features, index),
                     name="my-coupling", summary="what it computes, one line"))

What it derives, for the module's parameters theta (named_parameters(), in order,
flattened; buffers stay the module's own):

- params: one block per named parameter, its name and numel;
- init: the module built right after torch.manual_seed(seed), its parameters as float64;
- forward, inverse: under torch.no_grad(); a non-finite inverse is status "domain"
  (raise mwverify_layer.DomainError yourself for anything finer);
- jvp: forward-mode AD (torch.autograd.forward_ad), with dual tensors for x and for every
  parameter, one forward pass per tangent;
- vjp: reverse-mode AD, torch.autograd.grad(y, (x, theta), hy);
- vijp (the Moonwalk step): y = f(x), hy = the vjp of the inverse at y with cotangent hx
  (hx J_{f^-1}(y) = hx J_x^-1), then g = the vjp of f's parameters with that hy.

Every operation runs in the call's dtype: the module is kept as one copy per dtype
(float32 and float64), and theta, x and the tangents are converted to torch tensors of
that dtype. The module is in eval() mode (train=True keeps it in training mode): the
operations must be deterministic. Works with torch 1.13 (torch.nn.utils.stateless) and
torch 2 (torch.func).
"""
import copy

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD

from . import DomainError, _Derived

try:  # torch >= 2.0
    from torch.func import functional_call as _functional_call
except ImportError:  # torch 1.13
    from torch.nn.utils.stateless import functional_call as _functional_call

__all__ = ["TorchLayer"]

_TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


class _Forward(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)


class _Inverse(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, y):
        return self.m.inverse(y)


class TorchLayer(_Derived):
    """An mwverify layer from an nn.Module factory.

    make_module(shape, index) -> nn.Module with forward(x) and inverse(y); shape is a
        mwverify_layer.Shape (batch, features, channels, height, width), index the layer's
        place in a network (1..L). Raise ValueError there for a shape the module does not
        take: describe then refuses it with the message (unless `accepts` is given).
    name, summary: as the protocol names the layer ([a-z0-9_-]+) and describes it (one line).
    reshape: how x reaches the module: "flat" ([B, n]), "image" ([B, C, H, W]), or a
        function of the Shape giving the tuple to reshape to.
    accepts: optional function of the Shape -> (bool, why).
    roundings: optional int, or function of the Shape (None at hello) -> int.
    device: where the module runs ("cpu" by default; on "cuda", TF32 is turned off).
    train: keep the module in training mode (default: eval()).
    """

    def __init__(self, make_module, name, summary, reshape="flat", accepts=None,
                 roundings=None, device="cpu", train=False):
        super().__init__(name, summary, reshape, accepts, roundings)
        self.make_module = make_module
        self.device = torch.device(device)
        self.train = train
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        self._built = {}  # (shape, index) -> module as built (float as made)
        self._typed = {}  # (shape, index, torch dtype) -> (_Forward, _Inverse, names, shapes)

    # ---- description

    def _build(self, shape, index):
        key = (shape, index)
        if key not in self._built:
            m = self.make_module(shape, index)
            if not isinstance(m, torch.nn.Module):
                raise TypeError("make_module returned %s, not an nn.Module" % type(m).__name__)
            if not callable(getattr(m, "inverse", None)):
                raise TypeError("%s has no inverse(y) method" % type(m).__name__)
            self._built[key] = m
        return self._built[key]

    def params(self, shape, index):
        out = []
        for name, p in self._build(shape, index).named_parameters():
            out.append((name if len(name) <= 31 else name[-31:], int(p.numel())))
        return out

    def init(self, shape, index, seed):
        torch.manual_seed(seed)
        m = self.make_module(shape, index)
        ps = [p.detach().reshape(-1).to(torch.float64).cpu() for p in m.parameters()]
        if not ps:
            return np.zeros(0)
        return torch.cat(ps).numpy().copy()

    # ---- the module in one dtype, and the conversions

    def _typed_module(self, ctx):
        tdt = _TORCH_DTYPE[np.dtype(ctx.dtype)]
        key = (ctx.shape, ctx.index, tdt)
        if key not in self._typed:
            m = copy.deepcopy(self._build(ctx.shape, ctx.index)).to(device=self.device,
                                                                     dtype=tdt)
            m.train(self.train)
            names = [n for n, _ in m.named_parameters()]
            shapes = [tuple(p.shape) for _, p in m.named_parameters()]
            self._typed[key] = (_Forward(m), _Inverse(m), names, shapes)
        return self._typed[key]

    def _view(self, ctx):
        if self.reshape == "flat":
            return (ctx.batch, ctx.features)
        if self.reshape == "image":
            return ctx.shape.image
        return tuple(self.reshape(ctx.shape))

    def _t(self, a, view=None):
        t = torch.from_numpy(np.ascontiguousarray(a)).to(self.device)
        return t.reshape(view) if view is not None else t

    def _split(self, theta_t, names, shapes, prefix="m."):
        """The flat theta as {"m.name": tensor of the parameter's shape}."""
        out, off = {}, 0
        for n, s in zip(names, shapes):
            k = int(np.prod(s, dtype=np.int64))
            out[prefix + n] = theta_t[off:off + k].reshape(s)
            off += k
        return out

    def _np(self, t, ctx, shape):
        """A torch result as the protocol's array: the call's dtype, exactly `shape`.
        A result of another dtype or size is handed on as it is, for serve() to refuse."""
        a = t.detach().cpu().numpy()
        if a.size == int(np.prod(shape, dtype=np.int64)):
            a = a.reshape(shape)
        return a

    @staticmethod
    def _zeros_if_none(g, like):
        return torch.zeros_like(like) if g is None else g

    # ---- the five operations

    def forward(self, theta, x, ctx):
        fwd, _, names, shapes = self._typed_module(ctx)
        with torch.no_grad():
            y = _functional_call(fwd, self._split(self._t(theta), names, shapes),
                                 (self._t(x, self._view(ctx)),))
        return self._np(y, ctx, x.shape)

    def inverse(self, theta, y, ctx):
        _, inv, names, shapes = self._typed_module(ctx)
        with torch.no_grad():
            x = _functional_call(inv, self._split(self._t(theta), names, shapes),
                                 (self._t(y, self._view(ctx)),))
        if not bool(torch.isfinite(x).all()):
            raise DomainError("inverse gave a non-finite x: y has no preimage in %s"
                              % np.dtype(ctx.dtype).name)
        return self._np(x, ctx, y.shape)

    def jvp(self, theta, x, dx, dtheta, ctx):
        fwd, _, names, shapes = self._typed_module(ctx)
        view = self._view(ctx)
        th, xt = self._t(theta), self._t(x, view)
        dy = np.empty(dx.shape, dtype=ctx.dtype)
        y = None
        for t in range(dx.shape[0]):
            with fwAD.dual_level():
                params = {k: fwAD.make_dual(p.contiguous(), dp.contiguous())
                          for (k, p), dp in zip(self._split(th, names, shapes).items(),
                                                self._split(self._t(dtheta[t]), names,
                                                            shapes).values())}
                xd = fwAD.make_dual(xt, self._t(dx[t], view))
                out = _functional_call(fwd, params, (xd,))
                primal, tangent = fwAD.unpack_dual(out)
                tangent = self._zeros_if_none(tangent, primal)
                a = self._np(tangent, ctx, x.shape)
                if a.shape != x.shape or a.dtype != np.dtype(ctx.dtype):
                    raise TypeError("the module's tangent came back as %s %s for a %s call "
                                    "of shape %s" % (a.dtype.name, list(a.shape),
                                                     np.dtype(ctx.dtype).name, list(x.shape)))
                dy[t] = a
                if y is None:
                    y = self._np(primal, ctx, x.shape)
        if y is None:  # T = 0
            y = self.forward(theta, x, ctx)
        return y, dy

    def vjp(self, theta, x, hy, ctx):
        fwd, _, names, shapes = self._typed_module(ctx)
        view = self._view(ctx)
        with torch.enable_grad():
            params = {k: p.detach().clone().requires_grad_()
                      for k, p in self._split(self._t(theta), names, shapes).items()}
            xt = self._t(x, view).clone().requires_grad_()
            y = _functional_call(fwd, params, (xt,))
            leaves = [xt] + list(params.values())
            grads = torch.autograd.grad(y, leaves, grad_outputs=self._t(hy, y.shape),
                                        allow_unused=True)
        grads = [self._zeros_if_none(g, l) for g, l in zip(grads, leaves)]
        hx = self._np(grads[0], ctx, x.shape)
        g = self._flat(grads[1:], theta)
        return hx, self._np(g, ctx, theta.shape)

    def vijp(self, theta, x, hx, ctx):
        fwd, inv, names, shapes = self._typed_module(ctx)
        view = self._view(ctx)
        with torch.enable_grad():
            th = self._t(theta)
            params = {k: p.detach().clone().requires_grad_()
                      for k, p in self._split(th, names, shapes).items()}
            y = _functional_call(fwd, params, (self._t(x, view),))
            # hy = hx J_x^-1: the vjp of the inverse at y = f(x) with cotangent hx.
            yl = y.detach().requires_grad_()
            xr = _functional_call(inv, self._split(th, names, shapes), (yl,))
            (hy,) = torch.autograd.grad(xr, [yl], grad_outputs=self._t(hx, xr.shape),
                                        allow_unused=True)
            hy = self._zeros_if_none(hy, yl)
            # g = hy J_theta, through the forward pass.
            leaves = list(params.values())
            gs = torch.autograd.grad(y, leaves, grad_outputs=hy, allow_unused=True) \
                if leaves else []
        gs = [self._zeros_if_none(g, l) for g, l in zip(gs, leaves)]
        return (self._np(y, ctx, x.shape), self._np(hy, ctx, x.shape),
                self._np(self._flat(gs, theta), ctx, theta.shape))

    def _flat(self, grads, theta):
        if not grads:
            return torch.zeros(0, dtype=_TORCH_DTYPE[theta.dtype])
        return torch.cat([g.reshape(-1) for g in grads])
