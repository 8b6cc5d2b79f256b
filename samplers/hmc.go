package samplers

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// HMCOptions are the [sampler] keys of method = "hmc".
type HMCOptions struct {
	Step         float64 `toml:"step" help:"initial leapfrog step size ε"`
	Leapfrog     int     `toml:"leapfrog" help:"leapfrog steps per transition (trajectory length = leapfrog·ε)"`
	TargetAccept float64 `toml:"target_accept" help:"acceptance rate that warm-up adapts ε towards"`
	Jitter       float64 `toml:"jitter" help:"each chain draws its step of a transition uniformly from ε·[1−jitter, 1+jitter], breaking periodic trajectories (0 = off)"`
}

// DefaultHMCOptions returns the defaults of method = "hmc".
func DefaultHMCOptions() HMCOptions {
	return HMCOptions{Step: 0.05, Leapfrog: 10, TargetAccept: 0.65, Jitter: 0.2}
}

// Validate checks the options.
func (o *HMCOptions) Validate() error {
	if err := positiveStep(o.Step); err != nil {
		return err
	}
	if o.Leapfrog < 1 {
		return &framework.KeyError{Key: "leapfrog", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Leapfrog)}
	}
	if !(o.Jitter >= 0 && o.Jitter < 1) {
		return &framework.KeyError{Key: "jitter", Msg: fmt.Sprintf("must be in [0, 1), got %v", o.Jitter)}
	}
	return targetAccept(o.TargetAccept)
}

// HMC is Hamiltonian Monte Carlo with an identity mass matrix (Duane et al. 1987; Neal
// 2011). Each transition draws a momentum p ~ N(0, I), follows H(x, p) = E(x) + ½‖p‖² for
// Leapfrog steps of size ε,
//
//	p ← p − ε/2 ∇ₓE(x);  x ← x + ε p;  p ← p − ε/2 ∇ₓE(x)   (half steps fused in between),
//
// and accepts the end point with probability min(1, exp(H₀ − H₁)). Each chain draws its step
// for the transition uniformly from ε·[1 − Jitter, 1 + Jitter] (Neal 2011, §5.4.2.2): with a
// fixed ε·Leapfrog a trajectory can come back near its start in some direction (a period of
// the target's local oscillation), which slows mixing there and misleads the ESS estimate;
// a random step, independent of the state, keeps the kernel reversible. While Chains.Adapt is true
// (warm-up), ε is tuned towards TargetAccept by dual averaging (Hoffman and Gelman 2014) on
// the chains' mean acceptance probability; the averaged ε is kept afterwards. Cost: Leapfrog
// Evaluator requests per transition (∇ₓE, with E at the end point).
type HMC struct {
	opts  HMCOptions
	step  float64
	adapt dualAveraging

	cache stateCache
	req   framework.Request
	cur   framework.Result // E and ∇ₓE at the current states
	traj  framework.Result // E and ∇ₓE along the trajectory
	q, p  []float64        // position and momentum along the trajectory, n×d contiguous
	eps   []float64        // step of each chain in the current transition
	qm    mat.Dense        // q as a matrix
	h0    []float64        // H at the start of the trajectory, per chain
}

// NewHMC returns an HMC sampler with the given options.
func NewHMC(o HMCOptions) (*HMC, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("hmc: %w", err)
	}
	return &HMC{opts: o, step: o.Step, adapt: dualAveraging{target: o.TargetAccept}}, nil
}

// Supports accepts continuous energies only.
func (s *HMC) Supports(spec framework.Spec) error { return continuousOnly("hmc", spec) }

// StepSize returns the current leapfrog step size ε.
func (s *HMC) StepSize() float64 { return s.step }

// Run advances every chain by steps HMC transitions.
func (s *HMC) Run(c *framework.Chains, steps int) error {
	n, d, err := checkChains("hmc", s, c)
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
			return fmt.Errorf("hmc: initial states: %w", err)
		}
	}
	s.q, s.p, s.h0, s.eps = vec(s.q, n*d), vec(s.p, n*d), vec(s.h0, n), vec(s.eps, n)
	q := wrap(&s.qm, s.q, n, d)
	raw := c.X.RawMatrix()
	for t := 0; t < steps; t++ {
		g := s.cur.GradX.RawMatrix().Data
		// Draw step and momenta, record H₀ and take the first half step in p and full step in x.
		for i := 0; i < n; i++ {
			x, gi, qi, pi, rng := raw.Data[i*raw.Stride:i*raw.Stride+d], g[i*d:(i+1)*d], s.q[i*d:(i+1)*d], s.p[i*d:(i+1)*d], c.RNG[i]
			eps := s.step
			if s.opts.Jitter > 0 {
				eps *= 1 + s.opts.Jitter*(2*rng.Float64()-1)
			}
			s.eps[i] = eps
			kin := 0.0
			for j := range pi {
				pj := rng.NormFloat64()
				kin += pj * pj
				pi[j] = pj - eps/2*gi[j]
				qi[j] = x[j] + eps*pi[j]
			}
			s.h0[i] = s.cur.Energy[i] + kin/2
		}
		for l := 1; l <= s.opts.Leapfrog; l++ {
			out := framework.OutGradX
			if l == s.opts.Leapfrog {
				out |= framework.OutEnergy
			}
			s.req = framework.Request{Outputs: out, X: q, Theta: c.Theta}
			if err := c.Eval.Evaluate(&s.req, &s.traj); err != nil {
				return fmt.Errorf("hmc: transition %d, leapfrog step %d: %w", t, l, err)
			}
			gq := s.traj.GradX.RawMatrix().Data
			for i := 0; i < n; i++ {
				eps, pi, qi, gi := s.eps[i], s.p[i*d:(i+1)*d], s.q[i*d:(i+1)*d], gq[i*d:(i+1)*d]
				if l < s.opts.Leapfrog {
					for j := range pi {
						pi[j] -= eps * gi[j]
						qi[j] += eps * pi[j]
					}
				} else {
					for j := range pi {
						pi[j] -= eps / 2 * gi[j]
					}
				}
			}
		}
		gq := s.traj.GradX.RawMatrix().Data
		sum := 0.0
		for i := 0; i < n; i++ {
			pi := s.p[i*d : (i+1)*d]
			kin := 0.0
			for _, v := range pi {
				kin += v * v
			}
			a := acceptProb(s.h0[i] - (s.traj.Energy[i] + kin/2))
			sum += a
			if c.RNG[i].Float64() < a {
				copy(raw.Data[i*raw.Stride:i*raw.Stride+d], s.q[i*d:(i+1)*d])
				copy(g[i*d:(i+1)*d], gq[i*d:(i+1)*d])
				s.cur.Energy[i] = s.traj.Energy[i]
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
