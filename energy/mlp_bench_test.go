package energy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// Run with
//
//	go test -run '^$' -bench MLP -benchtime 200x ./energy/
//
// The energy allocates nothing per call once its sync.Pool holds a workspace per P, and the
// Evaluator nothing per request, at either batch.

// benchMLP returns the ring8 workload: the 2→64→64→1 softplus MLP at torch's initial
// weights and n standard normal points scaled to the ring's spread.
func benchMLP(b *testing.B, n int) (*MLP, []float64, *mat.Dense) {
	b.Helper()
	tm, err := LoadTorchMLP("../examples/data/mlp2d_init_torch_seed0.json")
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewMLP(tm.Dim, tm.Hidden, "softplus")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	return m, tm.Theta, normalPoints(rng, n, 2, 1.5)
}

// BenchmarkMLPFirstOrder is one request for E, ∇ₓE and Σᵢ wᵢ∇θE through an Evaluator (the
// work of a DSM or contrastive-divergence step).
func BenchmarkMLPFirstOrder(b *testing.B) {
	for _, n := range []int{256, 4096} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			m, theta, x := benchMLP(b, n)
			ev := framework.NewEvaluator(m)
			w := make([]float64, n)
			for i := range w {
				w[i] = 1 / float64(n)
			}
			req := framework.Request{Outputs: framework.FirstOrder, X: x, Theta: theta, Weights: w}
			var res framework.Result
			for range 3 { // warm the workspace pool
				if err := ev.Evaluate(&req, &res); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := ev.Evaluate(&req, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMLPExactSM is the request of an exact score-matching step: ∇ₓE, the mixed product
// with u = ∇ₓE (MixedSelf, the ½‖∇ₓE‖² term), the Laplacian and its θ-gradient.
func BenchmarkMLPExactSM(b *testing.B) {
	for _, n := range []int{256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			m, theta, x := benchMLP(b, n)
			ev := framework.NewEvaluator(m)
			v := make([]float64, n)
			for i := range v {
				v[i] = 1 / float64(n)
			}
			req := framework.Request{
				Outputs: framework.OutGradX | framework.OutMixed | framework.OutLaplacian | framework.OutLaplacianVJP,
				X:       x, Theta: theta, MixedSelf: 1 / float64(n), LapWeights: v,
			}
			var res framework.Result
			for range 3 { // warm the workspace pool
				if err := ev.Evaluate(&req, &res); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := ev.Evaluate(&req, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
