#!/usr/bin/python3
"""A goebm energy plugin in Python: a Gaussian with diagonal precision.

    E(x; θ) = ½ Σⱼ aⱼ (xⱼ − μⱼ)²,   aⱼ = exp(sⱼ),   θ = (μ, s)

Run it by naming it in a run file, never by hand:

    [energy]
    plugin = ["/usr/bin/python3", "../plugins/examples/python/plugin.py"]
    [energy.config]
    init_scale = 0.5

It needs grpcio, protobuf and numpy (Debian: python3-grpcio python3-protobuf python3-numpy)
and the modules generated from plugins/proto, committed in gen/. It implements everything a
goebm plugin must do (docs/plugins.md): the go-plugin handshake line on stdout and nothing
else there, the cookie check, the grpc.health.v1 service, plugin.GRPCController/Shutdown,
hclog-shaped JSON logs on stderr, a watchdog that exits when the host dies, 256 MiB message
limits, θ cached by version, and tensors as little-endian float64 bytes.
"""

import os
import sys

# Stdout carries the handshake line and nothing else: keep a private copy of it, and send
# everything else written to fd 1 or sys.stdout (by us or by any library) to stderr.
_handshake_out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

import json
import signal
import tempfile
import threading
import time
from concurrent import futures

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc
import numpy as np

from goebm.v1 import goebm_pb2 as pb
from goebm.v1 import goebm_pb2_grpc as pb_grpc
import grpc_controller_pb2
import grpc_controller_pb2_grpc
from google.rpc import status_pb2
import health_pb2
import health_pb2_grpc

COOKIE_KEY = "GOEBM_PLUGIN_MAGIC_COOKIE"
COOKIE_VALUE = "9a1e7c3f0b5d4e2a-goebm-energy"
PROTOCOL_MAJOR, PROTOCOL_MINOR = 1, 0
MAX_MESSAGE = 256 << 20

# Output bits (framework.Output) and capability bits (framework.Capability).
OUT_ENERGY, OUT_GRAD_X, OUT_PARAM_VJP, OUT_MIXED = 1, 2, 4, 8
OUT_LAPLACIAN, OUT_LAPLACIAN_VJP, OUT_HVP = 16, 32, 64
ALL_OUTPUTS = 127
CAP_MIXED, CAP_LAPLACIAN, CAP_HVP, CAP_MIXED_SELF = 1, 2, 4, 32


def log(level, message, **kv):
    """Writes one hclog-shaped JSON line to stderr."""
    entry = {"@level": level, "@message": message, "@module": "gaussian-py",
             "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"}
    entry.update(kv)
    sys.stderr.write(json.dumps(entry) + "\n")
    sys.stderr.flush()


# The configuration schema: key → (type, default, help).
SCHEMA = {
    "dim": ("int", 0, "dimension; 0 takes it from the data"),
    "init_log_precision": ("float", 0.0, "initial sⱼ = log aⱼ of every coordinate"),
    "init_scale": ("float", 0.1, "initial μⱼ are uniform in [−init_scale, init_scale]"),
}


def check_type(typ, v):
    if typ == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if typ == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return False


