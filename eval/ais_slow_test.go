//go:build slow

package eval_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/eval"
)

// Over 100 seeds, the AIS interval log Ẑ ± z·SE covers the exact log Z of rbm12 at about the
// normal rate: 68% for z = 1 and 95% for z = 1.96. With 100 repeats the binomial standard
// deviation of a 95% rate is 2.2 points, so the bounds below are about three of them.
func TestAISCoverage(t *testing.T) {
	r, theta := rbm12()
	m, _ := eval.RBMOf(r.Spec(), theta)
	exact, err := m.LogZ(1)
	require.NoError(t, err)
	o := eval.AISOptions{Temperatures: 500, Chains: 200, Steps: 1, Schedule: "sigmoid", BaseScale: 1}
	const reps = 100
	var in1, in2 int
	var sumZ float64
	for seed := uint64(1000); seed < 1000+reps; seed++ {
		res := aisRBM(t, seed, o)
		dev := math.Abs(res.LogZ - exact)
		if dev <= res.SE {
			in1++
		}
		if dev <= 1.96*res.SE {
			in2++
		}
		sumZ += res.LogZ
	}
	t.Logf("exact %.6f, mean AIS %.6f; coverage ±1 SE %d%%, ±1.96 SE %d%%", exact, sumZ/reps, in1, in2)
	assert.InDelta(t, 68, in1, 15, "±1 SE")
	assert.InDelta(t, 95, in2, 7, "±1.96 SE")
}
