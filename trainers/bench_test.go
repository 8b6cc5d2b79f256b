package trainers

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
)

// benchRing8 returns the ring8 workload of the PyTorch peer: the 2→64→64→1 softplus MLP at
// torch's initial weights (seed 0) and the first n rows of ring8_train.
func benchRing8(b *testing.B, n int) (*framework.Evaluator, []float64, *mat.Dense) {
	b.Helper()
	tm, err := energy.LoadTorchMLP("../examples/data/mlp2d_init_torch_seed0.json")
	if err != nil {
		b.Fatal(err)
	}
	m, err := energy.NewMLP(tm.Dim, tm.Hidden, "softplus")
	if err != nil {
		b.Fatal(err)
	}
	ds, err := framework.ReadCSV("../examples/data/ring8_train.csv.gz")
	if err != nil {
		b.Fatal(err)
	}
	x := mat.DenseCopyOf(ds.X.Slice(0, n, 0, tm.Dim))
	return framework.NewEvaluator(m), tm.Theta, x
}

// benchStep times one Step (loss and gradient) of tr on the ring8 MLP at batch 256.
func benchStep(b *testing.B, tr framework.Trainer) {
	ev, theta, x := benchRing8(b, 256)
	if err := tr.Init(&framework.TrainContext{Eval: ev, Train: x}); err != nil {
		b.Fatal(err)
	}
	if e, ok := tr.(framework.Extender); ok {
		extra := make([]float64, 1)
		e.InitExtra(extra)
		theta = append(theta, extra...)
	}
	ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(1, 2))}
	grad := make([]float64, len(theta))
	if _, err := tr.Step(ctx, x, theta, grad); err != nil { // sizes the buffers
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := tr.Step(ctx, x, theta, grad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepSM is one exact score-matching step: one request for ∇ₓE, the Laplacian, the
// mixed product and the Laplacian's θ-gradient.
func BenchmarkStepSM(b *testing.B) { benchStep(b, NewScoreMatching(SMOptions{})) }

// BenchmarkStepDSM is one denoising score-matching step, σ = 0.1, one draw per point: one
// request for ∇ₓE and the mixed product.
func BenchmarkStepDSM(b *testing.B) {
	tr, err := NewDenoisingScoreMatching(DefaultDSMOptions())
	if err != nil {
		b.Fatal(err)
	}
	benchStep(b, tr)
}

// BenchmarkStepSSM is one sliced score-matching step, one Gaussian projection per point: a
// request for ∇ₓE and the Hessian-vector product, and one for the mixed products at
// [x + hv; x − hv; x].
func BenchmarkStepSSM(b *testing.B) {
	tr, err := NewSlicedScoreMatching(DefaultSSMOptions())
	if err != nil {
		b.Fatal(err)
	}
	benchStep(b, tr)
}

// BenchmarkStepNCE is one noise-contrastive step, ν = 1, Gaussian noise: an energy request
// and a parameter VJP over 256 data and 256 noise points.
func BenchmarkStepNCE(b *testing.B) {
	tr, err := NewNoiseContrastive(DefaultNCEOptions())
	if err != nil {
		b.Fatal(err)
	}
	benchStep(b, tr)
}
