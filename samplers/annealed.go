package samplers

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/framework"
)

// AnnealedOptions are the [sampler] keys of method = "annealed".
type AnnealedOptions struct {
	Step          float64   `toml:"step" help:"step size ε of the last level; level i uses ε·σᵢ²/σ_L²"`
	Levels        int       `toml:"levels" help:"number of noise levels σ₁ > … > σ_L, geometric from sigma_max to sigma_min"`
	SigmaMax      float64   `toml:"sigma_max" help:"largest noise level σ₁"`
	SigmaMin      float64   `toml:"sigma_min" help:"smallest noise level σ_L"`
	StepsPerLevel int       `toml:"steps_per_level" help:"Langevin steps at each level within one sampler step"`
	Temperatures  []float64 `toml:"temperatures" help:"optional decreasing temperatures T₁ > … > T_L; level i then samples exp(−E/Tᵢ) with step ε·Tᵢ/T_L (replaces the σ schedule)"`
}

// DefaultAnnealedOptions returns the defaults of method = "annealed".
func DefaultAnnealedOptions() AnnealedOptions {
	return AnnealedOptions{Step: 1e-3, Levels: 10, SigmaMax: 1, SigmaMin: 0.1, StepsPerLevel: 10}
}

// Validate checks the options.
func (o *AnnealedOptions) Validate() error {
	if err := positiveStep(o.Step); err != nil {
		return err
	}
	if o.StepsPerLevel < 1 {
		return &framework.KeyError{Key: "steps_per_level", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.StepsPerLevel)}
	}
	if len(o.Temperatures) > 0 {
		for i, t := range o.Temperatures {
			if !(t > 0) || math.IsInf(t, 0) {
				return &framework.KeyError{Key: "temperatures", Msg: fmt.Sprintf("entry %d is %v, want a positive number", i+1, t)}
			}
			if i > 0 && t > o.Temperatures[i-1] {
				return &framework.KeyError{Key: "temperatures", Msg: "must not increase from one level to the next"}
			}
		}
		return nil
	}
	switch {
	case o.Levels < 1:
		return &framework.KeyError{Key: "levels", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Levels)}
	case !(o.SigmaMin > 0) || math.IsInf(o.SigmaMin, 0):
		return &framework.KeyError{Key: "sigma_min", Msg: fmt.Sprintf("must be a positive number, got %v", o.SigmaMin)}
	case !(o.SigmaMax >= o.SigmaMin) || math.IsInf(o.SigmaMax, 0):
		return &framework.KeyError{Key: "sigma_max", Msg: fmt.Sprintf("must be a number ≥ sigma_min (%v), got %v", o.SigmaMin, o.SigmaMax)}
	}
	return nil
}

// Annealed is annealed Langevin dynamics (Song and Ermon 2019, Algorithm 1) over a
// decreasing schedule of L levels. One sampler step is a whole pass over the schedule:
// StepsPerLevel Langevin moves at each level i with step αᵢ = ε·σᵢ²/σ_L², so early levels take
// large moves that cross between modes and the last takes steps of ε.
//
// With the σ schedule (σ geometric from SigmaMax to SigmaMin) every level follows the score
// of E itself, x ← x − αᵢ∇ₓE + √(2αᵢ)ξ, as Song and Ermon's update does with a score that is
// not conditioned on σ. With Temperatures, level i samples exp(−E/Tᵢ),
// x ← x − (αᵢ/Tᵢ)∇ₓE + √(2αᵢ)ξ with αᵢ = ε·Tᵢ/T_L (the spread of exp(−E/T) grows like √T,
// as a Gaussian smoothed by σ grows like σ); the last level is ULA at temperature T_L.
// Like ULA it has no accept step; one Evaluator request (∇ₓE) per move.
type Annealed struct {
	opts   AnnealedOptions
	alpha  []float64 // step of each level
	scale  []float64 // 1/Tᵢ (1 with the σ schedule)
	req    framework.Request
	res    framework.Result
	levels int
}

// NewAnnealed returns an annealed Langevin sampler with the given options.
func NewAnnealed(o AnnealedOptions) (*Annealed, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("annealed: %w", err)
	}
	s := &Annealed{opts: o}
	if T := o.Temperatures; len(T) > 0 {
		s.levels = len(T)
		for _, t := range T {
			s.alpha = append(s.alpha, o.Step*t/T[len(T)-1])
			s.scale = append(s.scale, 1/t)
		}
		return s, nil
	}
	s.levels = o.Levels
	for _, sigma := range GeometricLevels(o.SigmaMax, o.SigmaMin, o.Levels) {
		r := sigma / o.SigmaMin
		s.alpha = append(s.alpha, o.Step*r*r)
		s.scale = append(s.scale, 1)
	}
	return s, nil
}

// GeometricLevels returns L values from hi down to lo in a constant ratio (hi alone if L = 1).
func GeometricLevels(hi, lo float64, L int) []float64 {
	v := make([]float64, L)
	if L == 1 {
		v[0] = lo
		return v
	}
	for i := range v {
		v[i] = hi * math.Pow(lo/hi, float64(i)/float64(L-1))
	}
	v[L-1] = lo
	return v
}

// Supports accepts continuous energies only.
func (s *Annealed) Supports(spec framework.Spec) error { return continuousOnly("annealed", spec) }

// StepSize returns ε, the step of the last level.
func (s *Annealed) StepSize() float64 { return s.opts.Step }

// Run advances every chain by steps passes over the schedule.
func (s *Annealed) Run(c *framework.Chains, steps int) error {
	n, d, err := checkChains("annealed", s, c)
	if err != nil {
		return err
	}
	forgetEnergy(c)
	s.req = framework.Request{Outputs: framework.OutGradX, X: c.X, Theta: c.Theta}
	for t := 0; t < steps; t++ {
		for l := 0; l < s.levels; l++ {
			a := s.alpha[l]
			for k := 0; k < s.opts.StepsPerLevel; k++ {
				if err := c.Eval.Evaluate(&s.req, &s.res); err != nil {
					return fmt.Errorf("annealed: step %d, level %d: %w", t, l+1, err)
				}
				langevinMove(c, s.res.GradX.RawMatrix().Data, n, d, a, s.scale[l], math.Sqrt(2*a), 0, 0)
				c.Proposed += int64(n)
				c.Accepted += int64(n)
			}
		}
	}
	return nil
}
