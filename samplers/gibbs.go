package samplers

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// GibbsOptions are the [sampler] keys of method = "gibbs".
type GibbsOptions struct {
	Block bool `toml:"block" help:"block Gibbs through the energy's exact conditionals (rbm: visible → hidden → visible); needs capability block-gibbs"`
	// SitesPerStep switches single-site Gibbs to a random scan: one step updates this many
	// sites, each drawn uniformly at random by each chain. With 1, CD-1 flips one random site of
	// each data row, and its expected gradient is the pseudolikelihood's divided by d.
	SitesPerStep int `toml:"sites_per_step" help:"0: a step is a systematic sweep over all sites; k ≥ 1: a step updates k sites, each chosen uniformly at random per chain (random scan)"`
}

// Validate checks the options.
func (o *GibbsOptions) Validate() error {
	if o.SitesPerStep < 0 {
		return &framework.KeyError{Key: "sites_per_step", Msg: fmt.Sprintf("must be ≥ 0 (0: systematic sweeps), got %d", o.SitesPerStep)}
	}
	if o.SitesPerStep > 0 && o.Block {
		return &framework.KeyError{Key: "sites_per_step", Msg: "a random scan updates single sites; it cannot be combined with block = true"}
	}
	return nil
}

// DefaultGibbsOptions returns the defaults of method = "gibbs".
func DefaultGibbsOptions() GibbsOptions { return GibbsOptions{} }

// Gibbs is the Gibbs sampler for binary {0,1}^d and spin {−1,+1}^d energies.
//
// Single-site (the default): one sampler step is a systematic sweep over sites 1..d. At site
// j every chain i is set to the other value of its coordinate with the heat-bath probability
//
//	P(xⱼ ← x̄ⱼ | x₋ⱼ) = exp(−E(x̄)) / (exp(−E(x)) + exp(−E(x̄))) = σ(E(x) − E(x̄)),
//
// where x̄ is x with site j flipped; this is the exact conditional of site j. The sampler
// knows E(x) of each chain's current state, so one Evaluator request per site, holding every
// chain with site j flipped (n rows), serves all chains: half the rows of evaluating both
// values, and the same conditional. Chain i decides with a uniform from its own stream.
// Acceptance counts the site updates that changed the value.
//
// Random scan (SitesPerStep = k ≥ 1): one step is k single-site updates, each at a site that
// each chain draws uniformly from its own stream (IntN(d), then the uniform of the heat-bath
// decision), with one Evaluator request per update holding every chain with its own site
// flipped.
//
// Block (Block = true): one sampler step is one framework.BlockGibbser sweep of the energy
// (visible → hidden → visible for an RBM), which bypasses the Evaluator (its counts do not
// include this work); acceptance counts the units that changed.
type Gibbs struct {
	opts GibbsOptions

	cache stateCache
	req   framework.Request
	cur   framework.Result // E of the current states
	flip  framework.Result // E of the flipped states
	f     *mat.Dense       // current states with one site flipped
	old   []float64        // states before a block sweep, n×d
}

// NewGibbs returns a Gibbs sampler with the given options.
func NewGibbs(o GibbsOptions) (*Gibbs, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("gibbs: %w", err)
	}
	return &Gibbs{opts: o}, nil
}

// Supports accepts binary and spin energies, and for Block = true only those that can
// sample their conditionals in blocks.
func (s *Gibbs) Supports(spec framework.Spec) error {
	if !spec.Domain.Discrete() {
		return fmt.Errorf("gibbs samples binary or spin energies, and %s is %s; use ula, mala, annealed or hmc: %w",
			spec.Name, spec.Domain, framework.ErrUnsupportedDomain)
	}
	if s.opts.Block && !spec.Caps.Has(framework.CapBlockGibbs) {
		return fmt.Errorf("gibbs: block = true needs an energy with capability block-gibbs (rbm); %s has [%s]",
			spec.Name, spec.Caps)
	}
	return nil
}

