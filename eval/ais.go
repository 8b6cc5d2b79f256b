package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// AISOptions set annealed importance sampling. They are the [eval.ais] table.
type AISOptions struct {
	Temperatures int     `toml:"temperatures" help:"intermediate distributions between the base (β = 0) and the model (β = 1)"`
	Chains       int     `toml:"chains" help:"independent AIS runs; the standard error shrinks as 1/√chains"`
	Steps        int     `toml:"steps" help:"sampler transitions at each temperature"`
	Schedule     string  `toml:"schedule" help:"spacing of the temperatures: \"sigmoid\" (dense at both ends) or \"linear\""`
	BaseScale    float64 `toml:"base_scale" help:"standard deviation s of the N(0, s²I) base on ℝ^d"`
}

// DefaultAISOptions returns 1000 temperatures on a sigmoid schedule, 100 chains, one
// transition per temperature and a standard normal base.
func DefaultAISOptions() AISOptions {
	return AISOptions{Temperatures: 1000, Chains: 100, Steps: 1, Schedule: "sigmoid", BaseScale: 1}
}

// Validate checks the options.
func (o *AISOptions) Validate() error {
	switch {
	case o.Temperatures < 1:
		return &framework.KeyError{Key: "temperatures", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Temperatures)}
	case o.Chains < 2:
		return &framework.KeyError{Key: "chains", Msg: fmt.Sprintf("must be ≥ 2 (the standard error needs two), got %d", o.Chains)}
	case o.Steps < 1:
		return &framework.KeyError{Key: "steps", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Steps)}
	case o.Schedule != "sigmoid" && o.Schedule != "linear":
		return &framework.KeyError{Key: "schedule", Msg: fmt.Sprintf("%q: want \"sigmoid\" or \"linear\"", o.Schedule)}
	case !(o.BaseScale > 0) || math.IsInf(o.BaseScale, 0):
		return &framework.KeyError{Key: "base_scale", Msg: fmt.Sprintf("must be a positive number, got %v", o.BaseScale)}
	}
	return nil
}

// Betas returns the K+1 inverse temperatures 0 = β₀ < β₁ < … < β_K = 1 of the schedule.
// "linear" spaces them evenly; "sigmoid" takes β̃ₖ = σ(δ(2k/K − 1)), δ = 4, rescaled to [0, 1]
// (Grosse, Maddison and Salakhutdinov 2013), denser near both ends where the distributions
// change fastest.
func (o AISOptions) Betas() []float64 {
	k := o.Temperatures
	b := make([]float64, k+1)
	for i := range b {
		t := float64(i) / float64(k)
		if o.Schedule == "sigmoid" {
			const delta = 4.0
			lo, hi := numeric.Sigmoid(-delta), numeric.Sigmoid(delta)
			t = (numeric.Sigmoid(delta*(2*t-1)) - lo) / (hi - lo)
		}
		b[i] = t
	}
	b[0], b[k] = 0, 1
	return b
}

// AISResult is an AIS estimate of log Z.
type AISResult struct {
	LogZ float64 `json:"log_z"`
	// SE is the delta-method standard error of LogZ over the chains: sd(w)/(mean(w)·√M) for
	// the M importance weights w. log Ẑ is biased low by about SE²/2 (Jensen), negligible when
	// SE is small.
	SE    float64 `json:"log_z_se"`
	LogZ0 float64 `json:"log_z_base"`
	// ESS is the effective sample size of the weights, (Σw)²/Σw².
	ESS  float64   `json:"ess"`
	LogW []float64 `json:"-"`
	Path string    `json:"path"` // "normal", "uniform" or "rbm"
}

