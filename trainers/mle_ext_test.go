package trainers_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// mle by L-BFGS on ising10 (log Z by enumerating the 1024 states) reaches the exact
// maximum-likelihood estimate computed here by Newton's method on the likelihood written from
// scratch, and examples/data/ising10_mle.csv.
func TestMLEIsing10(t *testing.T) {
	x := readIsingData(t)
	d := isingD
	mle := isingMLE(t, x)
	e := discIsing(t, d, framework.Spin)
	theta := make([]float64, d+d*d)
	discMinimize(t, trainers.NewMaximumLikelihood(), e, x, theta)
	got := isingCompact(theta, d)
	assert.Less(t, maxAbsDiff(got, mle), 1e-6)
	assert.Less(t, maxAbsDiff(got, readIsingParams(t, "ising10_mle.csv")), 1e-6)
}
