package energy

import (
	"math/rand/v2"
	"testing"

	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// BenchmarkRBMDigitsStep is the energy's share of one step of the digits workload (PCD-1 on
// 64 visible and 64 hidden units, batch 10): a block-Gibbs sweep of 10 chains and the loss
// request (E and Σwᵢ∇θE) on the 20 rows [data; chains].
//
//	go test -run '^$' -bench RBMDigits ./energy/
func BenchmarkRBMDigitsStep(b *testing.B) {
	e, _ := NewRBM(64, 64)
	rng := rand.New(rand.NewPCG(1, 2))
	theta := make([]float64, e.numParams())
	e.InitParams(theta, rng)
	for i := range theta {
		theta[i] += 0.1 * rng.NormFloat64()
	}
	x := mat.NewDense(20, 64, nil)
	for i := 0; i < 20; i++ {
		for j := 0; j < 64; j++ {
			x.Set(i, j, float64(rng.IntN(2)))
		}
	}
	chains := mat.DenseCopyOf(x.Slice(10, 20, 0, 64))
	rngs := framework.Streams{Seed: 1}.Rands("bench", 10)
	w := make([]float64, 20)
	for i := range w {
		w[i] = 0.1
		if i >= 10 {
			w[i] = -0.1
		}
	}
	req := framework.Request{Outputs: framework.OutEnergy | framework.OutParamVJP, X: x, Theta: theta, Weights: w}
	var res framework.Result
	b.Run("gibbs", func(b *testing.B) {
		for range b.N {
			if err := e.BlockGibbs(theta, chains, rngs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("loss", func(b *testing.B) {
		for range b.N {
			res.Reset(req.Outputs, 20, 64, len(theta))
			if err := e.Evaluate(&req, &res); err != nil {
				b.Fatal(err)
			}
		}
	})
}
