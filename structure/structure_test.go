package structure

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// sparse12 returns the true (h, J) of the sparse 12-spin model of examples/data/ising12_*:
// a ring of 12 couplings of ±0.5 (alternating in sign) plus three chords (1–7, 4–10, 3–8) of
// 0.4, 15 edges of 66, and fields h = 0.1·(−1)^i.
func sparse12() []float64 {
	const d = 12
	theta := make([]float64, d+d*d)
	set := func(i, j int, v float64) { theta[d+i*d+j], theta[d+j*d+i] = v, v }
	for i := 0; i < d; i++ {
		theta[i] = 0.1 * float64(1-2*(i%2))
		v := 0.5
		if i%2 == 1 {
			v = -0.5
		}
		set(i, (i+1)%d, v)
	}
	set(0, 6, 0.4)
	set(3, 9, 0.4)
	set(2, 7, 0.4)
	return theta
}

// exactSample draws n exact samples of the ising energy at θ by enumerating its 2^d states,
// from a PCG stream with the given seed.
func exactSample(t testing.TB, d int, theta []float64, n int, seed uint64) *mat.Dense {
	e, err := energy.NewIsing(d, true)
	require.NoError(t, err)
	states := mat.NewDense(1<<d, d, nil)
	for k := 0; k < 1<<d; k++ {
		framework.Spin.State(states.RawRowView(k), uint64(k))
	}
	var res framework.Result
	require.NoError(t, framework.NewEvaluator(e).Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: states, Theta: theta}, &res))
	cum := make([]float64, 1<<d)
	acc := 0.0
	for k, en := range res.Energy {
		acc += math.Exp(-en)
		cum[k] = acc
	}
	rng := rand.New(rand.NewPCG(seed, 12))
	x := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		u := rng.Float64() * acc
		lo, hi := 0, len(cum)-1
		for lo < hi {
			mid := (lo + hi) / 2
			if cum[mid] < u {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		copy(x.RawRowView(i), states.RawRowView(lo))
	}
	return x
}

// trueEdges returns the pairs i < j with Jᵢⱼ ≠ 0 of a d×d block.
func trueEdges(J []float64, d int) map[[2]int]bool {
	m := map[[2]int]bool{}
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			if J[i*d+j] != 0 {
				m[[2]int{i + 1, j + 1}] = true
			}
		}
	}
	return m
}

// f1 returns precision, recall and F1 of the selected edges against the truth.
func f1(edges []Edge, truth map[[2]int]bool) (prec, rec, f float64) {
	tp := 0
	for _, e := range edges {
		if truth[[2]int{e.I, e.J}] {
			tp++
		}
	}
	if len(edges) > 0 {
		prec = float64(tp) / float64(len(edges))
	}
	rec = float64(tp) / float64(len(truth))
	if prec+rec > 0 {
		f = 2 * prec * rec / (prec + rec)
	}
	return
}

func solveGraph(t *testing.T, e framework.Energy, x *mat.Dense, o Options) (*Graph, []float64) {
	t.Helper()
	g, err := New(o)
	require.NoError(t, err)
	ctx := &framework.TrainContext{Eval: framework.NewEvaluator(e), Train: x, Streams: framework.Streams{Seed: 1}}
	require.NoError(t, g.Init(ctx))
	theta := make([]float64, e.Spec().NumParams())
	_, err = g.Solve(ctx, theta)
	require.NoError(t, err)
	return g, theta
}

