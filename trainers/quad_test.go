package trainers

import (
	"fmt"
	"math/rand/v2"

	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// quadEnergy is a test energy written independently of package energy: the Gaussian energy
// E(x) = ½xᵀWx − bᵀx with W = (A+Aᵀ)/2 and θ = (A row-major, b), every output exact, and
// linear in θ with T_{A_jk}(x) = ½x_j x_k, T_{b_j}(x) = −x_j, c(x) = 0.
type quadEnergy struct {
	d      int
	caps   framework.Capability
	domain framework.Domain
}

func newQuad(d int) *quadEnergy {
	return &quadEnergy{d: d, caps: framework.CapMixed | framework.CapLaplacian | framework.CapHVP | framework.CapLinear}
}

func (q *quadEnergy) Spec() framework.Spec {
	return framework.Spec{
		Name: "quad-test", Dim: q.d, Domain: q.domain,
		Blocks: []framework.Block{{Name: "A", Shape: []int{q.d, q.d}}, {Name: "b", Shape: []int{q.d}}},
		Caps:   q.caps,
	}
}

func (q *quadEnergy) InitParams(dst []float64, _ *rand.Rand) {
	for i := range dst {
		dst[i] = 0
	}
	for j := 0; j < q.d; j++ {
		dst[j*q.d+j] = 1
	}
}

// w returns W = (A+Aᵀ)/2 and b from θ.
func (q *quadEnergy) w(theta []float64) ([]float64, []float64) {
	d := q.d
	w := make([]float64, d*d)
	for j := 0; j < d; j++ {
		for k := 0; k < d; k++ {
			w[j*d+k] = 0.5 * (theta[j*d+k] + theta[k*d+j])
		}
	}
	return w, theta[d*d:]
}

func (q *quadEnergy) Evaluate(req *framework.Request, res *framework.Result) error {
	d := q.d
	if len(req.Theta) != d*d+d {
		return fmt.Errorf("quad: θ of length %d", len(req.Theta))
	}
	w, b := q.w(req.Theta)
	n := req.Rows()
	g := make([]float64, d)
	u := make([]float64, d)
	for i := 0; i < n; i++ {
		x := req.X.RawRowView(i)
		for j := 0; j < d; j++ {
			s := -b[j]
			for k := 0; k < d; k++ {
				s += w[j*d+k] * x[k]
			}
			g[j] = s
		}
		if req.Outputs.Has(framework.OutEnergy) {
			e := 0.0
			for j := 0; j < d; j++ {
				e += 0.5*x[j]*(g[j]+b[j]) - b[j]*x[j]
			}
			res.Energy[i] = e
		}
		if req.Outputs.Has(framework.OutGradX) {
			copy(res.GradX.RawRowView(i), g)
		}
		if req.Outputs.Has(framework.OutParamVJP) {
			wi := 1.0
			if req.Weights != nil {
				wi = req.Weights[i]
			}
			for j := 0; j < d; j++ {
				for k := 0; k < d; k++ {
					res.ParamVJP[j*d+k] += wi * 0.5 * x[j] * x[k]
				}
				res.ParamVJP[d*d+j] -= wi * x[j]
			}
		}
		if req.Outputs.Has(framework.OutMixed) {
			for j := 0; j < d; j++ {
				u[j] = req.MixedSelf * g[j]
				if req.U != nil {
					u[j] += req.U.At(i, j)
				}
			}
			for j := 0; j < d; j++ {
				for k := 0; k < d; k++ {
					res.Mixed[j*d+k] += 0.5 * (u[j]*x[k] + x[j]*u[k])
				}
				res.Mixed[d*d+j] -= u[j]
			}
		}
		if req.Outputs.Has(framework.OutLaplacian) {
			tr := 0.0
			for j := 0; j < d; j++ {
				tr += w[j*d+j]
			}
			res.Laplacian[i] = tr
		}
		if req.Outputs.Has(framework.OutLaplacianVJP) {
			vi := 1.0
			if req.LapWeights != nil {
				vi = req.LapWeights[i]
			}
			for j := 0; j < d; j++ {
				res.LaplacianVJP[j*d+j] += vi
			}
		}
		if req.Outputs.Has(framework.OutHVP) {
			v, out := req.V.RawRowView(i), res.HVP.RawRowView(i)
			for j := 0; j < d; j++ {
				s := 0.0
				for k := 0; k < d; k++ {
					s += w[j*d+k] * v[k]
				}
				out[j] = s
			}
		}
	}
	return nil
}

func (q *quadEnergy) Statistics(x []float64, jac *mat.Dense, lap []float64) {
	d := q.d
	jac.Zero()
	for i := range lap {
		lap[i] = 0
	}
	for j := 0; j < d; j++ {
		for k := 0; k < d; k++ {
			r := j*d + k
			jac.Set(r, j, jac.At(r, j)+0.5*x[k])
			jac.Set(r, k, jac.At(r, k)+0.5*x[j])
		}
		lap[j*d+j] = 1
		jac.Set(d*d+j, j, -1)
	}
}

func (q *quadEnergy) OffsetGrad(x, dst []float64) float64 {
	for i := range dst {
		dst[i] = 0
	}
	return 0
}

// notLinear hides the LinearEnergy methods and capability of an energy.
type notLinear struct{ *quadEnergy }

func (n notLinear) Spec() framework.Spec {
	s := n.quadEnergy.Spec()
	s.Name = "quad-nonlinear-test"
	s.Caps &^= framework.CapLinear
	return s
}
