package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Compile-time checks of what a plugin energy offers the host.
var (
	_ framework.Energy           = (*Energy)(nil)
	_ framework.Closer           = (*Energy)(nil)
	_ framework.SamplingEnergy   = (*Energy)(nil)
	_ framework.RoundTripCounter = (*Energy)(nil)
	_ framework.Sampler          = (*remoteSampler)(nil)
)

// Energy is a framework.Energy served by one or more plugin processes. It is safe for
// concurrent use: each Evaluate call goes to the least busy live process.
type Energy struct {
	cfg        Config
	label      string // the plugin as a person knows it, for errors and logs
	configJSON string
	desc       *pb.DescribeResponse
	wireSpec   *pb.Spec
	spec       framework.Spec // as the host presents it (linear and block-gibbs masked)
	limit      int            // bytes one request may carry

	slots    []*slot
	restarts atomic.Int64
	closed   atomic.Bool

	thetaMu    sync.Mutex
	theta      []float64
	thetaBytes []byte
	version    uint64

	roundTrips atomic.Int64
	remote     remoteCounts
	linear     linearCache
}

type slot struct {
	mu       sync.Mutex // held while (re)starting
	inst     atomic.Pointer[instance]
	inflight atomic.Int32
}

type remoteCounts struct {
	energyRows, gradRows atomic.Int64
}

