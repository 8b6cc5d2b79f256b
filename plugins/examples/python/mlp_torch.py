#!/usr/bin/python3
"""A goebm energy plugin in PyTorch: goebm's built-in `mlp` energy, E(x) = z_L, the output of a
multilayer perceptron d → hidden… → 1 with softplus units, written as one torch function on
the SDK's TorchEnergy, which derives every output (second order included) by autograd. Its
blocks and its initialisation are the built-in's (torch's nn.Linear default, drawn from the
host's random words), so a run starts from the built-in's parameters and follows it:

    [energy]
    plugin = ["/usr/bin/python3", "../plugins/examples/python/mlp_torch.py"]
    [energy.config]
    hidden = [64, 64]

Check it from the repository root:

    ebm plugin check --dim 2 --config '{"hidden": [8, 8]}' -- /usr/bin/python3 plugins/examples/python/mlp_torch.py
"""

import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import goebm_plugin as gp  # noqa: E402
from goebm_plugin.torch import TorchEnergy  # noqa: E402


def softplus(z):
    """log(1 + eᶻ) exactly, as goebm computes it (torch's own switches to z above 20)."""
    return z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))


class MLP(TorchEnergy):
    name = "mlp"
    implementation = "goebm example mlp (Python, torch)"
    schema = {"hidden": gp.Field("[]int", [64, 64], "widths of the hidden layers")}

    def configure(self, config, env):
        if not config["hidden"] or min(config["hidden"]) < 1:
            raise gp.ConfigError("hidden", "want one or more widths ≥ 1")
        self.dim = env.dim
        self.sizes = [env.dim] + config["hidden"] + [1]

    def blocks(self):
        out = []
        for l in range(1, len(self.sizes)):
            out += [(f"W{l}", (self.sizes[l], self.sizes[l - 1])), (f"b{l}", (self.sizes[l],))]
        return out

    def init_params(self, rng):
        """torch's nn.Linear default, U(−1/√in, 1/√in), W before b, layer by layer: the
        built-in's draws, from the same words."""
        parts = []
        for l in range(1, len(self.sizes)):
            bound = 1 / math.sqrt(self.sizes[l - 1])
            k = self.sizes[l] * self.sizes[l - 1] + self.sizes[l]
            parts.append(bound * (2 * rng.float64s(k) - 1))
        return np.concatenate(parts)

    def energy(self, x, params):
        h = x
        L = len(self.sizes) - 1
        for l in range(1, L + 1):
            z = h @ params[f"W{l}"].T + params[f"b{l}"]
            h = softplus(z) if l < L else z
        return h[:, 0]


if __name__ == "__main__":
    gp.serve(MLP)
