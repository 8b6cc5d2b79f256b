package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/goebm/goebm/framework"
)

// Compile-time checks of the tempered energies AIS runs on.
var (
	_ framework.Energy       = (*Tempered)(nil)
	_ framework.Energy       = (*TemperedRBM)(nil)
	_ framework.BlockGibbser = (*TemperedRBM)(nil)
)

// Tempered is the path of annealed importance sampling from a tractable base E₀ to an energy E,
//
//	E_β(x) = β·E(x; θ) + (1 − β)·E₀(x),  β ∈ [0, 1],
//
// with β appended to θ as a last block "beta" (shape [1]), so that a sampler sees a change of
// temperature as a change of parameters (and drops whatever it cached at the old one). The
// base is E₀(x) = ½‖x‖²/s² (the normal N(0, s²I), log Z₀ = (d/2)·log 2πs²) on ℝ^d and E₀ = 0
// (the uniform distribution, log Z₀ = d·log 2) on binary and spin domains.
//
// Tempered computes E, ∇ₓE and the parameter product itself, and Hessian-vector products when
// E does; it asks E for first-order outputs only (and HVP), by calling its Evaluate directly:
// wrap Tempered in a framework.Evaluator for chunking and fallbacks.
type Tempered struct {
	inner framework.Energy
	spec  framework.Spec
	scale float64
	p     int // parameters of the inner energy
	pool  sync.Pool
}

// temperedWork is the per-call workspace of Tempered.Evaluate.
type temperedWork struct {
	res framework.Result // the inner energy's outputs
	g0  []float64        // ∇E₀ of one row
}

// NewTempered returns the tempered path from the base to e; scale is s of the normal base
// (ignored on discrete domains).
func NewTempered(e framework.Energy, scale float64) (*Tempered, error) {
	s := e.Spec()
	if s.Domain == framework.Continuous && !(scale > 0) {
		return nil, fmt.Errorf("tempered: base scale must be positive, got %v", scale)
	}
	t := &Tempered{inner: e, scale: scale, p: s.NumParams()}
	t.spec = framework.Spec{Name: "tempered " + s.Name, Dim: s.Dim, Domain: s.Domain,
		Blocks: append(append([]framework.Block(nil), s.Blocks...), framework.Block{Name: "beta", Shape: []int{1}}),
		Caps:   s.Caps & framework.CapHVP}
	t.pool.New = func() any { return &temperedWork{g0: make([]float64, s.Dim)} }
	return t, nil
}

// Spec describes the tempered energy: the inner blocks, then "beta".
func (t *Tempered) Spec() framework.Spec { return t.spec }

// InitParams initialises the inner energy's parameters and sets β = 0.
func (t *Tempered) InitParams(dst []float64, rng *rand.Rand) error {
	dst[t.p] = 0
	return t.inner.InitParams(dst[:t.p], rng)
}

// LogZ0 returns log Z of the base.
func (t *Tempered) LogZ0() float64 {
	d := float64(t.spec.Dim)
	if t.spec.Domain.Discrete() {
		return d * math.Ln2
	}
	return 0.5 * d * math.Log(2*math.Pi*t.scale*t.scale)
}

// base returns E₀(x) and writes ∇E₀(x) into g when g is not nil.
func (t *Tempered) base(x, g []float64) float64 {
	if t.spec.Domain.Discrete() {
		if g != nil {
			clear(g)
		}
		return 0
	}
	inv := 1 / (t.scale * t.scale)
	e := 0.0
	for j, v := range x {
		e += v * v
		if g != nil {
			g[j] = v * inv
		}
	}
	return 0.5 * e * inv
}

// Evaluate computes E_β and its derivatives. The parameter product is
// Σᵢ wᵢ ∇θE_β(xᵢ) = (β·Σᵢ wᵢ∇θE(xᵢ), Σᵢ wᵢ (E(xᵢ) − E₀(xᵢ))).
func (t *Tempered) Evaluate(req *framework.Request, res *framework.Result) error {
	if err := checkShape(t.spec, req); err != nil {
		return err
	}
	n, d := req.Rows(), t.spec.Dim
	beta := req.Theta[t.p]
	w := t.pool.Get().(*temperedWork)
	defer t.pool.Put(w)
	in, g0 := &w.res, w.g0
	o := req.Outputs & (framework.FirstOrder | framework.OutHVP)
	if req.Outputs.Has(framework.OutParamVJP) {
		o |= framework.OutEnergy
	}
	sub := framework.Request{Outputs: o, X: req.X, Theta: req.Theta[:t.p], Weights: req.Weights, V: req.V}
	in.Reset(o, n, d, t.p)
	if err := t.inner.Evaluate(&sub, in); err != nil {
		return err
	}
	var vjpBeta float64
	for i := 0; i < n; i++ {
		x := req.X.RawRowView(i)
		e0 := t.base(x, g0)
		if o.Has(framework.OutEnergy) {
			e := in.Energy[i]
			if req.Outputs.Has(framework.OutEnergy) {
				res.Energy[i] = beta*e + (1-beta)*e0
			}
			if req.Outputs.Has(framework.OutParamVJP) {
				wi := 1.0
				if req.Weights != nil {
					wi = req.Weights[i]
				}
				vjpBeta += wi * (e - e0)
			}
		}
		if req.Outputs.Has(framework.OutGradX) {
			gi, out := in.GradX.RawRowView(i), res.GradX.RawRowView(i)
			for j := range out {
				out[j] = beta*gi[j] + (1-beta)*g0[j]
			}
		}
		if req.Outputs.Has(framework.OutHVP) {
			hi, out, v := in.HVP.RawRowView(i), res.HVP.RawRowView(i), req.V.RawRowView(i)
			c := 0.0
			if !t.spec.Domain.Discrete() {
				c = (1 - beta) / (t.scale * t.scale)
			}
			for j := range out {
				out[j] = beta*hi[j] + c*v[j]
			}
		}
	}
	if req.Outputs.Has(framework.OutParamVJP) {
		for k, v := range in.ParamVJP {
			res.ParamVJP[k] += beta * v
		}
		res.ParamVJP[t.p] += vjpBeta
	}
	return nil
}

// checkShape returns a *framework.ShapeError when θ or X of req does not fit spec.
func checkShape(spec framework.Spec, req *framework.Request) error {
	if p := spec.NumParams(); len(req.Theta) != p {
		return &framework.ShapeError{What: "θ", Want: fmt.Sprint(p), Got: fmt.Sprint(len(req.Theta))}
	}
	if req.X == nil {
		return fmt.Errorf("request has no points")
	}
	if n, d := req.X.Dims(); d != spec.Dim {
		return &framework.ShapeError{What: "X", Want: fmt.Sprintf("n×%d", spec.Dim), Got: fmt.Sprintf("%d×%d", n, d)}
	}
	return nil
}
