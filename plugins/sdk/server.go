package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/hashicorp/go-hclog"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// allOutputs is every output bit of framework.Output that the protocol carries.
const allOutputs = framework.OutEnergy | framework.OutGradX | framework.OutParamVJP | framework.OutMixed |
	framework.OutLaplacian | framework.OutLaplacianVJP | framework.OutHVP | framework.OutParamJac

// server implements pb.EnergyServer on a framework.Energy, or on an Entry that builds one
// from the configuration the host sends.
type server struct {
	pb.UnimplementedEnergyServer

	entry    *framework.Entry[framework.Energy] // nil when serving a fixed energy
	samplers map[string]framework.Entry[framework.Sampler]
	impl     string
	log      hclog.Logger

	mu     sync.RWMutex
	energy framework.Energy // nil until configured (for an entry)
	spec   framework.Spec
	env    framework.Env

	thetas   thetaCache
	limit    int // message limit in bytes
	smpMu    sync.Mutex
	smpCache map[string]*cachedSampler
}

type cachedSampler struct {
	mu sync.Mutex
	s  framework.Sampler
}

func newServer(e framework.Energy, entry *framework.Entry[framework.Energy], c *config) *server {
	s := &server{entry: entry, samplers: c.samplers, impl: c.implementation, log: c.logger, energy: e, limit: c.limit}
	if e != nil {
		s.spec = e.Spec()
	}
	return s
}

func (s *server) state() (framework.Energy, framework.Spec, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.energy == nil {
		return nil, framework.Spec{}, wire.Errorf(pb.ErrorReason_ERROR_REASON_NOT_CONFIGURED, "", "the plugin is not configured: call Configure first")
	}
	return s.energy, s.spec, nil
}

// Describe reports the protocol version, the config schema, the limits and, for a fixed
// energy, its spec.
func (s *server) Describe(_ context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	resp := &pb.DescribeResponse{
		ProtocolMajor:   wire.ProtocolMajor,
		ProtocolMinor:   wire.ProtocolMinor,
		MaxMessageBytes: int64(s.limit),
		Implementation:  s.impl,
	}
	resp.Samplers = append(resp.Samplers, framework.Names(s.samplers)...)
	if s.entry != nil && s.entry.Options != nil {
		schema, err := Schema(s.entry.Options())
		if err != nil {
			return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_PANIC, "", "config schema: %v", err)
		}
		resp.ConfigSchema = schema
	}
	if s.entry == nil {
		resp.Spec = hostSpec(s.spec)
	}
	return resp, nil
}

// Configure decodes the configuration into the entry's options and builds the energy. A
// fixed energy accepts only an empty configuration.
func (s *server) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	env := framework.Env{}
	if req.Env != nil {
		env = framework.Env{Dim: int(req.Env.Dim), Domain: framework.Domain(req.Env.Domain), Dir: req.Env.Dir}
	}
	var opts any
	if s.entry != nil && s.entry.Options != nil {
		opts = s.entry.Options()
	}
	if errs := DecodeConfig(req.ConfigJson, opts); len(errs) > 0 {
		return &pb.ConfigureResponse{Diagnostics: diagnostics(errs)}, nil
	}
	if s.entry == nil {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return &pb.ConfigureResponse{Spec: hostSpec(s.spec)}, nil
	}
	e, err := s.entry.New(opts, env)
	if err != nil {
		return &pb.ConfigureResponse{Diagnostics: diagnostics([]error{err})}, nil
	}
	spec := e.Spec()
	s.mu.Lock()
	s.energy, s.spec, s.env = e, spec, env
	s.mu.Unlock()
	s.thetas.reset()
	s.smpMu.Lock()
	s.smpCache = nil
	s.smpMu.Unlock()
	s.log.Debug("configured", "spec", wire.SpecString(spec))
	return &pb.ConfigureResponse{Spec: hostSpec(spec)}, nil
}

