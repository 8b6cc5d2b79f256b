package energy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/framework"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// randomTheta returns θ drawn by InitParams and then perturbed by N(0, scale²) noise, so that
// no block sits at a special value (identity, zero).
func randomTheta(e framework.Energy, rng *rand.Rand, scale float64) []float64 {
	theta := make([]float64, e.Spec().NumParams())
	e.InitParams(theta, rng)
	for i := range theta {
		theta[i] += scale * rng.NormFloat64()
	}
	return theta
}

// normalPoints returns n×d standard normal points scaled by s.
func normalPoints(rng *rand.Rand, n, d int, s float64) *mat.Dense {
	x := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, s*rng.NormFloat64())
		}
	}
	return x
}

// discretePoints returns n×d points of {lo, hi}.
func discretePoints(rng *rand.Rand, n, d int, lo, hi float64) *mat.Dense {
	x := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			if rng.IntN(2) == 1 {
				x.Set(i, j, hi)
			} else {
				x.Set(i, j, lo)
			}
		}
	}
	return x
}

// requireChecks runs the derivative checker and the fallback comparison.
func requireChecks(t *testing.T, e framework.Energy, theta []float64, x *mat.Dense, opts check.Options) {
	t.Helper()
	rep, err := check.Energy(e, theta, x, opts)
	require.NoError(t, err, rep.String())
	for _, it := range rep.Items {
		require.True(t, it.Pass, it.Name)
	}
	// every output the energy claims was compared with finite differences
	names := []string{"grad_x", "param_vjp", "mixed", "laplacian", "laplacian_vjp", "hvp"}
	if e.Spec().Caps.Has(framework.CapParamJac) {
		names = append(names, "param_jac")
	}
	for _, name := range names {
		it, ok := rep.Item(name)
		require.True(t, ok, "%s not checked", name)
		require.Positive(t, it.Compared, name)
	}
}

// requireFallback compares the Evaluator's finite-difference fallbacks with the exact path.
// The default tolerances of check.Options follow from the fallbacks' error with the
// Evaluator's step h = 1e-4: relative 1e-5 for the first differences (truncation
// h²/6·|f‴| ≈ 2e-9|f‴|, rounding ≈ 2e-12|f|) and 1e-3 for the second difference of the
// Laplacian's θ-gradient (rounding ≈ 4ε|f|/h² ≈ 1e-7|f| per axis, f summed over the rows).
// The measured errors are 10–1000 times smaller on these energies.
func requireFallback(t *testing.T, e framework.Energy, theta []float64, x *mat.Dense, opts check.Options) check.Report {
	t.Helper()
	rep, err := check.Fallback(e, theta, x, opts)
	require.NoError(t, err, rep.String())
	want := 5 // paths + four outputs
	if e.Spec().Caps.Has(framework.CapParamJac) {
		want++
	}
	require.Len(t, rep.Items, want, rep.String())
	return rep
}

// requireLinear checks a CapLinear energy's statistics against its own (finite-difference
// checked) outputs: ∇ₓE = (∇ₓT)ᵀθ + ∇ₓc and ΔₓE = θᵀΔₓT + Δₓc, row by row.
func requireLinear(t *testing.T, e framework.Energy, theta []float64, x *mat.Dense) {
	t.Helper()
	lin, ok := e.(framework.LinearEnergy)
	require.True(t, ok)
	require.True(t, e.Spec().Caps.Has(framework.CapLinear))
	n, d := x.Dims()
	p := len(theta)
	var res framework.Result
	req := framework.Request{Outputs: framework.OutGradX | framework.OutLaplacian, X: x, Theta: theta}
	res.Reset(req.Outputs, n, d, p)
	require.NoError(t, e.Evaluate(&req, &res))
	jac := mat.NewDense(p, d, nil)
	lap := make([]float64, p)
	off := make([]float64, d)
	th := mat.NewVecDense(p, theta)
	for i := 0; i < n; i++ {
		xi := mat.Row(nil, i, x)
		lin.Statistics(xi, jac, lap)
		offLap := lin.OffsetGrad(xi, off)
		var grad mat.VecDense
		grad.MulVec(jac.T(), th)
		for k := 0; k < d; k++ {
			require.InDelta(t, res.GradX.At(i, k), grad.AtVec(k)+off[k], 1e-10, "row %d component %d", i, k)
		}
		require.InDelta(t, res.Laplacian[i], mat.Dot(mat.NewVecDense(p, lap), th)+offLap, 1e-10, "row %d", i)
	}
}

// readTorchNested reads the nested W/b lists of a torch MLP JSON with encoding/json alone.
func readTorchNested(t *testing.T, path string) ([][][]float64, [][]float64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	var ws [][][]float64
	var bs [][]float64
	for l := 1; ; l++ {
		w, ok := m[fmt.Sprintf("W%d", l)].([]any)
		if !ok {
			break
		}
		var wl [][]float64
		for _, row := range w {
			var r []float64
			for _, v := range row.([]any) {
				r = append(r, v.(float64))
			}
			wl = append(wl, r)
		}
		var bl []float64
		for _, v := range m[fmt.Sprintf("b%d", l)].([]any) {
			bl = append(bl, v.(float64))
		}
		ws, bs = append(ws, wl), append(bs, bl)
	}
	return ws, bs
}
