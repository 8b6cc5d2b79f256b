package trainers

// Contrastive divergence (Hinton 2002) and persistent contrastive divergence (Tieleman
// 2008), methods "cd" and "pcd".
//
// Loss. The negative log-likelihood of p(x; θ) = exp(−E(x; θ))/Z(θ) has the gradient
//
//	∇θ NLL = E_data[∇θE(x)] − E_model[∇θE(x)],
//
// and CD estimates the model term with samples x̃ⱼ from an MCMC sampler, treated as
// constants. On a batch of n data rows and m samples the trainer minimises the surrogate
//
//	L(θ) = (1/n) Σᵢ E(xᵢ) − (1/m) Σⱼ E(x̃ⱼ) + α[(1/n) Σᵢ E(xᵢ)² + (1/m) Σⱼ E(x̃ⱼ)²],
//
// whose θ-gradient, samples held fixed, is the estimate above plus the optional penalty on
// energy magnitudes (energy_l2 = α; Du and Mordatch 2019 use it to keep E near zero). L is
// not a likelihood: its value says how much lower the data sit than the samples, not how
// good the model is.
//
// Gradient in one request. The batch and the samples are stacked, [x; x̃], and one request
// asks for E and the parameter VJP Σₖ wₖ∇θE with wᵢ = +1/n on data and wⱼ = −1/m on samples.
// With α > 0 the weights depend on the energies, (±1 + 2αEₖ)/(n or m), so a first request
// asks for E and a second for the VJP.
//
// Samples. cd starts one chain at each data row and runs k steps of the run's [sampler]
// (Hinton's CD-k); for rbm with [sampler] method = "gibbs", block = true this is the classic
// CD-k with block Gibbs. pcd keeps a buffer of m chains across steps (m = chains, or the
// batch size when 0), started from init, and runs k sampler steps from where the previous
// step left them; before the sampler runs, each chain is re-initialised from init with
// probability reinit (Du and Mordatch's replay buffer keeps 95%, i.e. reinit = 0.05).
// Chain i draws all its randomness from stream i of component "cd" or "pcd", so a run is
// the same whatever the number of workers.
//
// Validation (Step with grad = nil) leaves the trainer's state alone: pcd evaluates L
// against the current buffer without moving it, cd samples from the batch with streams
// seeded from the step's own random source.
//
// State. A pcd trainer's buffer and both trainers' chain streams are its state: they are
// saved and restored by MarshalBinary and UnmarshalBinary (framework.Stateful), so a resumed
// run continues bit for bit; Chains returns the buffer.
//
// References: G. E. Hinton, "Training products of experts by minimizing contrastive
// divergence", Neural Computation 14 (2002) 1771–1800; T. Tieleman, "Training restricted
// Boltzmann machines using approximations to the likelihood gradient", ICML 2008;
// Y. Du and I. Mordatch, "Implicit generation and modeling with energy based models",
// NeurIPS 2019.

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goebm/goebm/internal/binstate"
	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
)

// CDOptions are the [trainer] keys of method "cd".
type CDOptions struct {
	K        int     `toml:"k" help:"sampler steps from each data row (CD-k)"`
	EnergyL2 float64 `toml:"energy_l2" help:"weight α of the penalty α·(mean E(data)² + mean E(samples)²) on energy magnitudes (0 = off)"`
}

// DefaultCDOptions returns the defaults of the cd trainer.
func DefaultCDOptions() CDOptions { return CDOptions{K: 1} }

// Validate checks the option values.
func (o *CDOptions) Validate() error {
	if o.K < 1 {
		return &framework.KeyError{Key: "k", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.K)}
	}
	return validEnergyL2(o.EnergyL2)
}

func validEnergyL2(a float64) error {
	if !(a >= 0) || math.IsInf(a, 0) {
		return &framework.KeyError{Key: "energy_l2", Msg: fmt.Sprintf("must be a finite number ≥ 0, got %v", a)}
	}
	return nil
}

// PCDOptions are the [trainer] keys of method "pcd".
type PCDOptions struct {
	K         int     `toml:"k" help:"sampler steps per training step"`
	Chains    int     `toml:"chains" help:"persistent chains (0 = the batch size)"`
	Init      string  `toml:"init" help:"initial and re-initialised states: uniform (on [init_low, init_high], or uniform bits/spins), normal, or data"`
	InitLow   float64 `toml:"init_low" help:"lower end of the uniform initial box"`
	InitHigh  float64 `toml:"init_high" help:"upper end of the uniform initial box"`
	InitScale float64 `toml:"init_scale" help:"standard deviation of normal initial states"`
	Reinit    float64 `toml:"reinit" help:"probability that a chain restarts from init before each training step (replay buffer; 0 = never)"`
	EnergyL2  float64 `toml:"energy_l2" help:"weight α of the penalty α·(mean E(data)² + mean E(samples)²) on energy magnitudes (0 = off)"`
}

