package eval_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goebm/goebm/energy"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// Test energies written here from their own formulas, so that a test checks eval against an
// independent computation. Each computes E and ∇ₓE (and the parameter product where a test
// needs it). The Ising model is the built-in one (its own tests check it).

// shiftedNormal is E(x) = ½‖x − μ‖²/σ², block "mu" (d); log Z = (d/2)·log 2πσ².
type shiftedNormal struct {
	d     int
	sigma float64
}

func (g shiftedNormal) Spec() framework.Spec {
	return framework.Spec{Name: "test-normal", Dim: g.d, Domain: framework.Continuous,
		Blocks: []framework.Block{{Name: "mu", Shape: []int{g.d}}}, Caps: framework.CapLaplacian}
}
func (g shiftedNormal) InitParams(dst []float64, _ *rand.Rand) error { clear(dst); return nil }
func (g shiftedNormal) logZ() float64 {
	return 0.5 * float64(g.d) * math.Log(2*math.Pi*g.sigma*g.sigma)
}
func (g shiftedNormal) Evaluate(req *framework.Request, res *framework.Result) error {
	n := req.Rows()
	s2 := g.sigma * g.sigma
	for i := 0; i < n; i++ {
		x := req.X.RawRowView(i)
		e := 0.0
		for j, v := range x {
			r := v - req.Theta[j]
			e += r * r
			if req.Outputs.Has(framework.OutGradX) {
				res.GradX.Set(i, j, r/s2)
			}
			if req.Outputs.Has(framework.OutParamVJP) {
				w := 1.0
				if req.Weights != nil {
					w = req.Weights[i]
				}
				res.ParamVJP[j] -= w * r / s2
			}
		}
		if req.Outputs.Has(framework.OutEnergy) {
			res.Energy[i] = 0.5 * e / s2
		}
		if req.Outputs.Has(framework.OutLaplacian) {
			res.Laplacian[i] = float64(g.d) / s2
		}
		// ΔE does not depend on μ: its parameter product is the zero that Reset left.
	}
	return nil
}

// ring8 is the unnormalised mixture of examples/data/PROVENANCE.md: eight isotropic normals,
// standard deviation 0.25, centred at 2(cos kπ/4, sin kπ/4):
// E(x) = −log Σₖ exp(−‖x − μₖ‖²/(2σ²)), so that Z = 8·2πσ².
type ring8 struct{}

const ringSigma = 0.25

func (ring8) Spec() framework.Spec {
	return framework.Spec{Name: "test-ring8", Dim: 2, Domain: framework.Continuous}
}
func (ring8) InitParams([]float64, *rand.Rand) error { return nil }
func (ring8) Evaluate(req *framework.Request, res *framework.Result) error {
	for i := 0; i < req.Rows(); i++ {
		x := req.X.RawRowView(i)
		var lw [8]float64
		mx := math.Inf(-1)
		for k := range lw {
			a := float64(k) * math.Pi / 4
			dx, dy := x[0]-2*math.Cos(a), x[1]-2*math.Sin(a)
			lw[k] = -(dx*dx + dy*dy) / (2 * ringSigma * ringSigma)
			mx = math.Max(mx, lw[k])
		}
		s, gx, gy := 0.0, 0.0, 0.0
		for k, l := range lw {
			w := math.Exp(l - mx)
			a := float64(k) * math.Pi / 4
			s += w
			gx += w * (x[0] - 2*math.Cos(a)) / (ringSigma * ringSigma)
			gy += w * (x[1] - 2*math.Sin(a)) / (ringSigma * ringSigma)
		}
		if req.Outputs.Has(framework.OutEnergy) {
			res.Energy[i] = -(mx + math.Log(s))
		}
		if req.Outputs.Has(framework.OutGradX) {
			res.GradX.Set(i, 0, gx/s)
			res.GradX.Set(i, 1, gy/s)
		}
	}
	return nil
}

// spinIsing returns the built-in ising energy on d spins.
func spinIsing(d int) framework.Energy {
	e, err := energy.NewIsing(d, true)
	if err != nil {
		panic(err)
	}
	return e
}

// isingParams reads a parameter file of PROVENANCE's layout (h, J1..Jd per row) into θ.
func isingParams(path string) ([]float64, error) {
	_, theta, err := energy.LoadIsingParams(path)
	return theta, err
}

// rbm is the free energy F(v) = −bᵀv − Σⱼ softplus(cⱼ + Wⱼ·v), blocks W (H×D), b, c.
type rbm struct{ h, d int }

