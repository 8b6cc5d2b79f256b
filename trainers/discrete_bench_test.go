package trainers_test

import (
	"math/rand/v2"
	"testing"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// benchDiscrete measures one training step (loss and gradient) of tr on an Ising energy over
// d = 64 spins at batch 256: an energy pass and a ParamVJP pass over the 256·65 = 16640 rows
// of points and their one-bit flips.
func benchDiscrete(b *testing.B, tr framework.Trainer) {
	const d, n = 64, 256
	e := discIsing(b, d, framework.Spin)
	rng := rand.New(rand.NewPCG(1, 2))
	x := discRandomPoints(rng, n, d, framework.Spin)
	theta := discRandomQuad(rng, d, 0.1)
	grad := make([]float64, len(theta))
	ev := framework.NewEvaluator(e)
	if err := tr.Init(&framework.TrainContext{Eval: ev, Train: x}); err != nil {
		b.Fatal(err)
	}
	ctx := &framework.StepContext{Eval: ev}
	if _, err := tr.Step(ctx, x, theta, grad); err != nil { // size the workspaces
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Step(ctx, x, theta, grad); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*(d+1)), "rows/pass")
}

// BenchmarkPLStepIsing64 is one pl step on ising d=64, batch 256.
func BenchmarkPLStepIsing64(b *testing.B) {
	benchDiscrete(b, trainers.NewPseudolikelihood(trainers.DefaultPLOptions()))
}

// BenchmarkRMStepIsing64 is one rm step on ising d=64, batch 256.
func BenchmarkRMStepIsing64(b *testing.B) {
	benchDiscrete(b, trainers.NewRatioMatching())
}