class GaussianDiag:
    """The energy on ℝᵈ, vectorized over the rows of a batch."""

    def __init__(self, d, init_log_precision, init_scale):
        self.d, self.s0, self.scale = d, init_log_precision, init_scale

    def spec(self):
        d = self.d
        return pb.Spec(name="gaussian-diag-py", dim=d, domain=pb.DOMAIN_CONTINUOUS,
                       blocks=[pb.Block(name="mean", shape=[d]), pb.Block(name="log_precision", shape=[d])],
                       capabilities=CAP_MIXED | CAP_LAPLACIAN | CAP_HVP | CAP_MIXED_SELF)

    def num_params(self):
        return 2 * self.d

    def init_params(self, words):
        """θ₀ from the host's random words: μⱼ uniform from word j, as Go's Float64 maps it."""
        d = self.d
        if len(words) < d:
            return None, d
        u = (words[:d] >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
        theta = np.concatenate([self.scale * (2 * u - 1), np.full(d, self.s0)])
        return theta, d

    def evaluate(self, out, x, theta, w, u, mixed_self, lw, v):
        d = self.d
        mu, a = theta[:d], np.exp(theta[d:])
        r = x - mu                       # n×d
        g = a * r                        # ∇ₓE, n×d
        res = {}
        if out & OUT_ENERGY:
            res["energy"] = 0.5 * (g * r).sum(axis=1)
        if out & OUT_GRAD_X:
            res["grad_x"] = g
        if out & OUT_PARAM_VJP:
            wcol = w[:, None]
            res["param_vjp"] = np.concatenate([-(wcol * g).sum(axis=0), 0.5 * (wcol * g * r).sum(axis=0)])
        if out & OUT_MIXED:
            uu = (u if u is not None else 0.0) + mixed_self * g
            res["mixed"] = np.concatenate([-(uu * a).sum(axis=0), (uu * g).sum(axis=0)])
        if out & OUT_LAPLACIAN:
            res["laplacian"] = np.full(x.shape[0], a.sum())
        if out & OUT_LAPLACIAN_VJP:
            res["laplacian_vjp"] = np.concatenate([np.zeros(d), lw.sum() * a])
        if out & OUT_HVP:
            res["hvp"] = a * v
        return res


class Abort(Exception):
    def __init__(self, code, message, reason):
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason


# Error reasons (goebm.v1.ErrorReason), attached to every error so the host need not read messages.
BAD_REQUEST, NOT_CONFIGURED, THETA_NOT_CACHED, FAILED, PANIC = 1, 2, 3, 6, 7


def abort(context, code, message, reason):
    """Ends the RPC with an error status carrying a goebm.v1.ErrorDetail."""
    st = status_pb2.Status(code=code.value[0], message=message)
    st.details.add().Pack(pb.ErrorDetail(reason=reason))
    context.set_trailing_metadata((("grpc-status-details-bin", st.SerializeToString()),))
    context.abort(code, message)


def le_bytes(a):
    return np.ascontiguousarray(a, dtype="<f8").tobytes()


def matrix(what, t, rows, cols):
    if t is None or len(t.shape) != 2:
        raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} must be a rank-2 tensor", BAD_REQUEST)
    n, c = t.shape
    if (rows is not None and n != rows) or c != cols:
        raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} has shape {n}×{c}, want {rows if rows is not None else 'n'}×{cols}", BAD_REQUEST)
    if len(t.data) != 8 * n * c:
        raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} has {len(t.data)} bytes, want {8 * n * c}", BAD_REQUEST)
    return np.frombuffer(t.data, dtype="<f8").reshape(n, c)


def vector(what, b, n):
    if len(b) != 8 * n:
        raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} has {len(b)} bytes, want {8 * n}", BAD_REQUEST)
    return np.frombuffer(b, dtype="<f8")


