package samplers

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/framework"
)

// ULAOptions are the [sampler] keys of method = "ula".
type ULAOptions struct {
	Step       float64 `toml:"step" help:"step size h of x ← x − h∇E + noise_scale·√(2h)ξ"`
	NoiseScale float64 `toml:"noise_scale" help:"multiplier of the injected noise (1 samples exp(−E); <1 is the cold, biased variant common in EBM training)"`
	ClipGrad   float64 `toml:"clip_grad" help:"clip each chain's ∇E to this Euclidean norm before the step (0 = off)"`
	ClipState  float64 `toml:"clip_state" help:"clip every coordinate of the state to [−clip_state, clip_state] after the step (0 = off)"`
}

// DefaultULAOptions returns the defaults of method = "ula".
func DefaultULAOptions() ULAOptions { return ULAOptions{Step: 0.01, NoiseScale: 1} }

// Validate checks the options.
func (o *ULAOptions) Validate() error {
	switch {
	case !(o.Step > 0) || math.IsInf(o.Step, 0):
		return &framework.KeyError{Key: "step", Msg: fmt.Sprintf("must be a positive number, got %v", o.Step)}
	case !(o.NoiseScale >= 0) || math.IsInf(o.NoiseScale, 0):
		return &framework.KeyError{Key: "noise_scale", Msg: fmt.Sprintf("must be ≥ 0, got %v", o.NoiseScale)}
	case !(o.ClipGrad >= 0):
		return &framework.KeyError{Key: "clip_grad", Msg: fmt.Sprintf("must be ≥ 0 (0 = off), got %v", o.ClipGrad)}
	case !(o.ClipState >= 0):
		return &framework.KeyError{Key: "clip_state", Msg: fmt.Sprintf("must be ≥ 0 (0 = off), got %v", o.ClipState)}
	}
	return nil
}

// ULA is the unadjusted Langevin algorithm,
//
//	x ← x − h∇ₓE(x) + σ√(2h) ξ,  ξ ~ N(0, I),
//
// with noise scale σ (1 for sampling exp(−E)). It accepts every move, so its stationary law
// is exp(−E) only as h → 0: on N(0, s²) its stationary variance is s²/(1 − h/(2s²)).
// Optionally ∇ₓE is clipped to a norm per chain and the state to a box, as EBM training
// recipes do. One Evaluator request (∇ₓE) per step; c.Energy is left unknown.
type ULA struct {
	opts ULAOptions
	req  framework.Request
	res  framework.Result
}

// NewULA returns a ULA sampler with the given options.
func NewULA(o ULAOptions) (*ULA, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("ula: %w", err)
	}
	return &ULA{opts: o}, nil
}

// Supports accepts continuous energies only.
func (s *ULA) Supports(spec framework.Spec) error { return continuousOnly("ula", spec) }

// StepSize returns h.
func (s *ULA) StepSize() float64 { return s.opts.Step }

// Run advances every chain by steps ULA moves.
func (s *ULA) Run(c *framework.Chains, steps int) error {
	n, d, err := checkChains("ula", s, c)
	if err != nil {
		return err
	}
	forgetEnergy(c)
	s.req = framework.Request{Outputs: framework.OutGradX, X: c.X, Theta: c.Theta}
	for t := 0; t < steps; t++ {
		if err := c.Eval.Evaluate(&s.req, &s.res); err != nil {
			return fmt.Errorf("ula: step %d: %w", t, err)
		}
		langevinMove(c, s.res.GradX.RawMatrix().Data, n, d, s.opts.Step, 1, s.opts.NoiseScale*math.Sqrt(2*s.opts.Step),
			s.opts.ClipGrad, s.opts.ClipState)
		c.Proposed += int64(n)
		c.Accepted += int64(n)
	}
	return nil
}

// langevinMove sets x ← x − drift·g + noise·ξ for every chain, where g (n×d, contiguous) is
// ∇ₓE scaled by gradScale and clipped per row to norm clipGrad (0 = off), and the result is
// clipped to the box [−clipState, clipState] (0 = off). Chain i draws ξ from c.RNG[i].
func langevinMove(c *framework.Chains, g []float64, n, d int, drift, gradScale, noise, clipGrad, clipState float64) {
	raw := c.X.RawMatrix()
	for i := 0; i < n; i++ {
		x, gi, rng := raw.Data[i*raw.Stride:i*raw.Stride+d], g[i*d:(i+1)*d], c.RNG[i]
		a := drift * gradScale
		if clipGrad > 0 {
			norm := 0.0
			for _, v := range gi {
				norm += v * v
			}
			if norm = gradScale * math.Sqrt(norm); norm > clipGrad {
				a *= clipGrad / norm
			}
		}
		for j := range x {
			x[j] += -a*gi[j] + noise*rng.NormFloat64()
			if clipState > 0 {
				x[j] = min(max(x[j], -clipState), clipState)
			}
		}
	}
}