// On the sparse 12-spin model, neighbourhood selection with EBIC (γ = 0.25, AND rule) recovers
// the graph from n = 2000 exact samples with F1 ≥ 0.9; the OR rule selects a superset of the
// AND rule's edges; cross-validated pseudolikelihood selects a denser graph (it aims at
// prediction, not at the support) that still contains the true edges. The estimate written is
// symmetric with a zero diagonal, and its support is the edge list.
func TestGraphIsing12(t *testing.T) {
	const d, n = 12, 2000
	truthTheta := sparse12()
	truth := trueEdges(truthTheta[d:], d)
	x := exactSample(t, d, truthTheta, n, 1)
	e, err := energy.NewIsing(d, true)
	require.NoError(t, err)

	and, theta := solveGraph(t, e, x, DefaultOptions())
	p, r, f := f1(and.Edges(), truth)
	t.Logf("EBIC, AND: %d edges, precision %.3f, recall %.3f, F1 %.3f", len(and.Edges()), p, r, f)
	assert.GreaterOrEqual(t, f, 0.9)
	for i := 0; i < d; i++ {
		assert.Zero(t, theta[d+i*d+i])
		for j := 0; j < d; j++ {
			assert.Equal(t, theta[d+i*d+j], theta[d+j*d+i])
		}
	}
	assert.Equal(t, len(and.Edges()), and.rep.Edges)
	for _, ed := range and.Edges() {
		assert.Equal(t, ed.Weight, theta[d+(ed.I-1)*d+ed.J-1])
		assert.NotZero(t, ed.Weight)
	}

	o := DefaultOptions()
	o.Rule = "or"
	or, _ := solveGraph(t, e, x, o)
	inOr := map[[2]int]bool{}
	for _, ed := range or.Edges() {
		inOr[[2]int{ed.I, ed.J}] = true
	}
	for _, ed := range and.Edges() {
		assert.True(t, inOr[[2]int{ed.I, ed.J}], "AND edge %d–%d is an OR edge", ed.I, ed.J)
	}

	o = DefaultOptions()
	o.Select = "cv"
	cv, _ := solveGraph(t, e, x, o)
	p, r, f = f1(cv.Edges(), truth)
	t.Logf("CV: %d edges, precision %.3f, recall %.3f, F1 %.3f", len(cv.Edges()), p, r, f)
	assert.Equal(t, 1.0, r, "cross-validation keeps every true edge")
}

// The coordinate descent solves each node's penalised logistic regression: at the solution the
// subgradient conditions hold, |∂ℓ/∂βⱼ| ≤ λ where βⱼ = 0 and ∂ℓ/∂βⱼ = −λ·sign(βⱼ) where βⱼ ≠ 0,
// and the intercept's derivative is zero.
func TestLogisticPathKKT(t *testing.T) {
	x := exactSample(t, 12, sparse12(), 500, 3)
	y, z := nodeData(x, 4, framework.Spin)
	lmax := lambdaMax(y, z)
	lams := []float64{lmax, 0.3 * lmax, 0.05 * lmax}
	fits := logisticPath(y, z, lams, 1e-10)
	n, m := z.Dims()
	assert.Equal(t, 0, support(fits[0].beta), "λ_max gives the empty neighbourhood")
	for k, f := range fits {
		grad := make([]float64, m)
		g0 := 0.0
		for r := 0; r < n; r++ {
			v := f.b0
			for j, zj := range z.RawRowView(r) {
				v += zj * f.beta[j]
			}
			res := 1/(1+math.Exp(-v)) - y[r]
			g0 += res / float64(n)
			for j, zj := range z.RawRowView(r) {
				grad[j] += res * zj / float64(n)
			}
		}
		assert.InDelta(t, 0, g0, 1e-7, "intercept, λ %d", k)
		for j, b := range f.beta {
			if b == 0 {
				assert.LessOrEqual(t, math.Abs(grad[j]), lams[k]+1e-7, "λ %d, β%d = 0", k, j)
			} else {
				assert.InDelta(t, -lams[k]*math.Copysign(1, b), grad[j], 1e-7, "λ %d, β%d = %g", k, j, b)
			}
		}
	}
}

