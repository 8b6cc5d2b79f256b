package check_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// quartic is E(x) = θ·Σₖ xₖ⁴/4 with first-order outputs only.
type quartic struct{ d int }

func (q quartic) Spec() framework.Spec {
	return framework.Spec{Name: "quartic", Dim: q.d, Blocks: []framework.Block{{Name: "a", Shape: []int{1}}}}
}

func (q quartic) InitParams(dst []float64, _ *rand.Rand) error { dst[0] = 1; return nil }

func (q quartic) Evaluate(req *framework.Request, res *framework.Result) error {
	if len(req.Theta) != 1 {
		return fmt.Errorf("θ has length %d, want 1", len(req.Theta))
	}
	n, d := req.X.Dims()
	if d != q.d {
		return fmt.Errorf("X has %d columns, want %d", d, q.d)
	}
	a := req.Theta[0]
	for i := 0; i < n; i++ {
		x := req.X.RawRowView(i)
		s := 0.0
		for k, v := range x {
			s += math.Pow(v, 4) / 4
			if req.Outputs.Has(framework.OutGradX) {
				res.GradX.Set(i, k, a*v*v*v)
			}
		}
		if req.Outputs.Has(framework.OutEnergy) {
			res.Energy[i] = a * s
		}
		if req.Outputs.Has(framework.OutParamVJP) {
			w := 1.0
			if req.Weights != nil {
				w = req.Weights[i]
			}
			res.ParamVJP[0] += w * s
		}
	}
	return nil
}

func ExampleEnergy() {
	x := mat.NewDense(3, 2, []float64{0.5, -1, 2, 0.25, -1.5, 1})
	rep, err := check.Energy(quartic{d: 2}, []float64{0.7}, x, check.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, it := range rep.Items {
		fmt.Println(it.Name, it.Pass)
	}
	// Output:
	// shapes true
	// inputs true
	// finite true
	// determinism true
	// batch true
	// strided true
	// subsets true
	// defaults true
	// concurrency true
	// bad_request true
	// grad_x true
	// param_vjp true
}
