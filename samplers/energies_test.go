package samplers

import (
	"math"
	"math/rand/v2"

	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// Small energies for the tests, written here so that the samplers are checked against
// mathematics independent of package energy.

// rowEnergy is an energy given by one function per row: it returns E(x), writes ∇ₓE into gx
// when gx is not nil and adds w·∇θE into gp when gp is not nil.
type rowEnergy struct {
	spec framework.Spec
	row  func(theta, x, gx []float64, w float64, gp []float64) float64
	// block, when not nil, makes the energy a framework.BlockGibbser.
	block func(theta []float64, x *mat.Dense, rngs []*rand.Rand) error
}

func (e *rowEnergy) Spec() framework.Spec                     { return e.spec }
func (e *rowEnergy) InitParams(dst []float64, rng *rand.Rand) {}

func (e *rowEnergy) Evaluate(req *framework.Request, res *framework.Result) error {
	n, _ := req.X.Dims()
	for i := 0; i < n; i++ {
		var gx, gp []float64
		if req.Outputs.Has(framework.OutGradX) {
			gx = res.GradX.RawRowView(i)
		}
		w := 1.0
		if req.Outputs.Has(framework.OutParamVJP) {
			gp = res.ParamVJP
			if req.Weights != nil {
				w = req.Weights[i]
			}
		}
		v := e.row(req.Theta, req.X.RawRowView(i), gx, w, gp)
		if req.Outputs.Has(framework.OutEnergy) {
			res.Energy[i] = v
		}
	}
	return nil
}

type blockEnergy struct{ *rowEnergy }

func (e blockEnergy) BlockGibbs(theta []float64, x *mat.Dense, rngs []*rand.Rand) error {
	return e.block(theta, x, rngs)
}

// gaussDiag is E(x) = ½ Σⱼ θⱼ xⱼ²: N(0, diag(1/θ)).
func gaussDiag(d int) framework.Energy {
	return &rowEnergy{
		spec: framework.Spec{Name: "test-gauss", Dim: d, Blocks: []framework.Block{{Name: "w", Shape: []int{d}}}},
		row: func(theta, x, gx []float64, w float64, gp []float64) float64 {
			e := 0.0
			for j, v := range x {
				e += 0.5 * theta[j] * v * v
				if gx != nil {
					gx[j] = theta[j] * v
				}
				if gp != nil {
					gp[j] += w * 0.5 * v * v
				}
			}
			return e
		},
	}
}

// ringCentres are 2(cos kπ/4, sin kπ/4), k = 0..7.
func ringCentres() [][2]float64 {
	c := make([][2]float64, 8)
	for k := range c {
		c[k] = [2]float64{2 * math.Cos(float64(k)*math.Pi/4), 2 * math.Sin(float64(k)*math.Pi/4)}
	}
	return c
}

// ring8 is the mixture of 8 equally weighted N(μₖ, 0.25²I): E(x) = −log p(x), no parameters.
func ring8() framework.Energy {
	mu := ringCentres()
	const s2 = 0.25 * 0.25
	return &rowEnergy{
		spec: framework.Spec{Name: "test-ring8", Dim: 2},
		row: func(_, x, gx []float64, _ float64, _ []float64) float64 {
			var l [8]float64
			top := math.Inf(-1)
			for k, m := range mu {
				dx, dy := x[0]-m[0], x[1]-m[1]
				l[k] = -(dx*dx + dy*dy) / (2 * s2)
				top = max(top, l[k])
			}
			z, gxs, gys := 0.0, 0.0, 0.0
			for k, m := range mu {
				r := math.Exp(l[k] - top)
				z += r
				gxs += r * (x[0] - m[0]) / s2
				gys += r * (x[1] - m[1]) / s2
			}
			if gx != nil {
				gx[0], gx[1] = gxs/z, gys/z
			}
			// −log[(1/8) Σₖ exp(lₖ)/(2πs²)]
			return -(top + math.Log(z)) + math.Log(8*2*math.Pi*s2)
		},
	}
}

func sigmoid(a float64) float64 { return 1 / (1 + math.Exp(-a)) }

func softplus(a float64) float64 {
	if a > 0 {
		return a + math.Log1p(math.Exp(-a))
	}
	return math.Log1p(math.Exp(a))
}

// rbmEnergy is the free energy of a binary RBM with dv visible and nh hidden units,
// F(v) = −bᵀv − Σₖ softplus(cₖ + Wₖ·v), θ = (W nh×dv, b, c), with block Gibbs
// v → h ~ σ(c + Wv) → v ~ σ(b + Wᵀh).
func rbmEnergy(dv, nh int) framework.Energy {
	e := &rowEnergy{
		spec: framework.Spec{Name: "test-rbm", Dim: dv, Domain: framework.Binary, Caps: framework.CapBlockGibbs,
			Blocks: []framework.Block{{Name: "W", Shape: []int{nh, dv}}, {Name: "b", Shape: []int{dv}}, {Name: "c", Shape: []int{nh}}}},
		row: func(theta, v, gx []float64, w float64, gp []float64) float64 {
			W, b, c := theta[:nh*dv], theta[nh*dv:nh*dv+dv], theta[nh*dv+dv:]
			f := 0.0
			for j := range v {
				f -= b[j] * v[j]
				if gx != nil {
					gx[j] = -b[j]
				}
				if gp != nil {
					gp[nh*dv+j] -= w * v[j]
				}
			}
			for k := 0; k < nh; k++ {
				a := c[k]
				for j := range v {
					a += W[k*dv+j] * v[j]
				}
				f -= softplus(a)
				p := sigmoid(a)
				if gx != nil {
					for j := range v {
						gx[j] -= p * W[k*dv+j]
					}
				}
				if gp != nil {
					for j := range v {
						gp[k*dv+j] -= w * p * v[j]
					}
					gp[nh*dv+dv+k] -= w * p
				}
			}
			return f
		},
	}
	e.block = func(theta []float64, x *mat.Dense, rngs []*rand.Rand) error {
		W, b, c := theta[:nh*dv], theta[nh*dv:nh*dv+dv], theta[nh*dv+dv:]
		n, _ := x.Dims()
		h := make([]float64, nh)
		for i := 0; i < n; i++ {
			v, rng := x.RawRowView(i), rngs[i]
			for k := range h {
				a := c[k]
				for j := range v {
					a += W[k*dv+j] * v[j]
				}
				h[k] = 0
				if rng.Float64() < sigmoid(a) {
					h[k] = 1
				}
			}
			for j := range v {
				a := b[j]
				for k := range h {
					a += W[k*dv+j] * h[k]
				}
				v[j] = 0
				if rng.Float64() < sigmoid(a) {
					v[j] = 1
				}
			}
		}
		return nil
	}
	return blockEnergy{e}
}
