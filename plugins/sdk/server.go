package sdk

import (
	"context"
	"errors"
	"math/rand/v2"
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
	results  sync.Pool // *evalScratch
	smpMu    sync.Mutex
	smpCache map[string]*cachedSampler
}

type cachedSampler struct {
	mu sync.Mutex
	s  framework.Sampler
}

func newServer(e framework.Energy, entry *framework.Entry[framework.Energy], c *config) *server {
	s := &server{entry: entry, samplers: c.samplers, impl: c.implementation, log: c.logger, energy: e}
	if e != nil {
		s.spec = e.Spec()
	}
	s.results.New = func() any { return new(evalScratch) }
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
		MaxMessageBytes: wire.MaxMessageBytes,
		Implementation:  s.impl,
	}
	for _, name := range framework.Names(s.samplers) {
		resp.Samplers = append(resp.Samplers, name)
	}
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

// InitParams runs the energy's InitParams on the host's random words.
func (s *server) InitParams(_ context.Context, req *pb.InitParamsRequest) (*pb.InitParamsResponse, error) {
	e, spec, err := s.state()
	if err != nil {
		return nil, err
	}
	words, err := wire.Uint64s(req.RandomWords)
	if err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "random_words: %v", err)
	}
	src := &replay{words: words}
	theta := make([]float64, spec.NumParams())
	if err := e.InitParams(theta, rand.New(src)); err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_PANIC, "", "InitParams: %v", err)
	}
	return &pb.InitParamsResponse{Theta: wire.AppendFloats(nil, theta), WordsUsed: src.used}, nil
}

// Evaluate decodes the batch, computes the requested outputs with the energy itself (no
// chunking and no fallbacks: the host's Evaluator does those, so results match in-process
// evaluation bit for bit) and encodes them.
func (s *server) Evaluate(_ context.Context, req *pb.EvaluateRequest) (*pb.EvaluateResponse, error) {
	e, spec, err := s.state()
	if err != nil {
		return nil, err
	}
	out := framework.Output(req.Outputs)
	if out == 0 || out&^allOutputs != 0 {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "outputs %#x: want a non-empty subset of %#x", req.Outputs, uint32(allOutputs))
	}
	if missing := out &^ spec.Caps.Exact(); missing != 0 {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_UNIMPLEMENTED, "", "outputs [%s] are not among the energy's exact outputs [%s]", missing, spec.Caps.Exact())
	}
	d, p := spec.Dim, spec.NumParams()
	x, err := wire.Matrix("x", req.X, -1, d)
	if err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "%v", err)
	}
	n, _ := x.Dims()
	theta, err := s.thetas.get(req.Theta, p)
	if err != nil {
		return nil, err
	}
	fr := framework.Request{Outputs: out, X: x, Theta: theta, MixedSelf: req.MixedSelf}
	if len(req.Weights) > 0 {
		if fr.Weights, err = wire.Vector("weights", req.Weights, n); err != nil {
			return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "%v", err)
		}
	}
	if len(req.LapWeights) > 0 {
		if fr.LapWeights, err = wire.Vector("lap_weights", req.LapWeights, n); err != nil {
			return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "%v", err)
		}
	}
	if req.U != nil {
		if fr.U, err = wire.Matrix("u", req.U, n, d); err != nil {
			return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "%v", err)
		}
	}
	if req.V != nil || out.Has(framework.OutHVP) {
		if fr.V, err = wire.Matrix("v", req.V, n, d); err != nil {
			return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "%v", err)
		}
	}
	if err := fr.Validate(spec); err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "%v", err)
	}
	if n == 0 {
		return encodeResult(out, &framework.Result{ParamVJP: make([]float64, p), Mixed: make([]float64, p), LaplacianVJP: make([]float64, p),
			GradX: &mat.Dense{}, HVP: &mat.Dense{}, ParamJac: &mat.Dense{}}, 0, d), nil
	}
	sc := s.results.Get().(*evalScratch)
	defer s.results.Put(sc)
	res := &sc.res
	res.Reset(out, n, d, p)
	if err := framework.EvaluateChunk(e, spec.Caps, &fr, res, &sc.self); err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_FAILED, "", "Evaluate(%s; %d rows): %v", out, n, err)
	}
	return encodeResult(out, res, n, d), nil
}

// evalScratch is what one Evaluate call reuses from the last.
type evalScratch struct {
	res  framework.Result
	self framework.SelfScratch
}

// hostSpec is the spec the host sees: the energy's own, plus CapMixedSelf, because the SDK
// forms the mixed product's direction itself (framework.EvaluateChunk) when the energy does
// not, so a score-matching request still costs one round trip.
func hostSpec(spec framework.Spec) *pb.Spec {
	spec.Caps |= framework.CapMixedSelf
	return wire.ToSpec(spec)
}

func encodeResult(out framework.Output, res *framework.Result, n, d int) *pb.EvaluateResponse {
	resp := &pb.EvaluateResponse{}
	if out.Has(framework.OutEnergy) {
		resp.Energy = wire.AppendFloats(make([]byte, 0, 8*n), res.Energy)
	}
	if out.Has(framework.OutGradX) {
		resp.GradX = wire.Tensor(res.GradX)
		resp.GradX.Shape = []int64{int64(n), int64(d)}
	}
	if out.Has(framework.OutParamVJP) {
		resp.ParamVjp = wire.AppendFloats(nil, res.ParamVJP)
	}
	if out.Has(framework.OutMixed) {
		resp.Mixed = wire.AppendFloats(nil, res.Mixed)
	}
	if out.Has(framework.OutLaplacian) {
		resp.Laplacian = wire.AppendFloats(make([]byte, 0, 8*n), res.Laplacian)
	}
	if out.Has(framework.OutLaplacianVJP) {
		resp.LaplacianVjp = wire.AppendFloats(nil, res.LaplacianVJP)
	}
	if out.Has(framework.OutHVP) {
		resp.Hvp = wire.Tensor(res.HVP)
		resp.Hvp.Shape = []int64{int64(n), int64(d)}
	}
	if out.Has(framework.OutParamJac) {
		_, p := res.ParamJac.Dims()
		resp.ParamJac = wire.Tensor(res.ParamJac)
		resp.ParamJac.Shape = []int64{int64(n), int64(p)}
	}
	return resp
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
