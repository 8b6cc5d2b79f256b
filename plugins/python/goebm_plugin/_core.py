"""The goebm plugin protocol (goebm.v1, minor 1) on top of an Energy class."""

import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from concurrent import futures

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_gen"))

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from goebm.v1 import goebm_pb2 as pb  # noqa: E402
from goebm.v1 import goebm_pb2_grpc as pb_grpc  # noqa: E402
from google.rpc import status_pb2  # noqa: E402
import grpc_controller_pb2  # noqa: E402
import grpc_controller_pb2_grpc  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402

from ._stdout import handshake_stream  # noqa: E402

COOKIE_KEY = "GOEBM_PLUGIN_MAGIC_COOKIE"
COOKIE_VALUE = "9a1e7c3f0b5d4e2a-goebm-energy"
PROTOCOL_MAJOR, PROTOCOL_MINOR = 1, 1
DEFAULT_MAX_MESSAGE = 256 << 20

# Output bits (framework.Output).
ENERGY, GRAD_X, PARAM_VJP, MIXED, LAPLACIAN, LAPLACIAN_VJP, HVP, PARAM_JAC = 1, 2, 4, 8, 16, 32, 64, 128
ALL_OUTPUTS = 255
FIRST_ORDER = ENERGY | GRAD_X | PARAM_VJP
_THETA_OUTPUTS = (("param_vjp", PARAM_VJP), ("mixed", MIXED), ("laplacian_vjp", LAPLACIAN_VJP))
_ROW_OUTPUTS = (("energy", ENERGY), ("laplacian", LAPLACIAN))
_MATRIX_OUTPUTS = (("grad_x", GRAD_X), ("hvp", HVP))  # n×d; param_jac is n×p

# Capability bits (framework.Capability).
CAP_MIXED, CAP_LAPLACIAN, CAP_HVP, CAP_MIXED_SELF, CAP_PARAM_JAC = 1, 2, 4, 32, 64

# Domains.
CONTINUOUS, BINARY, SPIN = 0, 1, 2

# Error reasons (goebm.v1.ErrorReason).
_BAD_REQUEST, _NOT_CONFIGURED, _THETA_NOT_CACHED, _UNIMPLEMENTED, _FAILED, _PANIC = 1, 2, 3, 4, 6, 7

_LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4}
_log_level = _LEVELS.get(os.environ.get("GOEBM_PLUGIN_LOG_LEVEL", "info").lower(), 2)
_log_lock = threading.Lock()
_module = "goebm-python"