// initParams runs the energy's InitParams on the host's random words (inline, or sent by
// PutParams under words_version).
func (s *server) initParams(req *pb.InitParamsRequest) ([]float64, uint64, error) {
	e, spec, err := s.state()
	if err != nil {
		return nil, 0, err
	}
	var words []uint64
	if req.WordsVersion != 0 {
		v, err := s.thetas.get(&pb.Params{Version: req.WordsVersion}, -1)
		if err != nil {
			return nil, 0, err
		}
		words = make([]uint64, len(v))
		for i, f := range v {
			words[i] = math.Float64bits(f)
		}
	} else if words, err = wire.Uint64s(req.RandomWords); err != nil {
		return nil, 0, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "random_words", "random_words: %v", err)
	}
	src := &replay{words: words}
	theta := make([]float64, spec.NumParams())
	if err := e.InitParams(theta, rand.New(src)); err != nil {
		return nil, 0, wire.Errorf(pb.ErrorReason_ERROR_REASON_FAILED, "", "InitParams: %v", err)
	}
	return theta, src.used, nil
}

// InitParams answers θ₀ in one message.
func (s *server) InitParams(_ context.Context, req *pb.InitParamsRequest) (*pb.InitParamsResponse, error) {
	theta, used, err := s.initParams(req)
	if err != nil {
		return nil, err
	}
	return &pb.InitParamsResponse{Theta: wire.AppendFloats(nil, theta), WordsUsed: used}, nil
}

// InitParamsStream answers θ₀ in pieces within the message limit.
func (s *server) InitParamsStream(req *pb.InitParamsRequest, stream pb.Energy_InitParamsStreamServer) error {
	theta, used, err := s.initParams(req)
	if err != nil {
		return err
	}
	step := max(1, (s.limit-1024)/8)
	for lo := 0; lo == 0 || lo < len(theta); lo += step {
		hi := min(lo+step, len(theta))
		if err := stream.Send(&pb.InitParamsResponse{Theta: wire.AppendFloats(nil, theta[lo:hi]), WordsUsed: used, ValueOffset: int64(lo)}); err != nil {
			return err
		}
	}
	return nil
}

// request decodes an Evaluate request against the energy's spec.
func (s *server) request(req *pb.EvaluateRequest) (framework.Energy, framework.Spec, *framework.Request, error) {
	e, spec, err := s.state()
	if err != nil {
		return nil, spec, nil, err
	}
	out := framework.Output(req.Outputs)
	if out == 0 || out&^allOutputs != 0 {
		return nil, spec, nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "outputs", "outputs %#x: want a non-empty subset of %#x", req.Outputs, uint32(allOutputs))
	}
	if missing := out &^ spec.Caps.Exact(); missing != 0 {
		return nil, spec, nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_UNIMPLEMENTED, "outputs", "outputs [%s] are not among the energy's exact outputs [%s]", missing, spec.Caps.Exact())
	}
	bad := func(key string, err error) (framework.Energy, framework.Spec, *framework.Request, error) {
		return nil, spec, nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, key, "%v", err)
	}
	d, p := spec.Dim, spec.NumParams()
	x, err := wire.Matrix("x", req.X, -1, d)
	if err != nil {
		return bad("x", err)
	}
	n, _ := x.Dims()
	theta, err := s.thetas.get(req.Theta, p)
	if err != nil {
		return nil, spec, nil, err
	}
	fr := &framework.Request{Outputs: out, X: x, Theta: theta, MixedSelf: req.MixedSelf}
	if len(req.Weights) > 0 {
		if fr.Weights, err = wire.Vector("weights", req.Weights, n); err != nil {
			return bad("weights", err)
		}
	}
	if len(req.LapWeights) > 0 {
		if fr.LapWeights, err = wire.Vector("lap_weights", req.LapWeights, n); err != nil {
			return bad("lap_weights", err)
		}
	}
	if req.U != nil {
		if fr.U, err = wire.Matrix("u", req.U, n, d); err != nil {
			return bad("u", err)
		}
	}
	if req.V != nil || out.Has(framework.OutHVP) {
		if fr.V, err = wire.Matrix("v", req.V, n, d); err != nil {
			return bad("v", err)
		}
	}
	if err := fr.Validate(spec); err != nil {
		return bad("", err)
	}
	return e, spec, fr, nil
}