// Open starts the plugin processes, validates cfg.Config against the plugin's schema,
// configures them and returns the energy. The caller must Close it. Configuration problems
// are *framework.KeyError values (joined when there are several), with keys relative to
// the [energy] table: "config.<key>", "sha256", "plugin", "instances".
func Open(c Config) (*Energy, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Energy{cfg: cfg, label: programLabel(cfg.Argv)}
	if cfg.Reattach != nil {
		e.label = "in-process"
	}
	if cfg.SHA256 != "" && cfg.Reattach == nil {
		if err := verifySHA256(cfg.Argv, cfg.SHA256); err != nil {
			return nil, err
		}
	}
	e.slots = make([]*slot, cfg.Instances)
	for i := range e.slots {
		e.slots[i] = &slot{}
	}
	// The first process says what the plugin is; the others must agree.
	first, err := e.startFirst()
	if err != nil {
		return nil, err
	}
	e.slots[0].inst.Store(first)
	errs := make([]error, len(e.slots))
	var wg sync.WaitGroup
	for i := 1; i < len(e.slots); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			inst, err := e.startConfigured()
			if err != nil {
				errs[i] = err
				return
			}
			e.slots[i].inst.Store(inst)
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// programLabel names a plugin by its program (and script, after an interpreter).
func programLabel(argv []string) string {
	if len(argv) == 0 {
		return "plugin"
	}
	l := filepath.Base(argv[0])
	if interpreter.MatchString(l) {
		for _, a := range argv[1:] {
			if !strings.HasPrefix(a, "-") {
				return l + " " + filepath.Base(a)
			}
		}
	}
	return l
}

func (e *Energy) errorf(inst *instance, request string, err error) *Error {
	pe := &Error{Plugin: e.label, Request: request, Err: err}
	if inst != nil {
		pe.PID = inst.pid
		pe.Stderr = inst.stderr.tail(errorTail)
	}
	return pe
}

// startFirst starts a process, describes the plugin, checks the configuration against its
// schema and configures it.
func (e *Energy) startFirst() (*instance, error) {
	inst, err := start(&e.cfg, e.label)
	if err != nil {
		return nil, e.errorf(inst, "start "+strings.Join(e.cfg.Argv, " "), err)
	}
	ctx := e.cfg.Env.Ctx()
	var desc *pb.DescribeResponse
	err = inst.call(ctx, e.cfg.CallTimeout, func(ctx context.Context) (err error) {
		desc, err = inst.rpc.Describe(ctx, &pb.DescribeRequest{HostProtocolMinor: wire.ProtocolMinor})
		return err
	})
	if err != nil {
		inst.kill()
		return nil, e.errorf(inst, "Describe", err)
	}
	if desc.ProtocolMajor != wire.ProtocolMajor {
		inst.kill()
		return nil, e.errorf(inst, "Describe", fmt.Errorf("the plugin reports protocol major %d in its handshake's place of %d", desc.ProtocolMajor, wire.ProtocolMajor))
	}
	if desc.ProtocolMinor < wire.MinPluginMinor {
		inst.kill()
		return nil, e.errorf(inst, "Describe", fmt.Errorf("the plugin speaks protocol 1.%d and this ebm needs 1.%d or later: upgrade the plugin", desc.ProtocolMinor, wire.MinPluginMinor))
	}
	e.desc = desc
	e.limit = wire.HostChunkBytes
	if m := desc.MaxMessageBytes; m > 0 && m < int64(e.limit) {
		e.limit = int(m)
	}
	if errs := wire.CheckConfig(e.cfg.Config, desc.ConfigSchema); len(errs) > 0 {
		inst.kill()
		return nil, configErrors(errs)
	}
	if e.configJSON, err = wire.ConfigJSON(e.cfg.Config); err != nil {
		inst.kill()
		return nil, configErrors([]error{err})
	}
	spec, err := e.configure(inst)
	if err != nil {
		inst.kill()
		return nil, err
	}
	e.wireSpec = spec
	if e.spec, err = wire.FromSpec(spec); err != nil {
		inst.kill()
		return nil, e.errorf(inst, "Configure", fmt.Errorf("invalid spec: %w", err))
	}
	// LinearEnergy and BlockGibbser cross the wire from protocol minor 1 on.
	if desc.ProtocolMinor < 1 {
		e.spec.Caps &^= framework.CapLinear | framework.CapBlockGibbs
	}
	if e.cfg.Env.Dim > 0 && e.spec.Dim != e.cfg.Env.Dim {
		inst.kill()
		return nil, e.errorf(inst, "Configure", fmt.Errorf("the energy has dimension %d but the data has %d columns", e.spec.Dim, e.cfg.Env.Dim))
	}
	e.label = e.spec.Name + " (" + e.label + ")"
	inst.stderr.setLabel(e.label)
	return inst, nil
}

// configure sends the configuration and returns the spec, or the plugin's diagnostics as
// KeyErrors.
func (e *Energy) configure(inst *instance) (*pb.Spec, error) {
	env := &pb.Env{Dim: int64(e.cfg.Env.Dim), Domain: pb.Domain(e.cfg.Env.Domain), Dir: e.cfg.Env.Dir}
	var resp *pb.ConfigureResponse
	err := inst.call(e.cfg.Env.Ctx(), e.cfg.CallTimeout, func(ctx context.Context) (err error) {
		resp, err = inst.rpc.Configure(ctx, &pb.ConfigureRequest{ConfigJson: e.configJSON, Env: env})
		return err
	})
	if err != nil {
		return nil, e.errorf(inst, "Configure", err)
	}
	var errs []error
	for _, d := range resp.Diagnostics {
		if d.Severity == pb.Diagnostic_SEVERITY_ERROR {
			errs = append(errs, &framework.KeyError{Key: d.Key, Msg: d.Message})
		} else {
			e.cfg.Logger.Warn(d.Message, "plugin", e.label, "key", "config."+d.Key)
		}
	}
	if len(errs) > 0 {
		return nil, configErrors(errs)
	}
	if resp.Spec == nil {
		return nil, e.errorf(inst, "Configure", fmt.Errorf("the plugin accepted the configuration but sent no spec"))
	}
	return resp.Spec, nil
}

// configErrors prefixes keys with "config." and joins the errors.
func configErrors(errs []error) error {
	out := make([]error, len(errs))
	for i, err := range errs {
		var ke *framework.KeyError
		if errors.As(err, &ke) {
			key := "config"
			if ke.Key != "" {
				key += "." + ke.Key
			}
			out[i] = &framework.KeyError{Key: key, Msg: ke.Msg}
		} else {
			out[i] = &framework.KeyError{Key: "config", Msg: err.Error()}
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// startConfigured starts another process of a described plugin and configures it; its spec
// must be the first one's.
func (e *Energy) startConfigured() (*instance, error) {
	if e.cfg.SHA256 != "" && e.cfg.Reattach == nil {
		if err := verifySHA256(e.cfg.Argv, e.cfg.SHA256); err != nil {
			return nil, err
		}
	}
	inst, err := start(&e.cfg, e.label)
	if err != nil {
		return nil, e.errorf(inst, "start "+strings.Join(e.cfg.Argv, " "), err)
	}
	spec, err := e.configure(inst)
	if err != nil {
		inst.kill()
		return nil, err
	}
	if !reflect.DeepEqual(normalizeSpec(spec), normalizeSpec(e.wireSpec)) {
		inst.kill()
		return nil, e.errorf(inst, "Configure", fmt.Errorf("this process describes a different energy than the first: %v, want %v", spec, e.wireSpec))
	}
	return inst, nil
}

func normalizeSpec(s *pb.Spec) framework.Spec {
	f, _ := wire.FromSpec(s)
	return f
}

// Spec implements framework.Energy.
func (e *Energy) Spec() framework.Spec { return e.spec }

// RoundTrips implements framework.RoundTripCounter: the requests sent to plugin processes.
func (e *Energy) RoundTrips() int64 { return e.roundTrips.Load() }

// PluginCounts returns the work done inside the plugins by plugin-side sampling, which the
// host's Evaluator does not see.
func (e *Energy) PluginCounts() framework.Counts {
	return framework.Counts{EnergyRows: e.remote.energyRows.Load(), GradRows: e.remote.gradRows.Load()}
}

// Describe returns what the plugin said about itself.
func (e *Energy) Describe() *pb.DescribeResponse { return e.desc }

// PIDs returns the process ids of the live plugin processes (0 for an empty slot).
func (e *Energy) PIDs() []int {
	out := make([]int, len(e.slots))
	for i, s := range e.slots {
		if in := s.inst.Load(); in != nil && !in.dead.Load() {
			out[i] = in.pid
		}
	}
	return out
}

// Close ends every plugin process. It is safe to call more than once.
func (e *Energy) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	var wg sync.WaitGroup
	for _, s := range e.slots {
		if in := s.inst.Load(); in != nil {
			wg.Add(1)
			go func() { defer wg.Done(); in.kill() }()
		}
	}
	wg.Wait()
	return nil
}

// acquire returns the least busy slot with a live process, restarting a dead one if it is
// the least busy. The caller must call release.
func (e *Energy) acquire() (*slot, *instance, error) {
	if e.closed.Load() {
		return nil, nil, ErrClosed
	}
	var best *slot
	for _, s := range e.slots {
		if best == nil || s.inflight.Load() < best.inflight.Load() {
			best = s
		}
	}
	best.inflight.Add(1)
	inst := best.inst.Load()
	if inst == nil || inst.dead.Load() || inst.exited() {
		var err error
		if inst, err = e.restart(best, inst); err != nil {
			best.inflight.Add(-1)
			return nil, nil, err
		}
	}
	return best, inst, nil
}

func (e *Energy) release(s *slot) { s.inflight.Add(-1) }

// restart replaces the dead process of a slot, unless another goroutine already has.
func (e *Energy) restart(s *slot, old *instance) (*instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.inst.Load(); cur != old && cur != nil && !cur.dead.Load() && !cur.exited() {
		return cur, nil
	}
	if old != nil {
		old.kill()
	}
	if e.cfg.Reattach != nil {
		return nil, e.errorf(old, "restart", errors.New("the plugin died and an attached plugin cannot be restarted"))
	}
	if n := e.restarts.Add(1); e.cfg.MaxRestarts < 0 || n > int64(e.cfg.MaxRestarts) {
		return nil, e.errorf(old, "restart", fmt.Errorf("the plugin died again after %d restarts; giving up", n-1))
	}
	inst, err := e.startConfigured()
	if err != nil {
		return nil, err
	}
	if e.closed.Load() {
		inst.kill()
		return nil, ErrClosed
	}
	e.cfg.Logger.Warn("plugin process restarted", "plugin", e.label, "pid", inst.pid)
	s.inst.Store(inst)
	return inst, nil
}

// failure classifies an RPC error.
type failure int

const (
	failOther  failure = iota
	failCrash          // the process died or its connection broke: restart, retry if idempotent
	failHang           // the call timed out: kill, restart, retry if idempotent
	failTheta          // the plugin lost θ: resend it
	failCancel         // the run's context was cancelled: stop at once
)

func (e *Energy) classify(err error, inst *instance) failure {
	if e.cfg.Env.Ctx().Err() != nil {
		return failCancel
	}
	if errors.Is(err, errDead) {
		return failCrash
	}
	if errors.Is(err, ErrThetaNotCached) {
		return failTheta
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled:
		return failCrash
	case codes.DeadlineExceeded:
		return failHang
	}
	if inst.exited() {
		return failCrash
	}
	return failOther
}

// do runs one request on a process. A process that dies or hangs (no answer within
// call_timeout) is killed and replaced, and an idempotent request is retried once on the new
// process; a second failure is the request's error. f gets the instance and whether to resend
// θ whatever the instance holds.
func (e *Energy) do(request string, idempotent bool, f func(ctx context.Context, inst *instance, resendTheta bool) error) error {
	retried, resend := false, false
	ctx := e.cfg.Env.Ctx()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("plugin %s, %s: %w", e.label, request, err)
		}
		s, inst, err := e.acquire()
		if err != nil {
			return err
		}
		err = inst.call(ctx, e.cfg.CallTimeout, func(ctx context.Context) error {
			return f(ctx, inst, resend)
		})
		e.release(s)
		e.roundTrips.Add(1)
		if err == nil {
			return nil
		}
		err = remoteError(err)
		var what error
		switch e.classify(err, inst) {
		case failCancel:
			return fmt.Errorf("plugin %s, %s: %w", e.label, request, ctx.Err())
		case failTheta:
			if !resend {
				resend = true
				continue
			}
			return e.errorf(inst, request, err)
		case failCrash:
			inst.waitExit(time.Second)
			inst.killNow()
			what = e.died(inst, err)
		case failHang:
			inst.killNow()
			what = fmt.Errorf("%w: no answer within call_timeout %v; the process was killed (%v)", ErrHung, e.cfg.CallTimeout, err)
		default:
			return e.errorf(inst, request, err)
		}
		e.cfg.Logger.Warn("plugin process failed", "plugin", e.label, "pid", inst.pid, "request", request, "error", what)
		if idempotent && !retried && !e.closed.Load() {
			retried, resend = true, true
			continue
		}
		perr := e.errorf(inst, request, what)
		if retried {
			perr.Err = fmt.Errorf("failed again on the retry, on a new process: %w", what)
		}
		return perr
	}
}

// died describes a process that died: its exit status when known.
func (e *Energy) died(inst *instance, err error) error {
	if st := inst.status(); st != "" {
		return fmt.Errorf("%w (%s): %v", ErrDied, st, err)
	}
	return fmt.Errorf("%w: %v", ErrDied, err)
}

// snapshotTheta returns the version of θ and its bytes, starting a new version when θ
// differs (bit for bit) from the last one sent.
func (e *Energy) snapshotTheta(theta []float64) (uint64, []byte) {
	e.thetaMu.Lock()
	defer e.thetaMu.Unlock()
	same := e.version != 0 && len(theta) == len(e.theta)
	if same {
		for i, v := range theta {
			if math.Float64bits(v) != math.Float64bits(e.theta[i]) {
				same = false
				break
			}
		}
	}
	if !same {
		e.theta = append(e.theta[:0], theta...)
		e.thetaBytes = wire.AppendFloats(make([]byte, 0, 8*len(theta)), theta)
		e.version++
	}
	return e.version, e.thetaBytes
}

// InitParams implements framework.Energy. The plugin draws its randomness from words that
// the host draws from rng, so θ₀ is the same bit for bit as the in-process energy's (rng
// advances by at least as many words as the energy uses).
func (e *Energy) InitParams(dst []float64, rng *rand.Rand) error {
	p := e.spec.NumParams()
	if len(dst) != p {
		return &framework.ShapeError{What: "θ", Want: fmt.Sprint(p), Got: fmt.Sprint(len(dst))}
	}
	words := make([]uint64, 2*p+64)
	for i := range words {
		words[i] = rng.Uint64()
	}
	for attempt := 0; attempt < 8; attempt++ {
		wordBytes := wire.AppendUint64s(nil, words)
		var theta []float64
		var used uint64
		err := e.do("InitParams", true, func(ctx context.Context, inst *instance, _ bool) (err error) {
			theta, used, err = e.initParams(ctx, inst, wordBytes, p)
			return err
		})
		if err != nil {
			return err
		}
		if used > uint64(len(words)) {
			for uint64(len(words)) < used {
				words = append(words, rng.Uint64())
			}
			continue
		}
		copy(dst, theta)
		if err := framework.FiniteVec("initial θ", "plugin "+e.label, dst); err != nil {
			return e.errorf(nil, "InitParams", err)
		}
		return nil
	}
	return e.errorf(nil, "InitParams", errors.New("the plugin kept asking for more random words"))
}

// initParams asks inst for θ₀ of p values from the words: inline, or (minor 1, too large)
// sent first in pieces, with θ₀ back in pieces.
func (e *Energy) initParams(ctx context.Context, inst *instance, words []byte, p int) ([]float64, uint64, error) {
	if e.desc.ProtocolMinor < 1 {
		resp, err := inst.rpc.InitParams(ctx, &pb.InitParamsRequest{RandomWords: words})
		if err != nil {
			return nil, 0, err
		}
		if resp.WordsUsed > uint64(len(words)/8) {
			return nil, resp.WordsUsed, nil
		}
		if len(resp.Theta) != 8*p {
			return nil, 0, &answerError{fmt.Errorf("θ has %d bytes, want 8·%d", len(resp.Theta), p)}
		}
		theta := make([]float64, p)
		wire.CopyFloats(theta, resp.Theta)
		return theta, resp.WordsUsed, nil
	}
	req := &pb.InitParamsRequest{RandomWords: words}
	if len(words)+4096 > e.limit {
		e.thetaMu.Lock()
		e.version++ // the words' version; the next θ takes a new one
		v := e.version
		e.theta = e.theta[:0]
		e.thetaMu.Unlock()
		if err := e.put(ctx, inst, v, words); err != nil {
			return nil, 0, err
		}
		req = &pb.InitParamsRequest{WordsVersion: v}
	}
	stream, err := inst.rpc.InitParamsStream(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	theta := make([]float64, p)
	got := 0
	var used uint64
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		used = resp.WordsUsed
		off := int(resp.ValueOffset)
		if len(resp.Theta)%8 != 0 || off < 0 || off+len(resp.Theta)/8 > p {
			return nil, 0, &answerError{fmt.Errorf("θ piece of %d bytes at %d does not fit %d values", len(resp.Theta), off, p)}
		}
		wire.CopyFloats(theta[off:off+len(resp.Theta)/8], resp.Theta)
		got += len(resp.Theta) / 8
	}
	if used > uint64(len(words)/8) {
		return nil, used, nil
	}
	if got != p {
		return nil, 0, &answerError{fmt.Errorf("θ has %d values, want %d", got, p)}
	}
	return theta, used, nil
}