class EnergyService(pb_grpc.EnergyServicer):
    def __init__(self):
        self.lock = threading.Lock()
        self.energy = None
        self.thetas = {}  # version → θ, the last few

    def _guard(self, context, f):
        try:
            return f()
        except Abort as e:
            abort(context, e.code, e.message, e.reason)
        except Exception as e:  # an error in the energy: report it with its traceback
            import traceback
            tb = traceback.format_exc()
            log("error", "handler failed", error=str(e), traceback=tb)
            abort(context, grpc.StatusCode.INTERNAL, f"{e}\n{tb}", PANIC)

    def Describe(self, request, context):
        schema = [pb.ConfigField(key=k, type=t, default_json=json.dumps(dv), help=h) for k, (t, dv, h) in SCHEMA.items()]
        return pb.DescribeResponse(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, config_schema=schema,
                                   max_message_bytes=MAX_MESSAGE, implementation="goebm example gaussian-diag (Python)")

    def Configure(self, request, context):
        def run():
            try:
                cfg = json.loads(request.config_json or "{}")
            except ValueError as e:
                return pb.ConfigureResponse(diagnostics=[pb.Diagnostic(key="", message=f"not JSON: {e}")])
            if not isinstance(cfg, dict):
                return pb.ConfigureResponse(diagnostics=[pb.Diagnostic(key="", message="configuration is not a table")])
            diags = []
            values = {k: dv for k, (t, dv, h) in SCHEMA.items()}
            for k, v in sorted(cfg.items()):
                if k not in SCHEMA:
                    diags.append(pb.Diagnostic(key=k, message="unknown key; accepted keys are " + ", ".join(SCHEMA)))
                elif not check_type(SCHEMA[k][0], v):
                    diags.append(pb.Diagnostic(key=k, message=f"want {SCHEMA[k][0]}, got {json.dumps(v)}"))
                else:
                    values[k] = v
            if not diags and values["init_scale"] < 0:
                diags.append(pb.Diagnostic(key="init_scale", message=f"must be ≥ 0, got {values['init_scale']}"))
            d = values["dim"] or (request.env.dim if request.HasField("env") else 0)
            if not diags and d <= 0:
                diags.append(pb.Diagnostic(key="dim", message="unknown dimension: set dim or give data"))
            if not diags and request.HasField("env") and request.env.domain != pb.DOMAIN_CONTINUOUS:
                diags.append(pb.Diagnostic(key="", message="the Gaussian is continuous; the data are not"))
            if diags:
                return pb.ConfigureResponse(diagnostics=diags)
            energy = GaussianDiag(int(d), float(values["init_log_precision"]), float(values["init_scale"]))
            with self.lock:
                self.energy, self.thetas = energy, {}
            log("debug", "configured", dim=int(d))
            return pb.ConfigureResponse(spec=energy.spec())
        return self._guard(context, run)

    def _energy(self):
        with self.lock:
            if self.energy is None:
                raise Abort(grpc.StatusCode.FAILED_PRECONDITION, "the plugin is not configured: call Configure first", NOT_CONFIGURED)
            return self.energy

    def _theta(self, params, p):
        if len(params.data) > 0 or p == 0:
            theta = vector("theta", params.data, p).copy()
            if params.version != 0:
                with self.lock:
                    self.thetas[params.version] = theta
                    while len(self.thetas) > 4:
                        self.thetas.pop(next(iter(self.thetas)))
            return theta
        with self.lock:
            theta = self.thetas.get(params.version)
        if theta is None or params.version == 0:
            raise Abort(grpc.StatusCode.FAILED_PRECONDITION, f"theta version {params.version} not cached", THETA_NOT_CACHED)
        return theta

    def InitParams(self, request, context):
        def run():
            e = self._energy()
            if len(request.random_words) % 8:
                raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "random_words is not a whole number of 64-bit words", BAD_REQUEST)
            words = np.frombuffer(request.random_words, dtype="<u8")
            theta, used = e.init_params(words)
            if theta is None:
                return pb.InitParamsResponse(words_used=used)
            return pb.InitParamsResponse(theta=le_bytes(theta), words_used=used)
        return self._guard(context, run)

    def Evaluate(self, request, context):
        def run():
            e = self._energy()
            out = request.outputs
            if out == 0 or out & ~ALL_OUTPUTS:
                raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"outputs {out:#x}: want a non-empty subset of {ALL_OUTPUTS:#x}", BAD_REQUEST)
            d, p = e.d, e.num_params()
            x = matrix("x", request.x if request.HasField("x") else None, None, d)
            n = x.shape[0]
            theta = self._theta(request.theta, p)
            w = vector("weights", request.weights, n) if request.weights else np.ones(n)
            lw = vector("lap_weights", request.lap_weights, n) if request.lap_weights else np.ones(n)
            u = matrix("u", request.u, n, d) if request.HasField("u") else None
            v = None
            if out & OUT_HVP:
                v = matrix("v", request.v if request.HasField("v") else None, n, d)
            res = e.evaluate(out, x, theta, w, u, request.mixed_self, lw, v)
            resp = pb.EvaluateResponse()
            for key in ("energy", "param_vjp", "mixed", "laplacian", "laplacian_vjp"):
                if key in res:
                    setattr(resp, key, le_bytes(res[key]))
            for key in ("grad_x", "hvp"):
                if key in res:
                    getattr(resp, key).CopyFrom(pb.Tensor(shape=[n, d], data=le_bytes(res[key])))
            return resp
        return self._guard(context, run)


class Health(health_pb2_grpc.HealthServicer):
    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


class Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
    def __init__(self, stop):
        self.stop = stop

    def Shutdown(self, request, context):
        threading.Thread(target=self.stop, daemon=True).start()
        return grpc_controller_pb2.Empty()


def watchdog(ppid):
    """Exits when the host is gone: the plugin has been re-parented."""
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:
            log("debug", "the host process is gone; exiting")
            os._exit(0)


def main():
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        sys.stderr.write("This is a goebm energy plugin. It is not meant to be run by hand:\n"
                         "name it in a run file's [energy] plugin = [...] and run ebm.\n")
        sys.exit(1)
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    if versions and str(PROTOCOL_MAJOR) not in versions.split(","):
        log("error", "the host speaks other protocol versions", host=versions, plugin=PROTOCOL_MAJOR)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host shuts plugins down itself
    threading.Thread(target=watchdog, args=(os.getppid(),), daemon=True).start()

    sock_dir = os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or tempfile.mkdtemp(prefix="goebm-py-")
    path = os.path.join(sock_dir, f"plugin-{os.getpid()}.sock")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
    ])

    def stop():
        time.sleep(0.02)  # let the Shutdown answer leave first
        server.stop(0)
        os._exit(0)

    pb_grpc.add_EnergyServicer_to_server(EnergyService(), server)
    health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(stop), server)
    server.add_insecure_port("unix:" + path)
    server.start()
    # CORE-PROTOCOL-VERSION | APP-PROTOCOL-VERSION | NETWORK | ADDRESS | PROTOCOL
    _handshake_out.write(f"1|{PROTOCOL_MAJOR}|unix|{path}|grpc\n")
    _handshake_out.flush()
    log("debug", "serving", address=path)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