// answer evaluates a request in chunks of its chunk_rows (framework.EvaluateChunk on each,
// on up to GOMAXPROCS goroutines, θ-sized outputs summed in chunk order, or per chunk), as the
// host's Evaluator would in-process, so the bits are the same.
func (s *server) answer(req *pb.EvaluateRequest) ([]*pb.EvaluateResponse, error) {
	e, spec, fr, err := s.request(req)
	if err != nil {
		return nil, err
	}
	n, d := fr.X.Dims()
	var res framework.Result
	res.Reset(fr.Outputs&^(framework.OutParamVJP|framework.OutMixed|framework.OutLaplacianVJP), n, d, spec.NumParams())
	for _, m := range []**mat.Dense{&res.GradX, &res.HVP, &res.ParamJac} {
		if *m == nil {
			*m = &mat.Dense{}
		}
	}
	th, err := wire.Chunks(e, spec.Caps, fr, &res, int(req.ChunkRows), runtime.GOMAXPROCS(0), req.PerChunk)
	if err != nil {
		var pe *wire.PanicError
		if errors.As(err, &pe) {
			s.log.Error("panic in Evaluate", "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
			return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_PANIC, "", "Evaluate(%s; %d rows): %v", fr.Outputs, n, err)
		}
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_FAILED, "", "Evaluate(%s; %d rows): %v", fr.Outputs, n, err)
	}
	return wire.Pieces(fr.Outputs, &res, n, d, spec.NumParams(), th, s.limit), nil
}

// Evaluate answers in one message (protocol minor 0 hosts).
func (s *server) Evaluate(_ context.Context, req *pb.EvaluateRequest) (*pb.EvaluateResponse, error) {
	pieces, err := s.answer(req)
	if err != nil {
		return nil, err
	}
	if len(pieces) != 1 {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "the answer exceeds the message limit of %d bytes: ask with EvaluateStream", s.limit)
	}
	return pieces[0], nil
}

// EvaluateStream answers in pieces within the message limit.
func (s *server) EvaluateStream(req *pb.EvaluateRequest, stream pb.Energy_EvaluateStreamServer) error {
	pieces, err := s.answer(req)
	if err != nil {
		return err
	}
	for _, p := range pieces {
		if err := stream.Send(p); err != nil {
			return err
		}
	}
	return nil
}

// PutParams assembles a vector sent in pieces and keeps it under its version.
func (s *server) PutParams(stream pb.Energy_PutParamsServer) error {
	var buf []byte
	var version, total, got uint64
	for {
		piece, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if buf == nil {
			version, total = piece.Version, piece.Total
			if version == 0 || total%8 != 0 || total > 1<<40 {
				return wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "total", "version %d, total %d bytes: want a version ≠ 0 and a whole number of float64", version, total)
			}
			buf = make([]byte, total)
		}
		if piece.Version != version || piece.Total != total || piece.Offset+uint64(len(piece.Data)) > total {
			return wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "offset", "piece of version %d at %d+%d bytes does not fit version %d of %d bytes", piece.Version, piece.Offset, len(piece.Data), version, total)
		}
		copy(buf[piece.Offset:], piece.Data)
		got += uint64(len(piece.Data))
	}
	if buf == nil || got != total {
		return wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "total", "got %d of %d bytes", got, total)
	}
	theta := make([]float64, total/8)
	wire.CopyFloats(theta, buf)
	s.thetas.mu.Lock()
	s.thetas.put(version, theta)
	s.thetas.mu.Unlock()
	return stream.SendAndClose(&pb.PutParamsResponse{})
}