// Regularised score matching recovers the graph of a sparse Gaussian (a chain of 10 variables,
// tridiagonal precision) from 4000 samples with EBIC (γ = 0.5): every edge, F1 ≥ 0.85; the unpenalised end of a path
// with a tiny λ is the closed-form score-matching estimate.
func TestGraphGaussianChain(t *testing.T) {
	const d, n = 10, 4000
	K := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		K.SetSym(i, i, 1)
		if i+1 < d {
			K.SetSym(i, i+1, 0.4)
		}
	}
	var chol mat.Cholesky
	require.True(t, chol.Factorize(K))
	var sig mat.SymDense
	require.NoError(t, chol.InverseTo(&sig))
	var sc mat.Cholesky
	require.True(t, sc.Factorize(&sig))
	var L mat.TriDense
	sc.LTo(&L)
	rng := rand.New(rand.NewPCG(10, 10))
	x := mat.NewDense(n, d, nil)
	zr := make([]float64, d)
	for r := 0; r < n; r++ {
		for j := range zr {
			zr[j] = rng.NormFloat64()
		}
		for j := 0; j < d; j++ {
			v := 0.0
			for k := 0; k <= j; k++ {
				v += L.At(j, k) * zr[k]
			}
			x.Set(r, j, v)
		}
	}
	e, err := energy.NewGaussian(d, false)
	require.NoError(t, err)
	truth := map[[2]int]bool{}
	for i := 1; i < d; i++ {
		truth[[2]int{i, i + 1}] = true
	}
	o := DefaultOptions()
	o.Gamma = 0.5 // Foygel and Drton's choice for Gaussian graphs
	g, theta := solveGraph(t, e, x, o)
	p, r, f := f1(g.Edges(), truth)
	t.Logf("EBIC: %d edges, precision %.3f, recall %.3f, F1 %.3f; W₁₂ = %.3f (true 0.4)", len(g.Edges()), p, r, f, theta[1])
	assert.Equal(t, 1.0, r, "every chain edge selected")
	assert.GreaterOrEqual(t, f, 0.85) // measured 0.9: two false edges

	// λ → 0: the closed-form estimate.
	quad := newGaussQuad(e, x)
	fits := quad.path([]float64{1e-12}, 1e-12)
	th := make([]float64, len(theta))
	quad.theta(fits[0], th)
	cf := make([]float64, len(theta))
	tr := trainers.NewScoreMatching(trainers.SMOptions{ClosedForm: true})
	ctx := &framework.TrainContext{Eval: framework.NewEvaluator(e), Train: x}
	require.NoError(t, tr.Init(ctx))
	_, err = tr.Solve(ctx, cf)
	require.NoError(t, err)
	for k := range th {
		assert.InDelta(t, cf[k], th[k], 1e-7, "θ[%d]", k)
	}
}

// ising12Files returns the example data of the ising12 graph study: the true parameters and
// nested training sets (the first n rows of one exact sample of 4000).
func ising12Files(t testing.TB) map[string][]byte {
	const d = 12
	theta := sparse12()
	files := map[string][]byte{}
	var b bytes.Buffer
	b.WriteString("h")
	for j := 1; j <= d; j++ {
		fmt.Fprintf(&b, ",J%d", j)
	}
	b.WriteString("\n")
	for i := 0; i < d; i++ {
		b.WriteString(strconv.FormatFloat(theta[i], 'g', -1, 64))
		for j := 0; j < d; j++ {
			b.WriteString("," + strconv.FormatFloat(theta[d+i*d+j], 'g', -1, 64))
		}
		b.WriteString("\n")
	}
	files["ising12_sparse_params.csv"] = b.Bytes()
	x := exactSample(t, d, theta, 2000, 1)
	for _, n := range []int{250, 500, 1000, 2000} {
		var s bytes.Buffer
		cols := make([]string, d)
		for j := range cols {
			cols[j] = fmt.Sprintf("s%d", j+1)
		}
		s.WriteString(strings.Join(cols, ",") + "\n")
		for r := 0; r < n; r++ {
			for j, v := range x.RawRowView(r) {
				cols[j] = strconv.Itoa(int(v))
			}
			s.WriteString(strings.Join(cols, ",") + "\n")
		}
		files[fmt.Sprintf("ising12_sparse_n%d.csv", n)] = s.Bytes()
	}
	return files
}

// The example data of the graph study are exactly what ising12Files generates (set
// GOEBM_WRITE_DATA=1 to write them).
func TestIsing12DataFiles(t *testing.T) {
	for name, want := range ising12Files(t) {
		path := "../examples/data/" + name
		if os.Getenv("GOEBM_WRITE_DATA") == "1" {
			require.NoError(t, framework.WriteFileAtomic(path, want))
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "%s differs from what the generator writes", name)
	}
}