func (r rbm) Spec() framework.Spec {
	return framework.Spec{Name: "test-rbm", Dim: r.d, Domain: framework.Binary,
		Blocks: []framework.Block{{Name: "W", Shape: []int{r.h, r.d}}, {Name: "b", Shape: []int{r.d}}, {Name: "c", Shape: []int{r.h}}}}
}
func (r rbm) InitParams(dst []float64, rng *rand.Rand) error {
	for i := range dst {
		dst[i] = rng.NormFloat64()
	}
	return nil
}
func (r rbm) free(theta, v []float64) float64 {
	W, b, c := theta[:r.h*r.d], theta[r.h*r.d:r.h*r.d+r.d], theta[r.h*r.d+r.d:]
	f := 0.0
	for i := range v {
		f -= b[i] * v[i]
	}
	for j := 0; j < r.h; j++ {
		a := c[j]
		for i := range v {
			a += W[j*r.d+i] * v[i]
		}
		f -= math.Log1p(math.Exp(a))
	}
	return f
}
func (r rbm) Evaluate(req *framework.Request, res *framework.Result) error {
	if req.Outputs&^framework.OutEnergy != 0 {
		return fmt.Errorf("test-rbm computes energies only")
	}
	for i := 0; i < req.Rows(); i++ {
		res.Energy[i] = r.free(req.Theta, req.X.RawRowView(i))
	}
	return nil
}

// Test samplers.

// blockGibbs runs the energy's own block-Gibbs sweeps.
type blockGibbs struct{}

func (blockGibbs) Supports(s framework.Spec) error {
	if !s.Caps.Has(framework.CapBlockGibbs) {
		return fmt.Errorf("no block gibbs: %w", framework.ErrUnsupportedDomain)
	}
	return nil
}
func (blockGibbs) Run(c *framework.Chains, steps int) error {
	bg := c.Eval.Energy().(framework.BlockGibbser)
	for t := 0; t < steps; t++ {
		if err := bg.BlockGibbs(c.Theta, c.X, c.RNG); err != nil {
			return err
		}
	}
	return nil
}

// flipMetropolis proposes to flip one random site per chain per step and accepts with
// probability min(1, exp(E(x) − E(x'))).
type flipMetropolis struct{}

func (flipMetropolis) Supports(s framework.Spec) error {
	if !s.Domain.Discrete() {
		return framework.ErrUnsupportedDomain
	}
	return nil
}
func (flipMetropolis) Run(c *framework.Chains, steps int) error {
	n, d := c.X.Dims()
	spin := c.Eval.Spec().Domain == framework.Spin
	y := mat.NewDense(n, d, nil)
	var r0, r1 framework.Result
	for t := 0; t < steps; t++ {
		y.Copy(c.X)
		site := make([]int, n)
		for i := 0; i < n; i++ {
			site[i] = c.RNG[i].IntN(d)
			v := y.At(i, site[i])
			if spin {
				y.Set(i, site[i], -v)
			} else {
				y.Set(i, site[i], 1-v)
			}
		}
		if err := c.Eval.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: c.X, Theta: c.Theta}, &r0); err != nil {
			return err
		}
		if err := c.Eval.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: y, Theta: c.Theta}, &r1); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if c.RNG[i].Float64() < math.Exp(r0.Energy[i]-r1.Energy[i]) {
				c.X.SetRow(i, y.RawRowView(i))
			}
		}
	}
	return nil
}

// randomWalk is Metropolis with a N(0, step²I) proposal.
type randomWalk struct{ step float64 }

func (randomWalk) Supports(s framework.Spec) error {
	if s.Domain != framework.Continuous {
		return framework.ErrUnsupportedDomain
	}
	return nil
}
func (w randomWalk) Run(c *framework.Chains, steps int) error {
	n, d := c.X.Dims()
	y := mat.NewDense(n, d, nil)
	var r0, r1 framework.Result
	for t := 0; t < steps; t++ {
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				y.Set(i, j, c.X.At(i, j)+w.step*c.RNG[i].NormFloat64())
			}
		}
		if err := c.Eval.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: c.X, Theta: c.Theta}, &r0); err != nil {
			return err
		}
		if err := c.Eval.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: y, Theta: c.Theta}, &r1); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if c.RNG[i].Float64() < math.Exp(r0.Energy[i]-r1.Energy[i]) {
				c.X.SetRow(i, y.RawRowView(i))
			}
		}
	}
	return nil
}
