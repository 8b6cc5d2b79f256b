"""goebm_plugin: goebm energy plugins in Python.

An energy E(x; θ), with p(x; θ) ∝ exp(−E(x; θ)), is a small class; ``serve`` runs it as a goebm
plugin process, and goebm trains and samples it as it does its built-in energies::

    import numpy as np
    import goebm_plugin as gp

    class Quadratic(gp.Energy):
        name = "quadratic"
        schema = {"scale": gp.Field("float", 1.0, "initial scale")}

        def configure(self, config, env):
            self.dim = env.dim
            self.scale = config["scale"]

        def blocks(self):
            return [("a", (self.dim,))]

        def init_params(self, rng):
            return np.full(self.dim, self.scale)

        def evaluate(self, req):
            a = req.theta
            out = {}
            if req.wants(gp.ENERGY):
                out["energy"] = 0.5 * (a * req.x ** 2).sum(axis=1)
            ...
            return out

    if __name__ == "__main__":
        gp.serve(Quadratic)

The SDK owns the rest of the protocol (docs/plugins.md): the go-plugin handshake (and keeping
stdout for it alone), the health and shutdown services, hclog-shaped JSON logs on stderr,
checking [energy.config] against the schema, refusing outputs the energy does not claim, θ by
version and θ in pieces, the host's fixed chunks and their summation order, answers in pieces
within the message limit, machine-readable errors, a watchdog that exits when the host is
gone, and a graceful end on Shutdown, SIGTERM or ``sys.exit`` in a handler, taking its own
children with it. ``goebm_plugin.torch.TorchEnergy`` derives every output by autograd from
``energy(x, params)``.

It needs Debian's python3-grpcio, python3-protobuf and python3-numpy (for /usr/bin/python3);
torch is optional. Put the folder that holds this package (plugins/python) on sys.path.
"""

from ._stdout import handshake_stream as _handshake_stream  # first: stdout is the handshake's

from ._core import (  # noqa: E402
    ENERGY, GRAD_X, PARAM_VJP, MIXED, LAPLACIAN, LAPLACIAN_VJP, HVP, PARAM_JAC,
    CAP_MIXED, CAP_LAPLACIAN, CAP_HVP, CAP_MIXED_SELF, CAP_PARAM_JAC,
    CONTINUOUS, BINARY, SPIN,
    ConfigError, Energy, Env, Field, Random, Request, log, serve,
)

__all__ = [
    "ENERGY", "GRAD_X", "PARAM_VJP", "MIXED", "LAPLACIAN", "LAPLACIAN_VJP", "HVP", "PARAM_JAC",
    "CAP_MIXED", "CAP_LAPLACIAN", "CAP_HVP", "CAP_MIXED_SELF", "CAP_PARAM_JAC", "CONTINUOUS", "BINARY", "SPIN",
    "ConfigError", "Energy", "Env", "Field", "Random", "Request", "log", "serve",
]
