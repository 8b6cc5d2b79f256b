package trainers_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// NCE on spin data with its default noise (a product of Bernoullis fitted to the marginals),
// noise held fixed and solved by L-BFGS: at the solution the learned log Z is the exact log Z
// of the learned energy (by enumerating the 1024 states) within 0.03 (NCE is consistent for
// the normaliser), and the estimate is within 0.05 of the exact MLE in every parameter (both
// estimate the true θ; PROVENANCE.md: the MLE is 0.0523 from the truth in max-abs). Continuous
// noise on spin data is refused.
func TestNCESpinsBernoulliNoise(t *testing.T) {
	x := readIsingData(t)
	d := isingD
	e := discIsing(t, d, framework.Spin)
	tr, err := trainers.NewNoiseContrastive(trainers.NCEOptions{Noise: "auto", Components: 1, EMSteps: 0, Nu: 4})
	require.NoError(t, err)
	p := d + d*d
	theta := make([]float64, p+1)
	discMinimize(t, tr, e, x, theta)
	states := isingStates(d)
	var res framework.Result
	require.NoError(t, framework.NewEvaluator(e).Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: states, Theta: theta[:p]}, &res))
	neg := make([]float64, len(res.Energy))
	for k, v := range res.Energy {
		neg[k] = -v
	}
	logZ := floats.LogSumExp(neg)
	got := isingCompact(theta[:p], d)
	diff := maxAbsDiff(got, readIsingParams(t, "ising10_mle.csv"))
	t.Logf("learned log Z %.4f, exact %.4f; max |θ − MLE| = %.3g", theta[p], logZ, diff)
	assert.InDelta(t, logZ, theta[p], 0.03)
	assert.Less(t, diff, 0.05)

	bad, err := trainers.NewNoiseContrastive(trainers.NCEOptions{Noise: "gaussian", Components: 1, Nu: 1})
	require.NoError(t, err)
	err = bad.Init(&framework.TrainContext{Eval: framework.NewEvaluator(e), Train: x})
	require.ErrorIs(t, err, framework.ErrUnsupportedDomain)
}
