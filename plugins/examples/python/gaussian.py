#!/usr/bin/python3
"""A goebm energy plugin in Python with numpy: a Gaussian with diagonal precision,

    E(x; θ) = ½ Σⱼ aⱼ (xⱼ − μⱼ)²,   aⱼ = exp(sⱼ),   θ = (μ, s),

on the SDK in plugins/python (goebm_plugin). Name it in a run file, never run it by hand:

    [energy]
    plugin = ["/usr/bin/python3", "../plugins/examples/python/gaussian.py"]
    [energy.config]
    init_scale = 0.5

and check it from the repository root:

    ebm plugin check --dim 3 -- /usr/bin/python3 plugins/examples/python/gaussian.py
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import numpy as np  # noqa: E402

import goebm_plugin as gp  # noqa: E402


class GaussianDiag(gp.Energy):
    name = "gaussian-diag-py"
    implementation = "goebm example gaussian-diag (Python, numpy)"
    capabilities = gp.CAP_MIXED | gp.CAP_LAPLACIAN | gp.CAP_HVP
    schema = {
        "dim": gp.Field("int", 0, "dimension; 0 takes it from the data"),
        "init_log_precision": gp.Field("float", 0.0, "initial sⱼ = log aⱼ of every coordinate"),
        "init_scale": gp.Field("float", 0.1, "initial μⱼ are uniform in [−init_scale, init_scale]"),
    }

    def configure(self, config, env):
        if config["init_scale"] < 0:
            raise gp.ConfigError("init_scale", f"must be ≥ 0, got {config['init_scale']}")
        if env.domain != gp.CONTINUOUS:
            raise gp.ConfigError("", "the Gaussian is continuous; the data are not")
        self.dim = config["dim"] or env.dim
        self.s0, self.scale = config["init_log_precision"], config["init_scale"]

    def blocks(self):
        return [("mean", (self.dim,)), ("log_precision", (self.dim,))]

    def init_params(self, rng):
        mean = self.scale * (2 * rng.float64s(self.dim) - 1)
        return np.concatenate([mean, np.full(self.dim, self.s0)])

    def evaluate(self, req):
        mu, a = req.params["mean"], np.exp(req.params["log_precision"])
        r = req.x - mu      # n×d
        g = a * r           # ∇ₓE
        out = {}
        if req.wants(gp.ENERGY):
            out["energy"] = 0.5 * (g * r).sum(axis=1)
        if req.wants(gp.GRAD_X):
            out["grad_x"] = g
        if req.wants(gp.PARAM_VJP):
            w = req.weights[:, None]
            out["param_vjp"] = np.concatenate([-(w * g).sum(axis=0), 0.5 * (w * g * r).sum(axis=0)])
        if req.wants(gp.MIXED):
            u = req.u if req.u is not None else np.zeros_like(g)
            out["mixed"] = np.concatenate([-(u * a).sum(axis=0), (u * g).sum(axis=0)])
        if req.wants(gp.LAPLACIAN):
            out["laplacian"] = np.full(len(r), a.sum())
        if req.wants(gp.LAPLACIAN_VJP):
            out["laplacian_vjp"] = np.concatenate([np.zeros(self.dim), req.lap_weights.sum() * a])
        if req.wants(gp.HVP):
            out["hvp"] = a * req.v
        return out


if __name__ == "__main__":
    gp.serve(GaussianDiag)
