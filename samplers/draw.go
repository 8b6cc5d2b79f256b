package samplers

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// DrawOptions are the keys of the [sampler] table that belong to the driver, not to a
// sampling method.
//
// The [sampler] table of a run is decoded twice from the same TOML: into DrawOptions for
// the keys listed here (see DrawKeys), and into the options struct of the entry named by
// `method` (r.Samplers[method].Options(), e.g. ULAOptions) for the remaining keys, such as
// `step`. The two key sets are disjoint; a key in neither is an error. `method` itself
// selects the entry. Trainers such as pcd use only the method's part.
//
//	[sampler]
//	method = "mala"   # entry
//	step = 0.05       # MALAOptions
//	chains = 16       # DrawOptions
//	warmup = 500
//	steps = 2000
//	thin = 2
type DrawOptions struct {
	Steps     int     `toml:"steps" help:"sampler steps per chain after warm-up; every thin-th state is kept"`
	Chains    int     `toml:"chains" help:"number of chains, run together"`
	Warmup    int     `toml:"warmup" help:"steps per chain discarded first, during which step sizes adapt"`
	Thin      int     `toml:"thin" help:"keep every thin-th state"`
	Init      string  `toml:"init" help:"initial states: auto (normal for continuous energies, uniform for binary and spin ones), normal, uniform (on [−init_scale, init_scale], or uniform bits/spins) or data"`
	InitScale float64 `toml:"init_scale" help:"standard deviation (normal) or half-width (uniform) of the initial states"`
}

// DefaultDrawOptions returns the defaults of the driver keys: 8 chains from the domain's
// initial distribution, 500 warm-up steps, and every 50th state kept, so that the draws of a
// Gaussian energy of dimension 20 sampled by MALA are close to independent (split R̂ below
// 1.01 with 1000 draws).
func DefaultDrawOptions() DrawOptions {
	return DrawOptions{Steps: 1000, Chains: 8, Warmup: 500, Thin: 50, Init: "auto", InitScale: 1}
}

// Validate checks the options.
func (o *DrawOptions) Validate() error {
	switch {
	case o.Chains < 1:
		return &framework.KeyError{Key: "chains", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Chains)}
	case o.Warmup < 0:
		return &framework.KeyError{Key: "warmup", Msg: fmt.Sprintf("must be ≥ 0, got %d", o.Warmup)}
	case o.Thin < 1:
		return &framework.KeyError{Key: "thin", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Thin)}
	case o.Steps < o.Thin:
		return &framework.KeyError{Key: "steps", Msg: fmt.Sprintf("must be ≥ thin (%d) so that a state is kept, got %d", o.Thin, o.Steps)}
	case !(o.InitScale >= 0):
		return &framework.KeyError{Key: "init_scale", Msg: fmt.Sprintf("must be ≥ 0, got %v", o.InitScale)}
	}
	switch o.Init {
	case "auto", "normal", "uniform", "data":
	default:
		return &framework.KeyError{Key: "init", Msg: fmt.Sprintf("%q: want \"auto\", \"normal\", \"uniform\" or \"data\"", o.Init)}
	}
	return nil
}