def log(level, message, **kv):
    """Writes one hclog-shaped JSON line to stderr, which the host reads at its level."""
    if _LEVELS.get(level, 2) < _log_level:
        return
    entry = {"@level": level, "@message": message, "@module": _module,
             "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    entry.update(kv)
    line = json.dumps(entry, default=str) + "\n"
    with _log_lock:
        sys.stderr.write(line)
        sys.stderr.flush()


class Field:
    """One key of the plugin's [energy.config] table: its type ("bool", "int", "float",
    "string", or "[]T" of those), its default (None: required) and one line of help."""

    def __init__(self, type, default=None, help=""):
        self.type, self.default, self.help = type, default, help

    def accepts(self, v):
        t = self.type
        if t.startswith("[]"):
            return isinstance(v, list) and all(Field(t[2:]).accepts(e) for e in v)
        if t == "bool":
            return isinstance(v, bool)
        if t == "int":
            return isinstance(v, int) and not isinstance(v, bool)
        if t == "float":
            return isinstance(v, (int, float)) and not isinstance(v, bool)
        if t in ("string", "duration"):
            return isinstance(v, str)
        return True


class ConfigError(Exception):
    """Raised by Energy.configure for a bad value: the host shows it at [energy.config] key."""

    def __init__(self, key, message):
        super().__init__(message)
        self.key, self.message = key, message


class Env:
    """The run's environment: the data's dimension and domain, the run file's folder."""

    def __init__(self, dim=0, domain=CONTINUOUS, dir=""):
        self.dim, self.domain, self.dir = dim, domain, dir


class Random:
    """The host's random words, replayed: the same draws as goebm's *rand.Rand (math/rand/v2)
    makes in-process, so an initialiser written with it gives the built-in's bits."""

    def __init__(self, words):
        self._words = words
        self.used = 0

    def uint64(self):
        i = self.used
        self.used += 1
        return int(self._words[i]) if i < len(self._words) else 0

    def uint64s(self, n):
        """n words as a numpy uint64 array."""
        lo = self.used
        self.used += n
        out = np.zeros(n, dtype=np.uint64)
        have = self._words[lo:lo + n]
        out[:len(have)] = have
        return out

    def float64(self):
        """Go's Rand.Float64: the low 53 bits of a word over 2⁵³, in [0, 1)."""
        return (self.uint64() & ((1 << 53) - 1)) / float(1 << 53)

    def float64s(self, n):
        """n draws of float64, as an array."""
        return (self.uint64s(n) & np.uint64((1 << 53) - 1)).astype(np.float64) / float(1 << 53)


class Request:
    """One chunk of an Evaluate request, decoded: x (n×d), theta (p) and params (θ's blocks,
    as views by name), weights and lap_weights (n, ones when the host sent none), u and v (n×d
    or None) and mixed_self (0 unless the energy claims CAP_MIXED_SELF)."""

    def __init__(self, outputs, x, theta, params, weights, u, mixed_self, lap_weights, v):
        self.outputs, self.x, self.theta, self.params = outputs, x, theta, params
        self.weights, self.u, self.mixed_self, self.lap_weights, self.v = weights, u, mixed_self, lap_weights, v

    def wants(self, bit):
        return self.outputs & bit != 0


class Energy:
    """The class an author writes. Set name, schema (key → Field), capabilities (the exact
    outputs beyond the first order: CAP_MIXED, CAP_LAPLACIAN, CAP_HVP; CAP_MIXED_SELF if
    evaluate honours req.mixed_self), domain; implement configure, blocks, init_params and
    evaluate. A new instance is made for every Configure."""

    name = "python-energy"
    schema = {}
    capabilities = 0
    domain = CONTINUOUS
    implementation = "goebm Python SDK"
    dim = 0

    def configure(self, config, env):
        """Builds the energy from its [energy.config] values (every schema key, defaults
        filled in) and the run's Env; sets self.dim. Raise ConfigError for a bad value."""
        self.dim = env.dim

    def blocks(self):
        """θ's blocks in order: a list of (name, shape); θ is their row-major concatenation."""
        return []

    def init_params(self, rng):
        """Initial θ (length Σ block sizes), drawing randomness only from rng (Random)."""
        return np.zeros(self.num_params())

    def evaluate(self, req):
        """Returns a dict with an entry for each output req asks for: "energy" (n),
        "grad_x" (n×d), "param_vjp" (p: Σᵢ wᵢ∇θE(xᵢ)), "mixed" (p: ∇θ Σᵢ uᵢᵀ∇ₓE(xᵢ)),
        "laplacian" (n), "laplacian_vjp" (p) and "hvp" (n×d). The same request must give the
        same bits."""
        raise NotImplementedError

    def num_params(self):
        return int(sum(int(np.prod(s)) for _, s in self.blocks()))

    def split(self, theta):
        """θ's blocks by name, as views of theta."""
        out, off = {}, 0
        for name, shape in self.blocks():
            size = int(np.prod(shape))
            out[name] = theta[off:off + size].reshape(shape)
            off += size
        return out


class _Abort(Exception):
    def __init__(self, code, reason, message, key=""):
        super().__init__(message)
        self.code, self.reason, self.message, self.key = code, reason, message, key


def _bad(message, key=""):
    return _Abort(grpc.StatusCode.INVALID_ARGUMENT, _BAD_REQUEST, message, key)


def _le(a):
    return np.ascontiguousarray(a, dtype="<f8").tobytes()


def _matrix(what, t, rows, cols):
    if t is None or len(t.shape) != 2:
        raise _bad(f"{what} must be a rank-2 tensor", what)
    n, c = t.shape
    if (rows is not None and n != rows) or c != cols:
        raise _bad(f"{what} has shape {n}×{c}, want {rows if rows is not None else 'n'}×{cols}", what)
    if len(t.data) != 8 * n * c:
        raise _bad(f"{what} has {len(t.data)} bytes, want {8 * n * c}", what)
    return np.frombuffer(t.data, dtype="<f8").reshape(n, c)


def _vector(what, b, n):
    if len(b) != 8 * n:
        raise _bad(f"{what} has {len(b)} bytes, want {8 * n}", what)
    return np.frombuffer(b, dtype="<f8")


class _Service(pb_grpc.EnergyServicer):
    def __init__(self, factory, limit, exit_process):
        self.factory, self.limit, self.exit_process = factory, limit, exit_process
        self.lock = threading.Lock()
        self.energy = None
        self.spec = None
        self.thetas = {}  # version → θ, the last few

    # Every handler runs through _unary or _guard: an error becomes a status with a
    # goebm.v1.ErrorDetail; sys.exit ends the plugin after its answer; nothing escapes to kill a
    # gRPC worker thread (which the host would see as a hang).
    def _unary(self, context, f):
        try:
            return f()
        except BaseException as e:  # noqa: B036
            self._fail(context, e)

    def _guard(self, context, f, stream=True):
        try:
            yield from f()
        except GeneratorExit:
            raise
        except BaseException as e:  # noqa: B036
            self._fail(context, e)

    def _fail(self, context, e):
        if isinstance(e, _Abort):
            self._abort(context, e.code, e.reason, e.message, e.key)
        if isinstance(e, SystemExit):
            code = e.code if isinstance(e.code, int) else 1
            log("error", "the energy called sys.exit; the plugin exits", code=code)
            self.exit_process(code, after=0.2)
            self._abort(context, grpc.StatusCode.INTERNAL, _PANIC,
                        f"the plugin called sys.exit({e.code!r}) while serving this request; it exits (status {code})")
        tb = traceback.format_exc()
        log("error", "handler failed", error=str(e), traceback=tb)
        self._abort(context, grpc.StatusCode.INTERNAL, _PANIC, f"{type(e).__name__}: {e}\n{tb}")

    @staticmethod
    def _abort(context, code, reason, message, key=""):
        st = status_pb2.Status(code=code.value[0], message=message)
        st.details.add().Pack(pb.ErrorDetail(reason=reason, key=key))
        context.set_trailing_metadata((("grpc-status-details-bin", st.SerializeToString()),))
        context.abort(code, message)

    def Describe(self, request, context):
        def run():
            cls = self.factory if isinstance(self.factory, type) else type(self.factory)
            schema = [pb.ConfigField(key=k, type=f.type, default_json="" if f.default is None else json.dumps(f.default),
                                     help=f.help, required=f.default is None) for k, f in cls.schema.items()]
            return pb.DescribeResponse(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, config_schema=schema,
                                       max_message_bytes=self.limit, implementation=cls.implementation)
        return self._unary(context, run)

    def Configure(self, request, context):
        def run():
            cls = self.factory if isinstance(self.factory, type) else type(self.factory)
            try:
                cfg = json.loads(request.config_json or "{}")
            except ValueError as e:
                return pb.ConfigureResponse(diagnostics=[pb.Diagnostic(key="", message=f"not JSON: {e}")])
            if not isinstance(cfg, dict):
                return pb.ConfigureResponse(diagnostics=[pb.Diagnostic(key="", message="the configuration is not a table")])
            diags, values = [], {k: f.default for k, f in cls.schema.items()}
            for k, v in sorted(cfg.items()):
                f = cls.schema.get(k)
                if f is None:
                    accepted = ", ".join(cls.schema) or "none"
                    diags.append(pb.Diagnostic(key=k, message=f"unknown key; the plugin accepts {accepted}"))
                elif not f.accepts(v):
                    diags.append(pb.Diagnostic(key=k, message=f"want {f.type}, got {json.dumps(v)}"))
                else:
                    values[k] = float(v) if f.type == "float" else v
            for k, f in cls.schema.items():
                if values[k] is None and not any(d.key == k for d in diags):
                    diags.append(pb.Diagnostic(key=k, message=f"required key is missing: {f.help}"))
            if diags:
                return pb.ConfigureResponse(diagnostics=diags)
            env = Env(request.env.dim, request.env.domain, request.env.dir) if request.HasField("env") else Env()
            energy = self.factory() if isinstance(self.factory, type) else self.factory
            try:
                energy.configure(values, env)
            except ConfigError as e:
                return pb.ConfigureResponse(diagnostics=[pb.Diagnostic(key=e.key, message=e.message)])
            if energy.dim <= 0:
                return pb.ConfigureResponse(diagnostics=[pb.Diagnostic(key="", message="unknown dimension: give the plugin data (or --dim)")])
            if energy.domain != CONTINUOUS and request.HasField("env") and request.env.domain != energy.domain:
                return pb.ConfigureResponse(diagnostics=[pb.Diagnostic(key="", message="the data are not of the energy's domain")])
            spec = pb.Spec(name=energy.name, dim=energy.dim, domain=energy.domain,
                           blocks=[pb.Block(name=n, shape=list(s)) for n, s in energy.blocks()],
                           capabilities=(energy.capabilities & (CAP_MIXED | CAP_LAPLACIAN | CAP_HVP | CAP_PARAM_JAC)) | CAP_MIXED_SELF)
            with self.lock:
                self.energy, self.spec, self.thetas = energy, spec, {}
            log("debug", "configured", dim=energy.dim, params=energy.num_params())
            return pb.ConfigureResponse(spec=spec)
        return self._unary(context, run)

    def _configured(self):
        with self.lock:
            if self.energy is None:
                raise _Abort(grpc.StatusCode.FAILED_PRECONDITION, _NOT_CONFIGURED, "the plugin is not configured: call Configure first")
            return self.energy

    def _keep(self, version, theta):
        if version == 0:
            return
        with self.lock:
            self.thetas[version] = theta
            while len(self.thetas) > 4:
                self.thetas.pop(next(iter(self.thetas)))

    def _theta(self, params, p):
        if len(params.data) > 0 or p == 0:
            theta = _vector("theta", params.data, p).copy()
            self._keep(params.version, theta)
            return theta
        with self.lock:
            theta = self.thetas.get(params.version)
        if theta is None or params.version == 0:
            raise _Abort(grpc.StatusCode.FAILED_PRECONDITION, _THETA_NOT_CACHED, f"theta version {params.version} not cached", "theta")
        if p >= 0 and len(theta) != p:
            raise _bad(f"theta version {params.version} has {len(theta)} values, want {p}", "theta")
        return theta

    def PutParams(self, request_iterator, context):
        def run():
            buf, version, total, got = None, 0, 0, 0
            for piece in request_iterator:
                if buf is None:
                    version, total = piece.version, piece.total
                    if version == 0 or total % 8:
                        raise _bad(f"version {version}, total {total} bytes: want a version ≠ 0 and whole float64s", "total")
                    buf = bytearray(total)
                if piece.version != version or piece.total != total or piece.offset + len(piece.data) > total:
                    raise _bad("a piece does not fit the vector", "offset")
                buf[piece.offset:piece.offset + len(piece.data)] = piece.data
                got += len(piece.data)
            if buf is None or got != total:
                raise _bad(f"got {got} of {total} bytes", "total")
            self._keep(version, np.frombuffer(bytes(buf), dtype="<f8"))
            return pb.PutParamsResponse()
        return self._unary(context, run)

    def _init(self, request):
        e = self._configured()
        if request.words_version:
            words = self._theta(pb.Params(version=request.words_version), -1).view("<u8")
        else:
            if len(request.random_words) % 8:
                raise _bad("random_words is not a whole number of 64-bit words", "random_words")
            words = np.frombuffer(request.random_words, dtype="<u8")
        rng = Random(words)
        theta = np.ascontiguousarray(e.init_params(rng), dtype=np.float64).reshape(-1)
        if rng.used > len(words):
            return None, rng.used
        if theta.shape[0] != e.num_params():
            raise _Abort(grpc.StatusCode.INTERNAL, _PANIC, f"init_params returned {theta.shape[0]} values, want {e.num_params()}")
        return theta, rng.used

    def InitParams(self, request, context):
        def run():
            theta, used = self._init(request)
            return pb.InitParamsResponse(theta=b"" if theta is None else _le(theta), words_used=used)
        return self._unary(context, run)

    def InitParamsStream(self, request, context):
        def run():
            theta, used = self._init(request)
            if theta is None:
                yield pb.InitParamsResponse(words_used=used)
                return
            step = max(1, (self.limit - 1024) // 8)
            for lo in range(0, max(len(theta), 1), step):
                yield pb.InitParamsResponse(theta=_le(theta[lo:lo + step]), words_used=used, value_offset=lo)
        return self._guard(context, run)

    def _answer(self, request):
        """Evaluates a request in the host's chunks and returns (outputs, n, d, per-row
        arrays, θ-sized arrays): θ-sized outputs summed over the chunks in order, or per chunk."""
        e = self._configured()
        spec = self.spec
        out = request.outputs
        if out == 0 or out & ~ALL_OUTPUTS:
            raise _bad(f"outputs {out:#x}: want a non-empty subset of {ALL_OUTPUTS:#x}", "outputs")
        exact = FIRST_ORDER
        if spec.capabilities & CAP_MIXED:
            exact |= MIXED
        if spec.capabilities & CAP_LAPLACIAN:
            exact |= LAPLACIAN | LAPLACIAN_VJP
        if spec.capabilities & CAP_HVP:
            exact |= HVP
        if spec.capabilities & CAP_PARAM_JAC:
            exact |= PARAM_JAC
        if out & ~exact:
            raise _Abort(grpc.StatusCode.UNIMPLEMENTED, _UNIMPLEMENTED, f"outputs {out & ~exact:#x} are not among the energy's exact outputs {exact:#x}", "outputs")
        d, p = e.dim, e.num_params()
        x = _matrix("x", request.x if request.HasField("x") else None, None, d)
        n = x.shape[0]
        theta = self._theta(request.theta, p)
        w = _vector("weights", request.weights, n) if request.weights else np.ones(n)
        lw = _vector("lap_weights", request.lap_weights, n) if request.lap_weights else np.ones(n)
        u = _matrix("u", request.u, n, d) if request.HasField("u") else None
        v = _matrix("v", request.v if request.HasField("v") else None, n, d) if out & HVP else None
        chunk = request.chunk_rows if 0 < request.chunk_rows < n else max(n, 1)
        rows = {k: np.empty(n) for k, b in _ROW_OUTPUTS if out & b}
        rows.update({k: np.empty((n, d)) for k, b in _MATRIX_OUTPUTS if out & b})
        if out & PARAM_JAC:
            rows["param_jac"] = np.empty((n, p))
        per = {k: [] for k, b in _THETA_OUTPUTS if out & b}
        params = e.split(theta)
        for lo in range(0, n, chunk):
            hi = min(lo + chunk, n)
            res = self._chunk(e, out, x[lo:hi], theta, params, w[lo:hi], None if u is None else u[lo:hi],
                              request.mixed_self, lw[lo:hi], None if v is None else v[lo:hi], d, p)
            for k in rows:
                rows[k][lo:hi] = res[k]
            for k in per:
                per[k].append(res[k])
        theta_out = {}
        for k, chunks in per.items():
            if request.per_chunk:
                theta_out[k] = np.concatenate(chunks) if chunks else np.zeros(0)
            else:
                acc = np.zeros(p)
                for c in chunks:  # in chunk order, from zero: the host's Evaluator's order
                    acc += c
                theta_out[k] = acc
        return out, n, d, p, rows, theta_out

    def _chunk(self, e, out, x, theta, params, w, u, ms, lw, v, d, p):
        """One chunk through the energy; without CAP_MIXED_SELF a mixed product with
        mixed_self ≠ 0 takes two passes: ∇ₓE first, then the product along u + mixed_self·∇ₓE."""
        m = x.shape[0]
        if out & MIXED and ms != 0 and not e.capabilities & CAP_MIXED_SELF:
            first = self._call(e, (out & ~MIXED) | GRAD_X, x, theta, params, w, None, 0.0, lw, v, m, d, p)
            uu = (np.zeros((m, d)) if u is None else u) + ms * first["grad_x"]
            first.update(self._call(e, MIXED, x, theta, params, w, uu, 0.0, lw, v, m, d, p))
            return first
        if not e.capabilities & CAP_MIXED_SELF:
            ms = 0.0
        return self._call(e, out, x, theta, params, w, u, ms, lw, v, m, d, p)

    @staticmethod
    def _call(e, out, x, theta, params, w, u, ms, lw, v, m, d, p):
        res = e.evaluate(Request(out, x, theta, params, w, u, ms, lw, v))
        got = {}
        for k, b, shape in (("energy", ENERGY, (m,)), ("grad_x", GRAD_X, (m, d)), ("param_vjp", PARAM_VJP, (p,)),
                            ("mixed", MIXED, (p,)), ("laplacian", LAPLACIAN, (m,)), ("laplacian_vjp", LAPLACIAN_VJP, (p,)),
                            ("hvp", HVP, (m, d)), ("param_jac", PARAM_JAC, (m, p))):
            if out & b:
                if k not in res:
                    raise _Abort(grpc.StatusCode.INTERNAL, _PANIC, f"evaluate returned no {k!r}, which the request asks for")
                a = np.asarray(res[k], dtype=np.float64)
                if a.shape != shape:
                    raise _Abort(grpc.StatusCode.INTERNAL, _PANIC, f"evaluate returned {k!r} of shape {a.shape}, want {shape}")
                got[k] = a
        return got

    def _pieces(self, out, n, d, p, rows, theta_out):
        per_row = sum(8 for k, b in _ROW_OUTPUTS if out & b) + sum(8 * d for k, b in _MATRIX_OUTPUTS if out & b)
        if out & PARAM_JAC:
            per_row += 8 * p
        total = per_row * n + sum(8 * len(a) for a in theta_out.values())
        budget = self.limit - 1024

        def rows_piece(lo, hi, with_theta):
            r = pb.EvaluateResponse(row_offset=lo)
            for k, b in _ROW_OUTPUTS:
                if out & b:
                    setattr(r, k, _le(rows[k][lo:hi]))
            for k, b in _MATRIX_OUTPUTS:
                if out & b:
                    getattr(r, k).CopyFrom(pb.Tensor(shape=[hi - lo, d], data=_le(rows[k][lo:hi])))
            if out & PARAM_JAC:
                r.param_jac.CopyFrom(pb.Tensor(shape=[hi - lo, p], data=_le(rows["param_jac"][lo:hi])))
            if with_theta:
                for k, a in theta_out.items():
                    setattr(r, k, _le(a))
            return r

        if total <= budget:
            yield rows_piece(0, n, True)
            return
        if per_row:
            step = max(1, budget // per_row)
            for lo in range(0, n, step):
                yield rows_piece(lo, min(lo + step, n), False)
        step = max(1, budget // 8)
        for k, a in theta_out.items():
            for lo in range(0, len(a), step):
                r = pb.EvaluateResponse(value_offset=lo)
                setattr(r, k, _le(a[lo:lo + step]))
                yield r

    def Evaluate(self, request, context):
        def run():
            pieces = list(self._pieces(*self._answer(request)))
            if len(pieces) != 1:
                raise _bad(f"the answer exceeds the message limit of {self.limit} bytes: ask with EvaluateStream")
            return pieces[0]
        return self._unary(context, run)

    def EvaluateStream(self, request, context):
        def run():
            yield from self._pieces(*self._answer(request))
        return self._guard(context, run)


class _Health(health_pb2_grpc.HealthServicer):
    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


class _Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
    def __init__(self, stop):
        self.stop = stop

    def Shutdown(self, request, context):
        self.stop(0, after=0.02)  # let the answer leave first
        return grpc_controller_pb2.Empty()


def serve(energy, max_message_bytes=DEFAULT_MAX_MESSAGE, workers=4):
    """Serves energy (an Energy subclass, instantiated at every Configure, or an instance) as a
    goebm plugin, and never returns: the process ends when the host shuts it down, when it is
    signalled (SIGTERM), when the energy calls sys.exit, or when the host is gone."""
    global _module
    cls = energy if isinstance(energy, type) else type(energy)
    _module = cls.name
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        sys.stderr.write("This is a goebm energy plugin. It is not meant to be run by hand:\n"
                         "name it in a run file's [energy] plugin = [...] and run ebm.\n")
        sys.exit(1)
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    if versions and str(PROTOCOL_MAJOR) not in versions.split(","):
        log("error", "the host speaks other protocol versions", host=versions, plugin=PROTOCOL_MAJOR)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host shuts plugins down itself

    sock_dir = os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or tempfile.mkdtemp(prefix="goebm-py-")
    path = os.path.join(sock_dir, f"plugin-{os.getpid()}.sock")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=[
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ])
    exiting = threading.Lock()

    def exit_process(code, after=0.0):
        """Stops serving, ends the plugin's own children (its process group, when it leads one)
        and exits with code, after `after` seconds so that a last answer can leave."""
        def run():
            if not exiting.acquire(blocking=False):
                return
            time.sleep(after)
            if os.getpgrp() == os.getpid():
                # Our own SIGTERM handler finds the exit under way and does nothing.
                try:
                    os.killpg(os.getpid(), signal.SIGTERM)
                except OSError:
                    pass
            os._exit(code)
        threading.Thread(target=run, daemon=True).start()

    signal.signal(signal.SIGTERM, lambda *_: exit_process(0))
    ppid = os.getppid()

    def watchdog():
        while True:
            time.sleep(0.5)
            if os.getppid() != ppid:
                log("debug", "the host process is gone; exiting")
                exit_process(0)

    threading.Thread(target=watchdog, daemon=True).start()
    pb_grpc.add_EnergyServicer_to_server(_Service(energy, max_message_bytes, exit_process), server)
    health_pb2_grpc.add_HealthServicer_to_server(_Health(), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(_Controller(exit_process), server)
    server.add_insecure_port("unix:" + path)
    server.start()
    # CORE-PROTOCOL-VERSION | APP-PROTOCOL-VERSION | NETWORK | ADDRESS | PROTOCOL
    handshake_stream.write(f"1|{PROTOCOL_MAJOR}|unix|{path}|grpc\n")
    handshake_stream.flush()
    log("debug", "serving", address=path)
    while True:  # the main thread waits; exit_process ends the process
        time.sleep(3600)