// Run advances every chain by steps sweeps.
func (s *Gibbs) Run(c *framework.Chains, steps int) error {
	n, d, err := checkChains("gibbs", s, c)
	if err != nil {
		return err
	}
	if s.opts.Block {
		return s.runBlock(c, n, d, steps)
	}
	spin := c.Eval.Spec().Domain == framework.Spin
	if !s.cache.matches(c) {
		s.req = framework.Request{Outputs: framework.OutEnergy, X: c.X, Theta: c.Theta}
		if err := c.Eval.Evaluate(&s.req, &s.cur); err != nil {
			return fmt.Errorf("gibbs: initial states: %w", err)
		}
	}
	s.f = dense(s.f, n, d)
	s.f.Copy(c.X)
	f := s.f.RawMatrix().Data
	raw := c.X.RawMatrix()
	s.req = framework.Request{Outputs: framework.OutEnergy, X: s.f, Theta: c.Theta}
	if k := s.opts.SitesPerStep; k > 0 {
		if err := s.randomScan(c, n, d, steps*k, spin, f, raw.Data, raw.Stride); err != nil {
			return err
		}
		s.cache.store(c)
		setEnergy(c, s.cur.Energy)
		return nil
	}
	for t := 0; t < steps; t++ {
		for j := 0; j < d; j++ {
			for i := 0; i < n; i++ {
				f[i*d+j] = other(f[i*d+j], spin)
			}
			if err := c.Eval.Evaluate(&s.req, &s.flip); err != nil {
				return fmt.Errorf("gibbs: sweep %d, site %d: %w", t, j+1, err)
			}
			for i := 0; i < n; i++ {
				// P(flip) = σ(E(x) − E(x̄)) = 1/(1 + exp(E(x̄) − E(x))).
				p := 1 / (1 + math.Exp(s.flip.Energy[i]-s.cur.Energy[i]))
				if c.RNG[i].Float64() < p {
					raw.Data[i*raw.Stride+j] = f[i*d+j]
					s.cur.Energy[i] = s.flip.Energy[i]
					c.Accepted++
				} else {
					f[i*d+j] = raw.Data[i*raw.Stride+j]
				}
			}
			c.Proposed += int64(n)
		}
	}
	s.cache.store(c)
	setEnergy(c, s.cur.Energy)
	return nil
}

// randomScan makes updates single-site updates, each chain at a site of its own drawn
// uniformly.
func (s *Gibbs) randomScan(c *framework.Chains, n, d, updates int, spin bool, f, x []float64, stride int) error {
	site := make([]int, n)
	for u := 0; u < updates; u++ {
		for i := 0; i < n; i++ {
			site[i] = c.RNG[i].IntN(d)
			f[i*d+site[i]] = other(f[i*d+site[i]], spin)
		}
		if err := c.Eval.Evaluate(&s.req, &s.flip); err != nil {
			return fmt.Errorf("gibbs: random-scan update %d: %w", u, err)
		}
		for i := 0; i < n; i++ {
			j := site[i]
			p := 1 / (1 + math.Exp(s.flip.Energy[i]-s.cur.Energy[i]))
			if c.RNG[i].Float64() < p {
				x[i*stride+j] = f[i*d+j]
				s.cur.Energy[i] = s.flip.Energy[i]
				c.Accepted++
			} else {
				f[i*d+j] = x[i*stride+j]
			}
		}
		c.Proposed += int64(n)
	}
	return nil
}

// other returns the value of a site that is not v.
func other(v float64, spin bool) float64 {
	if spin {
		return -v
	}
	return 1 - v
}

func (s *Gibbs) runBlock(c *framework.Chains, n, d, steps int) error {
	bg, ok := c.Eval.Energy().(framework.BlockGibbser)
	if !ok {
		return fmt.Errorf("gibbs: energy %s declares block-gibbs but does not implement BlockGibbs", c.Eval.Spec().Name)
	}
	forgetEnergy(c)
	s.old = vec(s.old, n*d)
	raw := c.X.RawMatrix()
	for t := 0; t < steps; t++ {
		for i := 0; i < n; i++ {
			copy(s.old[i*d:(i+1)*d], raw.Data[i*raw.Stride:i*raw.Stride+d])
		}
		if err := bg.BlockGibbs(c.Theta, c.X, c.RNG[:n]); err != nil {
			return fmt.Errorf("gibbs: block sweep %d: %w", t, err)
		}
		for i := 0; i < n; i++ {
			for j, v := range raw.Data[i*raw.Stride : i*raw.Stride+d] {
				if v != s.old[i*d+j] {
					c.Accepted++
				}
			}
		}
		c.Proposed += int64(n * d)
	}
	if err := framework.FiniteDense("block Gibbs states", c.Eval.Spec().Name, c.X); err != nil {
		return fmt.Errorf("gibbs: %w", err)
	}
	return nil
}
