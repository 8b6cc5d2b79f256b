package trainers

import (
	"math/rand/v2"

	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// diagEnergy is E(x) = Σ_j ½w_j x_j² − b_j x_j, θ = (w, b): a linear energy whose
// score-matching matrix is full rank. Only what the closed form needs is implemented.
type diagEnergy struct{ d int }

func (e *diagEnergy) Spec() framework.Spec {
	return framework.Spec{Name: "diag-test", Dim: e.d,
		Blocks: []framework.Block{{Name: "w", Shape: []int{e.d}}, {Name: "b", Shape: []int{e.d}}},
		Caps:   framework.CapLinear}
}

func (e *diagEnergy) InitParams(dst []float64, _ *rand.Rand) {}

func (e *diagEnergy) Evaluate(req *framework.Request, res *framework.Result) error {
	d := e.d
	for i := 0; i < req.Rows(); i++ {
		x := req.X.RawRowView(i)
		for j := 0; j < d; j++ {
			g := req.Theta[j]*x[j] - req.Theta[d+j]
			if req.Outputs.Has(framework.OutGradX) {
				res.GradX.Set(i, j, g)
			}
		}
	}
	return nil
}

func (e *diagEnergy) Statistics(x []float64, jac *mat.Dense, lap []float64) {
	d := e.d
	for j := 0; j < d; j++ {
		jac.Set(j, j, x[j])
		lap[j] = 1
		jac.Set(d+j, j, -1)
	}
}

func (e *diagEnergy) OffsetGrad(x, dst []float64) float64 {
	for i := range dst {
		dst[i] = 0
	}
	return 0
}
