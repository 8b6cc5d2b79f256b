package samplers

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// MALAOptions are the [sampler] keys of method = "mala".
type MALAOptions struct {
	Step         float64 `toml:"step" help:"initial step size h of the Langevin proposal y = x − h∇E + √(2h)ξ"`
	TargetAccept float64 `toml:"target_accept" help:"acceptance rate that warm-up adapts h towards (0.574 is optimal for MALA in high dimension)"`
}

// DefaultMALAOptions returns the defaults of method = "mala".
func DefaultMALAOptions() MALAOptions { return MALAOptions{Step: 0.01, TargetAccept: 0.574} }

// Validate checks the options.
func (o *MALAOptions) Validate() error {
	if err := positiveStep(o.Step); err != nil {
		return err
	}
	return targetAccept(o.TargetAccept)
}

func positiveStep(h float64) error {
	if !(h > 0) || math.IsInf(h, 0) {
		return &framework.KeyError{Key: "step", Msg: fmt.Sprintf("must be a positive number, got %v", h)}
	}
	return nil
}

func targetAccept(a float64) error {
	if !(a > 0 && a < 1) {
		return &framework.KeyError{Key: "target_accept", Msg: fmt.Sprintf("must be in (0, 1), got %v", a)}
	}
	return nil
}

// MALA is the Metropolis-adjusted Langevin algorithm (Roberts and Tweedie 1996). Each chain
// proposes y = x − h∇ₓE(x) + √(2h)ξ and accepts it with probability min(1, r),
//
//	log r = E(x) − E(y) + log q(x|y) − log q(y|x),  log q(y|x) = −‖y − x + h∇ₓE(x)‖²/(4h),
//
// so exp(−E) is stationary for any h. While Chains.Adapt is true (warm-up), h is tuned
// towards TargetAccept by dual averaging over the chains' mean acceptance probability; when
// warm-up ends the averaged h is kept. One Evaluator request (E and ∇ₓE at the proposals) per
// step, plus one at the start of a Run whose states or θ changed since the last.
type MALA struct {
	opts  MALAOptions
	step  float64
	adapt dualAveraging

	cache stateCache
	req   framework.Request
	cur   framework.Result // E and ∇ₓE at the current states
	prop  framework.Result // E and ∇ₓE at the proposals
	y     []float64        // proposals, n×d contiguous
	ym    mat.Dense        // y as a matrix
	noise []float64        // ‖ξ‖² per chain
}

// NewMALA returns a MALA sampler with the given options.
func NewMALA(o MALAOptions) (*MALA, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("mala: %w", err)
	}
	return &MALA{opts: o, step: o.Step, adapt: dualAveraging{target: o.TargetAccept}}, nil
}

// Supports accepts continuous energies only.
func (s *MALA) Supports(spec framework.Spec) error { return continuousOnly("mala", spec) }

// StepSize returns the current step size h.
func (s *MALA) StepSize() float64 { return s.step }

// Run advances every chain by steps MALA transitions.
func (s *MALA) Run(c *framework.Chains, steps int) error {
	n, d, err := checkChains("mala", s, c)
	if err != nil {
		return err
	}
	switch {
	case c.Adapt && !s.adapt.active:
		s.adapt.start(s.step)
	case !c.Adapt && s.adapt.active:
		s.step = s.adapt.finish()
	}
	if !s.cache.matches(c) {
		s.req = framework.Request{Outputs: framework.OutEnergy | framework.OutGradX, X: c.X, Theta: c.Theta}
		if err := c.Eval.Evaluate(&s.req, &s.cur); err != nil {
			return fmt.Errorf("mala: initial states: %w", err)
		}
	}
	s.y = vec(s.y, n*d)
	s.noise = vec(s.noise, n)
	prop := wrap(&s.ym, s.y, n, d)
	raw := c.X.RawMatrix()
	for t := 0; t < steps; t++ {
		h := s.step
		sq := math.Sqrt(2 * h)
		g := s.cur.GradX.RawMatrix().Data
		for i := 0; i < n; i++ {
			x, gi, y, rng := raw.Data[i*raw.Stride:i*raw.Stride+d], g[i*d:(i+1)*d], s.y[i*d:(i+1)*d], c.RNG[i]
			nn := 0.0
			for j := range y {
				xi := rng.NormFloat64()
				nn += xi * xi
				y[j] = x[j] - h*gi[j] + sq*xi
			}
			s.noise[i] = nn
		}
		s.req = framework.Request{Outputs: framework.OutEnergy | framework.OutGradX, X: prop, Theta: c.Theta}
		if err := c.Eval.Evaluate(&s.req, &s.prop); err != nil {
			return fmt.Errorf("mala: step %d: %w", t, err)
		}
		gy := s.prop.GradX.RawMatrix().Data
		sum := 0.0
		for i := 0; i < n; i++ {
			x, y, gyi := raw.Data[i*raw.Stride:i*raw.Stride+d], s.y[i*d:(i+1)*d], gy[i*d:(i+1)*d]
			// log q(x|y) = −‖x − y + h∇E(y)‖²/(4h); log q(y|x) = −‖ξ‖²/2.
			back := 0.0
			for j := range x {
				r := x[j] - y[j] + h*gyi[j]
				back += r * r
			}
			logR := s.cur.Energy[i] - s.prop.Energy[i] - back/(4*h) + s.noise[i]/2
			a := acceptProb(logR)
			sum += a
			if c.RNG[i].Float64() < a {
				copy(x, y)
				copy(g[i*d:(i+1)*d], gyi)
				s.cur.Energy[i] = s.prop.Energy[i]
				c.Accepted++
			}
		}
		c.Proposed += int64(n)
		if s.adapt.active {
			s.step = s.adapt.update(sum / float64(n))
		}
	}
	s.cache.store(c)
	setEnergy(c, s.cur.Energy)
	return nil
}