// hostSpec is the spec the host sees: the energy's own, plus CapMixedSelf, because the SDK
// forms the mixed product's direction itself (framework.EvaluateChunk) when the energy does
// not, so a score-matching request still costs one round trip.
func hostSpec(spec framework.Spec) *pb.Spec {
	spec.Caps |= framework.CapMixedSelf
	return wire.ToSpec(spec)
}

// Sample runs steps of a goebm sampler on the chains, inside the plugin.
func (s *server) Sample(_ context.Context, req *pb.SampleRequest) (*pb.SampleResponse, error) {
	e, spec, err := s.state()
	if err != nil {
		return nil, err
	}
	entry, ok := s.samplers[req.Sampler]
	if !ok {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_UNIMPLEMENTED, "", "sampler %q is not available in this plugin (it offers %v)", req.Sampler, framework.Names(s.samplers))
	}
	cs, err := s.sampler(req.Sampler, req.OptionsJson, entry, spec)
	if err != nil {
		return nil, err
	}
	x, err := wire.Matrix("x", req.X, -1, spec.Dim)
	if err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "%v", err)
	}
	chains, _ := x.Dims()
	x = mat.DenseCopyOf(x)
	seeds, err := wire.Uint64s(req.Seeds)
	if err != nil || len(seeds) != 2*chains {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "seeds has %d bytes, want 16 per chain (%d chains)", len(req.Seeds), chains)
	}
	theta, err := s.thetas.get(req.Theta, spec.NumParams())
	if err != nil {
		return nil, err
	}
	rngs := make([]*rand.Rand, chains)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(seeds[2*i], seeds[2*i+1]))
	}
	ev := framework.NewEvaluator(e)
	c := &framework.Chains{X: x, Theta: theta, Eval: ev, RNG: rngs, Adapt: req.Adapt}
	cs.mu.Lock()
	err = cs.s.Run(c, int(req.Steps))
	cs.mu.Unlock()
	if err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_FAILED, "", "sampler %s, %d steps on %d chains: %v", req.Sampler, req.Steps, chains, err)
	}
	counts := ev.Counts()
	resp := &pb.SampleResponse{X: wire.Tensor(c.X), Proposed: c.Proposed, Accepted: c.Accepted,
		EnergyRows: counts.EnergyRows, GradRows: counts.GradRows}
	if len(c.Energy) == chains {
		resp.Energy = wire.AppendFloats(nil, c.Energy)
	}
	return resp, nil
}

// sampler returns the cached sampler for (name, options), building it on first use. The
// cache keeps a sampler's adapted step size across Sample requests.
func (s *server) sampler(name, optsJSON string, entry framework.Entry[framework.Sampler], spec framework.Spec) (*cachedSampler, error) {
	key := name + "\x00" + optsJSON
	s.smpMu.Lock()
	defer s.smpMu.Unlock()
	if cs, ok := s.smpCache[key]; ok {
		return cs, nil
	}
	var opts any
	if entry.Options != nil {
		opts = entry.Options()
	}
	if errs := DecodeConfig(optsJSON, opts); len(errs) > 0 {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "sampler %s options: %v", name, errs[0])
	}
	smp, err := entry.New(opts, s.env)
	if err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "sampler %s: %v", name, err)
	}
	if err := smp.Supports(spec); err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_UNSUPPORTED, "", "sampler %s: %v", name, err)
	}
	if s.smpCache == nil {
		s.smpCache = map[string]*cachedSampler{}
	}
	cs := &cachedSampler{s: smp}
	s.smpCache[key] = cs
	return cs, nil
}

// diagnostics turns configuration errors into protocol diagnostics naming their keys.
func diagnostics(errs []error) []*pb.Diagnostic {
	out := make([]*pb.Diagnostic, 0, len(errs))
	for _, err := range errs {
		d := &pb.Diagnostic{Severity: pb.Diagnostic_SEVERITY_ERROR, Message: err.Error()}
		var ke *framework.KeyError
		if errors.As(err, &ke) {
			d.Key, d.Message = ke.Key, ke.Msg
		}
		out = append(out, d)
	}
	return out
}