// AIS estimates log Z of the energy behind ev at θ by annealed importance sampling (Neal
// 2001). M = o.Chains chains start from the base and move through the tempered
// distributions p_βₖ ∝ exp(−E_βₖ), each taking o.Steps transitions of s at every
// intermediate temperature; chain i accumulates the log weight
//
//	log wᵢ = Σₖ [E_βₖ₋₁(xᵢ,ₖ₋₁) − E_βₖ(xᵢ,ₖ₋₁)],
//
// and log Ẑ = log Z₀ + log mean(w). The path is Tempered (normal or uniform base) for most
// energies; for an RBM (RBMOf and VerifyRBM pass) it is TemperedRBM, on which a Gibbs sampler
// with block = true is exact at every temperature. s must support the tempered energy's spec
// and should be fresh (it is run with Adapt off). Chain i draws from stream ("eval-ais", i).
// ctx is checked at every temperature.
func AIS(ctx context.Context, ev *framework.Evaluator, theta []float64, s framework.Sampler, o AISOptions, streams framework.Streams) (*AISResult, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("ais: %w", err)
	}
	if s == nil {
		return nil, fmt.Errorf("ais: no sampler for the transitions: set [eval.sampler]")
	}
	spec := ev.Spec()
	m, d, p := o.Chains, spec.Dim, spec.NumParams()
	rngs := streams.Rands("eval-ais", m)
	res := &AISResult{LogW: make([]float64, m)}

	// The tempered energy and the increments E_βₖ₋₁(x) − E_βₖ(x).
	var energy framework.Energy
	var increment func(x *mat.Dense, b0, b1 float64) error
	if r, ok := RBMOf(spec, theta); ok && VerifyRBM(ev, theta, r, nil, streams.Rand("eval-ais-check", 0)) == nil {
		t, err := NewTemperedRBM(spec)
		if err != nil {
			return nil, err
		}
		energy, res.LogZ0, res.Path = t, t.LogZ0(), "rbm"
		a := make([]float64, r.H)
		increment = func(x *mat.Dense, b0, b1 float64) error {
			for i := 0; i < m; i++ {
				v := x.RawRowView(i)
				r.preact(v, a)
				res.LogW[i] += r.freeFromPreact(v, b0, a) - r.freeFromPreact(v, b1, a)
			}
			return nil
		}
	} else {
		t, err := NewTempered(ev.Energy(), o.BaseScale)
		if err != nil {
			return nil, fmt.Errorf("ais: %w", err)
		}
		energy, res.LogZ0 = t, t.LogZ0()
		res.Path = "normal"
		if spec.Domain.Discrete() {
			res.Path = "uniform"
		}
		var er framework.Result
		increment = func(x *mat.Dense, b0, b1 float64) error {
			// E_β = βE + (1−β)E₀ is linear in β: the increment is (β₁ − β₀)(E₀ − E).
			if err := ev.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: x, Theta: theta}, &er); err != nil {
				return err
			}
			for i := 0; i < m; i++ {
				res.LogW[i] += (b1 - b0) * (t.base(x.RawRowView(i), nil) - er.Energy[i])
			}
			return nil
		}
	}
	if err := s.Supports(energy.Spec()); err != nil {
		return nil, fmt.Errorf("ais: the sampler cannot run on the tempered %s: %w", spec.Name, err)
	}
	tev := framework.NewEvaluator(energy)
	tev.Workers, tev.ChunkRows, tev.FDStep = ev.Workers, ev.ChunkRows, ev.FDStep

	// Draws from the base.
	x := mat.NewDense(m, d, nil)
	for i := 0; i < m; i++ {
		row := x.RawRowView(i)
		for j := range row {
			switch spec.Domain {
			case framework.Continuous:
				row[j] = o.BaseScale * rngs[i].NormFloat64()
			case framework.Binary:
				row[j] = float64(rngs[i].IntN(2))
			case framework.Spin:
				row[j] = float64(2*rngs[i].IntN(2) - 1)
			}
		}
	}
	tt := make([]float64, p+1)
	copy(tt, theta[:p])
	chains := &framework.Chains{X: x, Theta: tt, Eval: tev, RNG: rngs}
	betas := o.Betas()
	for k := 1; k < len(betas); k++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("ais: stopped at temperature %d of %d: %w", k, o.Temperatures, err)
		}
		if err := increment(x, betas[k-1], betas[k]); err != nil {
			return nil, fmt.Errorf("ais: temperature %d: %w", k, err)
		}
		if k == len(betas)-1 {
			break
		}
		tt[p] = betas[k]
		if err := s.Run(chains, o.Steps); err != nil {
			return nil, fmt.Errorf("ais: transitions at β = %.4g: %w", betas[k], err)
		}
	}
	if err := framework.FiniteVec("AIS log weights", spec.Name, res.LogW); err != nil {
		return nil, fmt.Errorf("ais: %w", err)
	}
	res.LogZ, res.SE, res.ESS = logMeanExp(res.LogW)
	res.LogZ += res.LogZ0
	return res, nil
}

// logMeanExp returns log mean(exp(lw)), the delta-method standard error of that log mean, and
// the effective sample size (Σw)²/Σw² of the weights.
func logMeanExp(lw []float64) (lm, se, ess float64) {
	mx := math.Inf(-1)
	for _, v := range lw {
		mx = math.Max(mx, v)
	}
	n := float64(len(lw))
	var s, s2 float64
	for _, v := range lw {
		w := math.Exp(v - mx)
		s += w
		s2 += w * w
	}
	mean := s / n
	variance := (s2 - n*mean*mean) / (n - 1)
	if variance < 0 {
		variance = 0
	}
	return mx + math.Log(mean), math.Sqrt(variance) / (mean * math.Sqrt(n)), s * s / s2
}
