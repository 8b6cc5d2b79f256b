package framework

import (
	"errors"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// quartic is a test energy with every output exact:
// E(x; θ) = Σⱼ aⱼ xⱼ² /2 + cⱼ xⱼ⁴ /4 + bⱼ xⱼ, θ = (a, b, c) ∈ ℝ^{3d}.
// It is not quadratic in x, so the fallbacks are not exact on it.
type quartic struct {
	d    int
	caps Capability
	nan  bool // return NaN energies, for the guard tests
}

func (q *quartic) Spec() Spec {
	return Spec{Name: "quartic", Dim: q.d, Domain: Continuous, Caps: q.caps,
		Blocks: []Block{{"a", []int{q.d}}, {"b", []int{q.d}}, {"c", []int{q.d}}}}
}

func (q *quartic) InitParams(dst []float64, rng *rand.Rand) error {
	for i := range dst {
		dst[i] = 0.5 + rng.Float64()
	}
	return nil
}

func (q *quartic) Evaluate(req *Request, res *Result) error {
	if req.MixedSelf != 0 && !q.caps.Has(CapMixedSelf) {
		return errors.New("quartic: asked for MixedSelf without CapMixedSelf")
	}
	d := q.d
	a, b, c := req.Theta[:d], req.Theta[d:2*d], req.Theta[2*d:]
	n, _ := req.X.Dims()
	w := func(s []float64, i int) float64 {
		if s == nil {
			return 1
		}
		return s[i]
	}
	for i := 0; i < n; i++ {
		x := req.X.RawRowView(i)
		e, lap := 0.0, 0.0
		for j, xj := range x {
			e += a[j]*xj*xj/2 + c[j]*xj*xj*xj*xj/4 + b[j]*xj
			g := a[j]*xj + c[j]*xj*xj*xj + b[j]
			h := a[j] + 3*c[j]*xj*xj
			lap += h
			if req.Outputs.Has(OutGradX) {
				res.GradX.Set(i, j, g)
			}
			if req.Outputs.Has(OutParamVJP) {
				wi := w(req.Weights, i)
				res.ParamVJP[j] += wi * xj * xj / 2
				res.ParamVJP[d+j] += wi * xj
				res.ParamVJP[2*d+j] += wi * xj * xj * xj * xj / 4
			}
			if req.Outputs.Has(OutMixed) {
				u := req.MixedSelf * g
				if req.U != nil {
					u += req.U.At(i, j)
				}
				// ∂g/∂a = x, ∂g/∂b = 1, ∂g/∂c = x³
				res.Mixed[j] += u * xj
				res.Mixed[d+j] += u
				res.Mixed[2*d+j] += u * xj * xj * xj
			}
			if req.Outputs.Has(OutLaplacianVJP) {
				v := w(req.LapWeights, i)
				res.LaplacianVJP[j] += v
				res.LaplacianVJP[2*d+j] += v * 3 * xj * xj
			}
			if req.Outputs.Has(OutHVP) {
				res.HVP.Set(i, j, h*req.V.At(i, j))
			}
			if req.Outputs.Has(OutParamJac) {
				res.ParamJac.Set(i, j, xj*xj/2)
				res.ParamJac.Set(i, d+j, xj)
				res.ParamJac.Set(i, 2*d+j, xj*xj*xj*xj/4)
			}
		}
		if req.Outputs.Has(OutEnergy) {
			if q.nan && i == n-1 {
				e = math.NaN()
			}
			res.Energy[i] = e
		}
		if req.Outputs.Has(OutLaplacian) {
			res.Laplacian[i] = lap
		}
	}
	return nil
}

func randDense(rng *rand.Rand, n, d int) *mat.Dense {
	m := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			m.Set(i, j, rng.NormFloat64())
		}
	}
	return m
}

func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}
