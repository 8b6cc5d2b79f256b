package eval_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
)

// Between N(μ₁, I) and N(μ₂, I) the scores differ by the constant μ₂ − μ₁, so the Fisher
// divergence is ½‖μ₁ − μ₂‖² on any data.
func TestFisherDivergence(t *testing.T) {
	g := shiftedNormal{d: 3, sigma: 1}
	x := normalSample(50, 3, []float64{3, 0, -1}, 1)
	v, err := eval.FisherDivergence(framework.NewEvaluator(g), []float64{1, 2, 3},
		framework.NewEvaluator(g), []float64{0, 2, 1}, x)
	require.NoError(t, err)
	assert.InDelta(t, 0.5*(1+4), v, 1e-12)
	_, err = eval.FisherDivergence(framework.NewEvaluator(spinIsing(3)), nil, framework.NewEvaluator(g), nil, x)
	assert.ErrorIs(t, err, eval.ErrUnsupported)
}

// Hyvärinen: J(θ) = D_F(p_data ‖ p_θ) − ½E‖∇log p_data‖², so on data from N(0, I) the
// score-matching loss of N(μ, I) exceeds that of N(0, I) by ½‖μ‖², up to sampling error
// mean(xᵀμ) of standard deviation ‖μ‖/√n. The Laplacian takes the Evaluator's exact path
// here and its finite-difference fallback below, with the same result.
func TestScoreMatchingLoss(t *testing.T) {
	const n = 4000
	x := normalSample(n, 2, []float64{0, 0}, 2)
	g := shiftedNormal{d: 2, sigma: 1}
	j0, err := eval.ScoreMatchingLoss(framework.NewEvaluator(g), []float64{0, 0}, x)
	require.NoError(t, err)
	mu := []float64{0.6, -0.8}
	j1, err := eval.ScoreMatchingLoss(framework.NewEvaluator(g), mu, x)
	require.NoError(t, err)
	assert.InDelta(t, 0.5, j1-j0, 4/math.Sqrt(n))
	// E[½‖x‖² − 2] = 1 − 2 under N(0, I₂).
	assert.InDelta(t, -1, j0, 4*math.Sqrt(0.5)/math.Sqrt(n))

	ev := framework.NewEvaluator(g)
	ev.ForceFallback = framework.OutLaplacian
	jf, err := eval.ScoreMatchingLoss(ev, mu, x)
	require.NoError(t, err)
	assert.InDelta(t, j1, jf, 1e-6)
	assert.Equal(t, "finite-difference", ev.Paths()["laplacian"])
}

// On the ring8 mixture with its own test data every score-based discrepancy is near zero;
// a model shrunk towards the origin is clearly worse on each.
func TestComputeContinuous(t *testing.T) {
	test, err := framework.ReadCSV(dataDir + "ring8_test.csv")
	require.NoError(t, err)
	x := test.X.Slice(0, 1000, 0, 2).(*mat.Dense)
	target := &eval.Target{Eval: framework.NewEvaluator(ring8{}), Theta: nil}
	o := eval.DefaultOptions()
	o.Samples = eval.SampleOptions{Chains: 200, Warmup: 300, Draws: 5, Thin: 20, Init: "data", InitScale: 1}
	metrics := []string{"ksd", "fisher", "sm_loss", "mmd", "pseudo_nll", "param_error"}
	in := eval.Input{Eval: framework.NewEvaluator(ring8{}), Data: x, Streams: framework.Streams{Seed: 3},
		NewSampler: func() (framework.Sampler, error) { return randomWalk{step: 0.3}, nil }, Target: target}
	good, err := eval.Compute(t.Context(), in, o, metrics)
	require.NoError(t, err)
	assert.Equal(t, 0.0, good.Values["fisher"])
	nullSD := good.Details["ksd_null_sd"].(float64)
	assert.Less(t, math.Abs(good.Values["ksd"]), 4*nullSD, "KSD within the noise of the null")
	assert.InDelta(t, 0, good.Values["mmd"], 0.01)
	assert.Contains(t, good.Errors["pseudo_nll"], "binary and spin")
	assert.Contains(t, good.Errors["param_error"], "reference")
	assert.Equal(t, 1000, good.Rows)
	assert.Equal(t, 1000, good.Details["mmd_samples"])

	// The same mixture seen through a wrongly scaled input: E(x/2) has its ring at radius 4.
	in.Eval = framework.NewEvaluator(scaled{ring8{}, 0.5})
	bad, err := eval.Compute(t.Context(), in, o, metrics)
	require.NoError(t, err)
	assert.Greater(t, bad.Values["fisher"], 1.0)
	assert.Greater(t, bad.Values["ksd"], 20*nullSD+20*math.Abs(good.Values["ksd"]))
	assert.Greater(t, bad.Values["mmd"], 20*math.Abs(good.Values["mmd"])+0.05)
	assert.Greater(t, bad.Values["sm_loss"], good.Values["sm_loss"]+1)
}

// scaled is E(a·x) of another energy (first-order outputs only; ∇ₓ = a·∇E(a·x)).
type scaled struct {
	e framework.Energy
	a float64
}

func (s scaled) Spec() framework.Spec                           { sp := s.e.Spec(); sp.Caps = 0; return sp }
func (s scaled) InitParams(dst []float64, rng *rand.Rand) error { return s.e.InitParams(dst, rng) }
func (s scaled) Evaluate(req *framework.Request, res *framework.Result) error {
	var x mat.Dense
	x.Scale(s.a, req.X)
	sub := *req
	sub.X = &x
	if err := s.e.Evaluate(&sub, res); err != nil {
		return err
	}
	if req.Outputs.Has(framework.OutGradX) {
		res.GradX.Scale(s.a, res.GradX)
	}
	return nil
}