// DefaultPCDOptions returns the defaults of the pcd trainer.
func DefaultPCDOptions() PCDOptions {
	return PCDOptions{K: 1, Init: "uniform", InitLow: -1, InitHigh: 1, InitScale: 1}
}

// Validate checks the option values.
func (o *PCDOptions) Validate() error {
	switch {
	case o.K < 1:
		return &framework.KeyError{Key: "k", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.K)}
	case o.Chains < 0:
		return &framework.KeyError{Key: "chains", Msg: fmt.Sprintf("must be ≥ 0 (0 = the batch size), got %d", o.Chains)}
	case o.Init != "uniform" && o.Init != "normal" && o.Init != "data":
		return &framework.KeyError{Key: "init", Msg: fmt.Sprintf("%q: want \"uniform\", \"normal\" or \"data\"", o.Init)}
	case math.IsNaN(o.InitLow) || math.IsInf(o.InitLow, 0):
		return &framework.KeyError{Key: "init_low", Msg: fmt.Sprintf("must be finite, got %v", o.InitLow)}
	case !(o.InitHigh >= o.InitLow) || math.IsInf(o.InitHigh, 0):
		return &framework.KeyError{Key: "init_high", Msg: fmt.Sprintf("must be finite and ≥ init_low (%v), got %v", o.InitLow, o.InitHigh)}
	case !(o.InitScale >= 0) || math.IsInf(o.InitScale, 0):
		return &framework.KeyError{Key: "init_scale", Msg: fmt.Sprintf("must be a finite number ≥ 0, got %v", o.InitScale)}
	case !(o.Reinit >= 0 && o.Reinit <= 1):
		return &framework.KeyError{Key: "reinit", Msg: fmt.Sprintf("must be a probability in [0, 1], got %v", o.Reinit)}
	}
	return validEnergyL2(o.EnergyL2)
}

func registerCD(r *framework.Registry) {
	r.Trainers["cd"] = framework.NewEntry("cd", "contrastive divergence: k steps of the [sampler] from each data row; loss mean E(data) − mean E(samples)", DefaultCDOptions,
		func(o CDOptions, _ framework.Env) (framework.Trainer, error) { return NewCD(o) })
	r.Trainers["pcd"] = framework.NewEntry("pcd", "persistent contrastive divergence: a buffer of chains kept across steps, advanced k steps of the [sampler] per step, with optional re-initialisation", DefaultPCDOptions,
		func(o PCDOptions, _ framework.Env) (framework.Trainer, error) { return NewPCD(o) })
}

// ContrastiveDivergence is the cd and pcd trainer. It keeps its chains and workspaces
// between steps, so it is not safe for concurrent use.
type ContrastiveDivergence struct {
	method     string // "cd" or "pcd"
	persistent bool
	k          int
	alpha      float64
	chains     int // pcd: requested buffer size, 0 = batch size
	reinit     float64
	init       samplers.Init

	spec    framework.Spec
	sampler framework.Sampler
	streams framework.Streams
	pcgs    []*rand.PCG // chain streams, grown on demand
	rngs    []*rand.Rand

	buf   *mat.Dense // pcd: the persistent chains; cd: the chains of the current step
	c     framework.Chains
	stack *mat.Dense
	w     []float64
	req   framework.Request
	res   framework.Result
}

// NewCD returns a cd trainer.
func NewCD(o CDOptions) (*ContrastiveDivergence, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("cd: %w", err)
	}
	return &ContrastiveDivergence{method: "cd", k: o.K, alpha: o.EnergyL2}, nil
}

// NewPCD returns a pcd trainer.
func NewPCD(o PCDOptions) (*ContrastiveDivergence, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("pcd: %w", err)
	}
	return &ContrastiveDivergence{method: "pcd", persistent: true, k: o.K, alpha: o.EnergyL2,
		chains: o.Chains, reinit: o.Reinit,
		init: samplers.Init{Kind: o.Init, Scale: o.InitScale, Low: o.InitLow, High: o.InitHigh}}, nil
}

