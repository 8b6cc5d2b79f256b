package eval_test

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// Standard errors of the score-matching estimate of a 1-d Gaussian, E(x) = ½wx² − bx: for
// N(0, 1) data the estimate is ŵ = 1/s², b̂ = ŵx̄, with asymptotic standard errors √(2w²/n)
// and √(w/n), about 0.045 and 0.032 for n = 1000 (the sandwich uses the data's own fourth
// moments, so it differs from these by sampling error).
func ExampleStandardErrors() {
	rng := rand.New(rand.NewPCG(1, 2))
	x := mat.NewDense(1000, 1, nil)
	for i := 0; i < 1000; i++ {
		x.Set(i, 0, rng.NormFloat64())
	}
	e, _ := energy.NewGaussian(1, false)
	ev := framework.NewEvaluator(e)
	tr := trainers.NewScoreMatching(trainers.SMOptions{ClosedForm: true})
	ctx := &framework.TrainContext{Eval: ev, Train: x}
	_ = tr.Init(ctx)
	theta := make([]float64, 2)
	_, _ = tr.Solve(ctx, theta)
	se, err := eval.StandardErrors(ev, trainers.NewScoreMatching(trainers.SMOptions{}), x, theta, e.Spec().Blocks, framework.Streams{Seed: 1}, eval.DefaultSEOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range se.Blocks {
		fmt.Printf("%s = %.2f ± %.3f\n", b.Name, b.Estimate[0], b.SE[0])
	}
	// Output:
	// W = 1.01 ± 0.043
	// b = 0.02 ± 0.032
}