// DrawKeys returns the TOML keys of DrawOptions, the driver's part of the [sampler] table.
func DrawKeys() []string {
	var keys []string
	t := reflect.TypeOf(DrawOptions{})
	for i := 0; i < t.NumField(); i++ {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

// Target is what Draw samples: an energy at parameters θ, with the run's random streams.
type Target struct {
	Eval    *framework.Evaluator
	Theta   []float64
	Streams framework.Streams
	// Data supplies initial states for init = "data"; it may be nil otherwise.
	Data *mat.Dense
	// Stream names the random streams of the chains, (Stream, i) for chain i; empty means
	// "sample". Draws for different purposes (ebm sample, evaluation) use different names so
	// that they are independent.
	Stream string
	// Progress, when not nil, is called after each kept draw and after warm-up with the
	// sampler steps done so far per chain and the total (warmup + steps).
	Progress func(done, total int)
}

// Draws are the states that Draw kept, with their diagnostics.
type Draws struct {
	// Samples holds Draws·Chains rows in draw-major order: row t·Chains + i is chain i's
	// t-th kept state, so any prefix of whole draws mixes every chain.
	Samples *mat.Dense
	// Energy holds E of each row of Samples.
	Energy []float64
	// Final holds the chains' last states, one row per chain.
	Final       *mat.Dense
	Diagnostics Diagnostics
}

// Diagnostics summarise a Draw. ESS and R̂ are per coordinate, over the kept draws of all
// chains (SplitESS, SplitRHat); MCSE = SD/√ESS is the Monte Carlo standard error of Mean.
// Some values can be undefined, NaN (the ESS and R̂ of too few draws, the acceptance of a
// warm-up of no steps): framework.MarshalJSON and framework.WriteJSONAtomic write them as
// null.
type Diagnostics struct {
	Method       string  `json:"method"`
	Energy       string  `json:"energy"`
	Dim          int     `json:"dim"`
	Chains       int     `json:"chains"`
	Warmup       int     `json:"warmup"`
	Steps        int     `json:"steps"`
	Thin         int     `json:"thin"`
	Draws        int     `json:"draws_per_chain"`
	StepSize     float64 `json:"step_size,omitempty"` // after adaptation, if the sampler has one
	Acceptance   float64 `json:"acceptance"`          // accepted/proposed while sampling
	WarmupAccept float64 `json:"warmup_acceptance"`   // accepted/proposed during warm-up

	Mean    []float64 `json:"mean"`
	SD      []float64 `json:"sd"`
	MCSE    []float64 `json:"mcse"`
	ESS     []float64 `json:"ess"`
	RHat    []float64 `json:"rhat"`
	MinESS  float64   `json:"min_ess"`
	MaxRHat float64   `json:"max_rhat"`

	// EnergyTrace is the mean of E over chains at each kept draw.
	EnergyTrace []float64 `json:"energy_trace"`
	EnergyESS   float64   `json:"energy_ess"`
	EnergyRHat  float64   `json:"energy_rhat"`

	WarmupSeconds       float64          `json:"warmup_seconds"`
	SampleSeconds       float64          `json:"sample_seconds"`
	ChainStepsPerSecond float64          `json:"chain_steps_per_second"` // while sampling
	Counts              framework.Counts `json:"counts"`                 // Evaluator work of the whole draw
}

// StepSizer is implemented by samplers with a step size, which Diagnostics report.
type StepSizer interface {
	StepSize() float64
}

// Draw runs opts.Chains chains of s on the target: initial states from opts.Init (chain i
// draws its start, and then all its randomness, from stream (t.Stream, i) of t.Streams),
// opts.Warmup steps with Chains.Adapt = true that are discarded, then opts.Steps steps
// with adaptation off, keeping every opts.Thin-th state. It returns the kept states with
// their energies and diagnostics. method names s in the diagnostics. Draw stops between two
// pieces of work (a hundredth of the warm-up, or one kept draw) once ctx is done, with an
// error wrapping ctx.Err().
func Draw(ctx context.Context, t Target, method string, s framework.Sampler, opts DrawOptions) (*Draws, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	if t.Eval == nil {
		return nil, fmt.Errorf("sample: no energy to sample")
	}
	spec := t.Eval.Spec()
	if err := s.Supports(spec); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	m, d := opts.Chains, spec.Dim
	init := Init{Kind: opts.Init, Scale: opts.InitScale, Low: -opts.InitScale, High: opts.InitScale,
		Data: t.Data, Domain: spec.Domain, Dim: d}
	if err := init.Check(); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	stream := t.Stream
	if stream == "" {
		stream = "sample"
	}
	c := &framework.Chains{X: mat.NewDense(m, d, nil), Theta: t.Theta, Eval: t.Eval,
		RNG: t.Streams.Rands(stream, m)}
	init.Fill(c.X, c.RNG)
	start := t.Eval.Counts()
	total := opts.Warmup + opts.Steps
	progress := func(done int) {
		if t.Progress != nil {
			t.Progress(done, total)
		}
	}

	diag := Diagnostics{Method: method, Energy: spec.Name, Dim: d, Chains: m, Warmup: opts.Warmup,
		Steps: opts.Steps, Thin: opts.Thin, Draws: opts.Steps / opts.Thin}
	t0 := time.Now()
	if opts.Warmup > 0 {
		c.Adapt = true
		// Warm up in pieces for progress; a sampler's result does not depend on how its
		// steps are split between calls of Run.
		piece := max(1, opts.Warmup/100)
		for done := 0; done < opts.Warmup; {
			k := min(piece, opts.Warmup-done)
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("sample: warm-up stopped after %d of %d steps: %w", done, opts.Warmup, err)
			}
			if err := s.Run(c, k); err != nil {
				return nil, fmt.Errorf("sample: warm-up: %w", err)
			}
			done += k
			progress(done)
		}
		c.Adapt = false
	}
	diag.WarmupSeconds = time.Since(t0).Seconds()
	diag.WarmupAccept = ratio(c.Accepted, c.Proposed)
	prop0, acc0 := c.Proposed, c.Accepted

	kept := diag.Draws
	out := &Draws{Samples: mat.NewDense(kept*m, d, nil), Energy: make([]float64, kept*m)}
	var req framework.Request
	var res framework.Result
	t1 := time.Now()
	for k := 0; k < kept; k++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sample: stopped after %d of %d draws: %w", k, kept, err)
		}
		if err := s.Run(c, opts.Thin); err != nil {
			return nil, fmt.Errorf("sample: draw %d: %w", k+1, err)
		}
		e := c.Energy
		if len(e) != m {
			req = framework.Request{Outputs: framework.OutEnergy, X: c.X, Theta: c.Theta}
			if err := t.Eval.Evaluate(&req, &res); err != nil {
				return nil, fmt.Errorf("sample: energy of draw %d: %w", k+1, err)
			}
			e = res.Energy
		}
		for i := 0; i < m; i++ {
			copy(out.Samples.RawRowView(k*m+i), c.X.RawRowView(i))
		}
		copy(out.Energy[k*m:(k+1)*m], e)
		progress(opts.Warmup + (k+1)*opts.Thin)
	}
	// Steps beyond the last kept one (steps not a multiple of thin) are still taken.
	if rest := opts.Steps - kept*opts.Thin; rest > 0 {
		if err := s.Run(c, rest); err != nil {
			return nil, fmt.Errorf("sample: %w", err)
		}
	}
	diag.SampleSeconds = time.Since(t1).Seconds()
	if diag.SampleSeconds > 0 {
		diag.ChainStepsPerSecond = float64(m*opts.Steps) / diag.SampleSeconds
	}
	diag.Acceptance = ratio(c.Accepted-acc0, c.Proposed-prop0)
	if ss, ok := s.(StepSizer); ok {
		diag.StepSize = ss.StepSize()
	}
	end := t.Eval.Counts()
	diag.Counts = framework.Counts{
		Requests: end.Requests - start.Requests, Calls: end.Calls - start.Calls, Rows: end.Rows - start.Rows,
		EnergyRows: end.EnergyRows - start.EnergyRows, GradRows: end.GradRows - start.GradRows,
		SecondOrderRows: end.SecondOrderRows - start.SecondOrderRows, RoundTrips: end.RoundTrips - start.RoundTrips,
	}
	out.Final = mat.DenseCopyOf(c.X)
	summarise(&diag, out, kept, m, d)
	out.Diagnostics = diag
	return out, nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// summarise fills the per-coordinate and energy diagnostics from the kept draws.