// Init takes the run's sampler and checks that it fits the energy.
func (t *ContrastiveDivergence) Init(ctx *framework.TrainContext) error {
	t.spec = ctx.Eval.Spec()
	if ctx.Sampler == nil {
		return fmt.Errorf("%s: needs a sampler for its negative samples: add a [sampler] table (method = \"gibbs\" for binary or spin data, \"ula\", \"mala\", \"annealed\" or \"hmc\" for continuous data)", t.method)
	}
	if err := ctx.Sampler.Supports(t.spec); err != nil {
		return fmt.Errorf("%s: the [sampler] does not fit energy %s: %w", t.method, t.spec.Name, err)
	}
	t.sampler = ctx.Sampler
	t.streams = ctx.Streams
	if t.persistent {
		t.init.Domain, t.init.Dim, t.init.Data = t.spec.Domain, t.spec.Dim, ctx.Train
		if err := t.init.Check(); err != nil {
			return fmt.Errorf("pcd: %w", err)
		}
	}
	return nil
}

// Chains returns the persistent chains of pcd (nil before the first step, and for cd the
// chains of the last step). The matrix is the trainer's own; do not modify it.
func (t *ContrastiveDivergence) Chains() *mat.Dense { return t.buf }

// bufferRows returns the number of persistent chains: the existing buffer's, else the
// chains option, else the batch size n.
func (t *ContrastiveDivergence) bufferRows(n int) int {
	switch {
	case t.buf != nil:
		m, _ := t.buf.Dims()
		return m
	case t.chains > 0:
		return t.chains
	}
	return n
}

// streamsFor makes sure chain streams 0..n−1 exist and returns them.
func (t *ContrastiveDivergence) streamsFor(n int) []*rand.Rand {
	for i := len(t.pcgs); i < n; i++ {
		p := t.streams.PCG(t.method, uint64(i))
		t.pcgs = append(t.pcgs, p)
		t.rngs = append(t.rngs, rand.New(p))
	}
	return t.rngs[:n]
}

// Step returns L at θ for the batch and, when grad is not nil, its gradient. With grad nil
// (validation) it changes no state of the trainer.
func (t *ContrastiveDivergence) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	if t.sampler == nil {
		return 0, fmt.Errorf("%s: Step before Init", t.method)
	}
	if err := checkStep(t.method, batch, t.spec.Dim, theta, grad, t.spec.NumParams()); err != nil {
		return 0, err
	}
	n, d := batch.Dims()
	var samples *mat.Dense
	switch {
	case grad == nil:
		// Validation: chains of their own, with streams seeded from the step's random
		// source; pcd scores the current buffer as it is (or a fresh one before the first
		// training step).
		var seed uint64
		if ctx.RNG != nil {
			seed = ctx.RNG.Uint64()
		}
		valid := framework.Streams{Seed: seed}
		switch {
		case t.persistent && t.buf != nil:
			samples = t.buf
		case t.persistent:
			samples = mat.NewDense(t.bufferRows(n), d, nil)
			t.init.Fill(samples, valid.Rands(t.method+"-valid", t.bufferRows(n)))
		default:
			samples = mat.DenseCopyOf(batch)
			if err := t.run(ctx.Eval, samples, theta, valid.Rands(t.method+"-valid", n)); err != nil {
				return 0, err
			}
		}
	case t.persistent:
		m := t.bufferRows(n)
		rngs := t.streamsFor(m)
		if t.buf == nil {
			t.buf = mat.NewDense(m, d, nil)
			t.init.Fill(t.buf, rngs)
		}
		if t.reinit > 0 {
			for i := 0; i < m; i++ {
				if rngs[i].Float64() < t.reinit {
					t.init.Row(t.buf.RawRowView(i), rngs[i])
				}
			}
		}
		if err := t.run(ctx.Eval, t.buf, theta, rngs); err != nil {
			return 0, err
		}
		samples = t.buf
	default:
		t.buf = numeric.ResizeDense(t.buf, n, d)
		t.buf.Copy(batch)
		if err := t.run(ctx.Eval, t.buf, theta, t.streamsFor(n)); err != nil {
			return 0, err
		}
		samples = t.buf
	}
	return t.loss(ctx.Eval, batch, samples, theta, grad)
}

// run advances the chains x by k sampler steps.
func (t *ContrastiveDivergence) run(ev *framework.Evaluator, x *mat.Dense, theta []float64, rngs []*rand.Rand) error {
	t.c.X, t.c.Theta, t.c.Eval, t.c.RNG, t.c.Adapt = x, theta, ev, rngs, false
	if err := t.sampler.Run(&t.c, t.k); err != nil {
		return fmt.Errorf("%s: sampler: %w", t.method, err)
	}
	return nil
}

