"""An affine coupling (RealNVP) in PyTorch, served to mwverify through TorchLayer, which
derives jvp, vjp and vijp by automatic differentiation:

    mwverify layer check --layer-cmd "python3 examples/python/affine_torch.py"

With h = n/2, odd layers condition on the first half and even layers on the second (as
mwverify's own couplings); s and t are small linear maps of a:

    z = b * exp(tanh(s(a))) + t(a),  y = (a, z)
    b = (z - t(a)) * exp(-tanh(s(a)))        (the inverse)

The scale is exp(tanh(.)), so it stays in [1/e, e]. Parameters: s.weight (h*h), s.bias
(h), t.weight (h*h), t.bias (h), as nn.Linear initialises them from torch.manual_seed(seed).
Needs torch (1.13 or later).
"""
import os
import sys

import torch
import torch.nn as nn

try:
    from mwverify_layer import serve
    from mwverify_layer.torch import TorchLayer
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "python"))
    from mwverify_layer import serve
    from mwverify_layer.torch import TorchLayer


class AffineCoupling(nn.Module):
    def __init__(self, n, index):
        super().__init__()
        if n < 2 or n % 2:
            raise ValueError("needs an even number of features (got %d)" % n)
        self.h = n // 2
        self.first_conditions = index % 2 == 1
        self.s = nn.Linear(self.h, self.h)
        self.t = nn.Linear(self.h, self.h)

    def split(self, x):
        lo, hi = x[:, :self.h], x[:, self.h:]
        return (lo, hi) if self.first_conditions else (hi, lo)

    def join(self, a, z):
        return torch.cat([a, z] if self.first_conditions else [z, a], dim=1)

    def forward(self, x):
        a, b = self.split(x)
        return self.join(a, b * torch.exp(torch.tanh(self.s(a))) + self.t(a))

    def inverse(self, y):
        a, z = self.split(y)
        return self.join(a, (z - self.t(a)) * torch.exp(-torch.tanh(self.s(a))))


layer = TorchLayer(lambda shape, index: AffineCoupling(shape.features, index),
                   name="affine-torch",
                   summary="affine coupling in PyTorch: z = b * exp(tanh(s(a))) + t(a), "
                           "y = (a, z)",
                   reshape="flat",
                   roundings=lambda shape: None if shape is None
                   else shape.features // 2 + shape.batch + 10)

if __name__ == "__main__":
    serve(layer)