func summarise(diag *Diagnostics, out *Draws, kept, m, d int) {
	series := make([][]float64, m)
	for i := range series {
		series[i] = make([]float64, kept)
	}
	all := make([]float64, kept*m)
	diag.MinESS, diag.MaxRHat = math.Inf(1), math.Inf(-1)
	stat := func(get func(k, i int) float64) (mu, sd, ess, rhat float64) {
		for k := 0; k < kept; k++ {
			for i := 0; i < m; i++ {
				v := get(k, i)
				series[i][k] = v
				all[k*m+i] = v
			}
		}
		mu = mean(all)
		if len(all) > 1 {
			sd = math.Sqrt(variance(all))
		}
		return mu, sd, SplitESS(series), SplitRHat(series)
	}
	raw := out.Samples.RawMatrix()
	for j := 0; j < d; j++ {
		mu, sd, ess, rhat := stat(func(k, i int) float64 { return raw.Data[(k*m+i)*raw.Stride+j] })
		diag.Mean = append(diag.Mean, mu)
		diag.SD = append(diag.SD, sd)
		diag.ESS = append(diag.ESS, ess)
		diag.RHat = append(diag.RHat, rhat)
		diag.MCSE = append(diag.MCSE, sd/math.Sqrt(ess))
		// NaN never compares, so undefined values do not set the extremes.
		if ess < diag.MinESS {
			diag.MinESS = ess
		}
		if rhat > diag.MaxRHat {
			diag.MaxRHat = rhat
		}
	}
	if math.IsInf(diag.MinESS, 1) {
		diag.MinESS = math.NaN()
	}
	if math.IsInf(diag.MaxRHat, -1) {
		diag.MaxRHat = math.NaN()
	}
	_, _, diag.EnergyESS, diag.EnergyRHat = stat(func(k, i int) float64 { return out.Energy[k*m+i] })
	diag.EnergyTrace = make([]float64, kept)
	for k := range diag.EnergyTrace {
		diag.EnergyTrace[k] = mean(out.Energy[k*m : (k+1)*m])
	}
}