// loss evaluates L on the stacked batch [data; samples] and, when grad is not nil, its
// gradient through one ParamVJP request (two with the energy penalty).
func (t *ContrastiveDivergence) loss(ev *framework.Evaluator, data, samples *mat.Dense, theta, grad []float64) (float64, error) {
	n, d := data.Dims()
	m, _ := samples.Dims()
	t.stack = numeric.ResizeDense(t.stack, n+m, d)
	for i := 0; i < n; i++ {
		copy(t.stack.RawRowView(i), data.RawRowView(i))
	}
	for i := 0; i < m; i++ {
		copy(t.stack.RawRowView(n+i), samples.RawRowView(i))
	}
	fn, fm := float64(n), float64(m)
	t.w = numeric.Resize(t.w, n+m)
	for i := range t.w {
		if i < n {
			t.w[i] = 1 / fn
		} else {
			t.w[i] = -1 / fm
		}
	}
	out := framework.OutEnergy
	if grad != nil && t.alpha == 0 {
		out |= framework.OutParamVJP
	}
	t.req = framework.Request{Outputs: out, X: t.stack, Theta: theta, Weights: t.w}
	if err := ev.Evaluate(&t.req, &t.res); err != nil {
		return 0, fmt.Errorf("%s: %w", t.method, err)
	}
	loss := 0.0
	for i, e := range t.res.Energy {
		loss += t.w[i] * e
		if t.alpha > 0 {
			loss += t.alpha * math.Abs(t.w[i]) * e * e
		}
	}
	if grad == nil {
		return loss, nil
	}
	if t.alpha > 0 {
		// ∂L/∂Eₖ = wₖ + 2α|wₖ|Eₖ.
		for i, e := range t.res.Energy {
			t.w[i] += 2 * t.alpha * math.Abs(t.w[i]) * e
		}
		t.req = framework.Request{Outputs: framework.OutParamVJP, X: t.stack, Theta: theta, Weights: t.w}
		if err := ev.Evaluate(&t.req, &t.res); err != nil {
			return 0, fmt.Errorf("%s: %w", t.method, err)
		}
	}
	copy(grad, t.res.ParamVJP)
	return loss, nil
}

// MarshalBinary saves the chain streams and, for pcd, the persistent buffer, in binary
// (package binstate): chains that hold NaN or ±Inf round-trip.
func (t *ContrastiveDivergence) MarshalBinary() ([]byte, error) {
	w := binstate.NewWriter("cd/1")
	w.String(t.method)
	w.Int(len(t.pcgs))
	for _, p := range t.pcgs {
		b, err := p.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.method, err)
		}
		w.Blob(b)
	}
	rows, cols := 0, 0
	var data []float64
	if t.persistent && t.buf != nil {
		rows, cols = t.buf.Dims()
		data = t.buf.RawMatrix().Data
	}
	w.Int(rows)
	w.Int(cols)
	w.Floats(data)
	return w.Bytes(), nil
}

// UnmarshalBinary restores the state saved by MarshalBinary. Call it after Init.
func (t *ContrastiveDivergence) UnmarshalBinary(b []byte) error {
	r := binstate.NewReader(b, "cd/1")
	method := r.String()
	n := r.Int()
	if !r.Failed() && (n < 0 || n > len(b)) {
		return fmt.Errorf("%s: state: %d chain streams", t.method, n)
	}
	streams := make([][]byte, 0, max(min(n, len(b)), 0))
	for i := 0; i < n && !r.Failed(); i++ {
		streams = append(streams, r.Blob())
	}
	rows, cols, data := r.Int(), r.Int(), r.Floats()
	if err := r.Err(); err != nil {
		return fmt.Errorf("%s: state: %w", t.method, err)
	}
	if method != t.method {
		return fmt.Errorf("%s: state was saved by %q", t.method, method)
	}
	pcgs := make([]*rand.PCG, len(streams))
	rngs := make([]*rand.Rand, len(streams))
	for i, sb := range streams {
		pcgs[i] = &rand.PCG{}
		if err := pcgs[i].UnmarshalBinary(sb); err != nil {
			return fmt.Errorf("%s: state of chain stream %d: %w", t.method, i, err)
		}
		rngs[i] = rand.New(pcgs[i])
	}
	var buf *mat.Dense
	switch {
	case rows == 0 && cols == 0 && len(data) == 0:
	case !t.persistent || rows < 1 || cols != t.spec.Dim || rows > len(data) || len(data) != rows*cols || rows > len(streams):
		return fmt.Errorf("%s: state holds %d chains of dimension %d (%d values, %d streams); the energy has dimension %d",
			t.method, rows, cols, len(data), len(streams), t.spec.Dim)
	default:
		buf = mat.NewDense(rows, cols, data)
	}
	t.pcgs, t.rngs, t.buf = pcgs, rngs, buf
	return nil
}
