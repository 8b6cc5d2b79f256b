package eval_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
)

// gaussSpec is the layout of the gaussian energy: W (d×d) and b (d).
func gaussSpec(d int) framework.Spec {
	return framework.Spec{Name: "gaussian", Dim: d, Blocks: []framework.Block{{Name: "W", Shape: []int{d, d}}, {Name: "b", Shape: []int{d}}}}
}

// The inverse of the biased sample covariance of gauss20 is 0.0273056… from the true precision
// in relative Frobenius norm (PROVENANCE.md); computed here with gonum, it must read so.
func TestParamErrorGauss20(t *testing.T) {
	train, err := framework.ReadCSV(dataDir + "gauss20_train.csv.gz")
	require.NoError(t, err)
	n, d := train.X.Dims()
	var cov mat.SymDense
	stat.CovarianceMatrix(&cov, train.X, nil)
	cov.ScaleSym(float64(n-1)/float64(n), &cov) // the biased (1/n) covariance
	var prec mat.Dense
	require.NoError(t, prec.Inverse(&cov))
	spec := gaussSpec(d)
	theta := make([]float64, spec.NumParams())
	copy(theta, prec.RawMatrix().Data)
	for _, o := range []eval.ParamOptions{{}, {Block: "W"}, {Block: "W", Symmetric: true}} {
		ref, err := eval.ReadReference(dataDir+"gauss20_precision.csv", spec, o)
		require.NoError(t, err)
		rel, _, err := eval.ParamError(spec, theta, ref, o.Symmetric)
		require.NoError(t, err)
		assert.InDelta(t, gauss20CFError, rel, 1e-9, "%+v", o)
	}
	// symmetric = true compares (A + Aᵀ)/2: an antisymmetric part added to A is invisible.
	skew := append([]float64(nil), theta...)
	skew[1] += 0.3
	skew[d] -= 0.3
	ref, _ := eval.ReadReference(dataDir+"gauss20_precision.csv", spec, eval.ParamOptions{})
	rs, _, _ := eval.ParamError(spec, skew, ref, true)
	ra, _, _ := eval.ParamError(spec, skew, ref, false)
	assert.InDelta(t, gauss20CFError, rs, 1e-9)
	assert.Greater(t, ra, gauss20CFError+0.01)
}

// The MLE of ising10 differs from the truth by 0.0523… at most (PROVENANCE.md), read through
// a column mapping; and a params.json reference of the energy's own blocks round-trips.
func TestParamErrorIsing(t *testing.T) {
	m := spinIsing(10)
	spec := m.Spec()
	mle, err := isingParams(dataDir + "ising10_mle.csv")
	require.NoError(t, err)
	cols := []any{}
	for j := 1; j <= 10; j++ {
		cols = append(cols, fmt.Sprintf("J%d", j))
	}
	o := eval.ParamOptions{Columns: map[string]any{"h": []any{"h"}, "J": cols}}
	require.NoError(t, o.Validate())
	ref, err := eval.ReadReference(dataDir+"ising10_params.csv", spec, o)
	require.NoError(t, err)
	_, maxAbs, err := eval.ParamError(spec, mle, ref, false)
	require.NoError(t, err)
	assert.InDelta(t, ising10MLEvsTrue, maxAbs, 1e-12)

	pf, err := framework.NewParamsFile(spec.Name, spec.Blocks, mle)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ref.json")
	require.NoError(t, framework.WriteJSONAtomic(path, pf))
	jref, err := eval.ReadReference(path, spec, eval.ParamOptions{})
	require.NoError(t, err)
	rel, maxAbs, err := eval.ParamError(spec, mle, jref, false)
	require.NoError(t, err)
	assert.Equal(t, 0.0, rel)
	assert.Equal(t, 0.0, maxAbs)

	for _, tc := range []struct {
		o    eval.ParamOptions
		want string
	}{
		{eval.ParamOptions{}, "match no block"},
		{eval.ParamOptions{Block: "K"}, `no block "K"`},
		{eval.ParamOptions{Columns: map[string]any{"h": []any{"x"}}}, `no column "x"`},
		{eval.ParamOptions{Columns: map[string]any{"J": []any{"J1"}}}, "give 10"},
	} {
		_, err := eval.ReadReference(dataDir+"ising10_params.csv", spec, tc.o)
		assert.ErrorContains(t, err, tc.want)
	}
}
