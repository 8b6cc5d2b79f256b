package check

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/goebm/goebm/framework"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// expSum is a test energy with every output in closed form:
//
//	E(x; a, c) = Σₖ exp(aₖxₖ) + c·s³/3,  s = Σₖ xₖ,
//
// so ∇ₓE = aₖe^{aₖxₖ} + cs², ∇²ₓE = diag(aₖ²e^{aₖxₖ}) + 2cs·11ᵀ, ∇_aE = xₖe^{aₖxₖ},
// ∂_cE = s³/3. bug injects one defect, so the tests can see the checker catch it.
type expSum struct {
	d    int
	bug  string
	runs atomic.Int64 // Evaluate calls, for the non-deterministic bug
}

func (e *expSum) Spec() framework.Spec {
	return framework.Spec{Name: "expsum", Dim: e.d, Blocks: []framework.Block{{Name: "a", Shape: []int{e.d}}, {Name: "c", Shape: []int{1}}},
		Caps: framework.CapMixed | framework.CapMixedSelf | framework.CapLaplacian | framework.CapHVP}
}

func (e *expSum) InitParams(dst []float64, rng *rand.Rand) error {
	for i := range dst {
		dst[i] = rng.NormFloat64() * 0.5
	}
	return nil
}

func (e *expSum) Evaluate(req *framework.Request, res *framework.Result) error {
	d := e.d
	if len(req.Theta) != d+1 {
		if e.bug == "panic" {
			panic("bad θ")
		}
		if e.bug != "accept" {
			return fmt.Errorf("θ has length %d, want %d", len(req.Theta), d+1)
		}
	}
	n, cols := req.X.Dims()
	if cols != d {
		return fmt.Errorf("X has %d columns, want %d", cols, d)
	}
	runs := e.runs.Add(1)
	a, c := req.Theta[:d], req.Theta[d]
	o := req.Outputs
	if e.bug == "realloc" && o.Has(framework.OutGradX) {
		res.GradX = mat.NewDense(n, d, nil)
	}
	rowOf := func(m *mat.Dense, i int) []float64 {
		if e.bug == "stride" {
			raw := m.RawMatrix()
			return raw.Data[i*raw.Cols : (i+1)*raw.Cols]
		}
		return m.RawRowView(i)
	}
	for i := 0; i < n; i++ {
		x := rowOf(req.X, i)
		s := 0.0
		for _, v := range x {
			s += v
		}
		w, lw := 1.0, 1.0
		if e.bug == "nilweights" {
			w = 0
		}
		if req.Weights != nil {
			w = req.Weights[i]
		}
		if req.LapWeights != nil {
			lw = req.LapWeights[i]
		}
		var g []float64
		if o.Has(framework.OutGradX) || o.Has(framework.OutMixed) {
			g = make([]float64, d)
			for k := range g {
				g[k] = a[k]*math.Exp(a[k]*x[k]) + c*s*s
			}
		}
		if o.Has(framework.OutEnergy) {
			en := c * s * s * s / 3
			for k := range x {
				en += math.Exp(a[k] * x[k])
			}
			if !(e.bug == "unwritten" && i == 1) {
				res.Energy[i] = en
			}
			if e.bug == "random" {
				res.Energy[i] += float64(runs) * 1e-15
			}
		}
		if o.Has(framework.OutGradX) {
			copy(res.GradX.RawRowView(i), g)
			if e.bug == "gradx" && i == 2 {
				res.GradX.Set(i, 1, g[1]*(1+1e-4))
			}
		}
		if o.Has(framework.OutParamVJP) && !(e.bug == "batch" && i > 0) { // the batch bug drops rows > 0
			for k := range a {
				res.ParamVJP[k] += w * x[k] * math.Exp(a[k]*x[k])
			}
			res.ParamVJP[d] += w * s * s * s / 3
		}
		if o.Has(framework.OutMixed) {
			u := make([]float64, d)
			if req.U != nil {
				copy(u, req.U.RawRowView(i))
			}
			su := 0.0
			for k := range u {
				u[k] += req.MixedSelf * g[k]
				su += u[k]
			}
			for k := range a {
				ex := math.Exp(a[k] * x[k])
				res.Mixed[k] += u[k] * (ex + a[k]*x[k]*ex)
			}
			res.Mixed[d] += s * s * su
			if e.bug == "mixedself" { // forgets the MixedSelf part of u in the c-derivative
				res.Mixed[d] -= s * s * req.MixedSelf * sumOf(g)
			}
		}
		if o.Has(framework.OutLaplacian) {
			l := 2 * c * s * float64(d)
			for k := range a {
				l += a[k] * a[k] * math.Exp(a[k]*x[k])
			}
			res.Laplacian[i] = l
		}
		if o.Has(framework.OutLaplacianVJP) {
			for k := range a {
				ex := math.Exp(a[k] * x[k])
				res.LaplacianVJP[k] += lw * ex * (2*a[k] + a[k]*a[k]*x[k])
			}
			if e.bug != "lapvjp" {
				res.LaplacianVJP[d] += lw * 2 * s * float64(d)
			}
		}
		if o.Has(framework.OutHVP) {
			v := req.V.RawRowView(i)
			sv := sumOf(v)
			out := res.HVP.RawRowView(i)
			for k := range out {
				out[k] = a[k]*a[k]*math.Exp(a[k]*x[k])*v[k] + 2*c*s*sv
			}
			if e.bug == "hvp" || (e.bug == "alone" && o == framework.OutHVP) {
				out[0] += 1e-3
			}
		}
	}
	if e.bug == "modify" {
		req.Theta[0] += 0
		req.X.Set(0, 0, req.X.At(0, 0)+1)
	}
	return nil
}

func sumOf(s []float64) float64 {
	t := 0.0
	for _, v := range s {
		t += v
	}
	return t
}

func testPoint(d, n int, seed uint64) ([]float64, *mat.Dense) {
	rng := rand.New(rand.NewPCG(seed, 1))
	theta := make([]float64, d+1)
	for i := range theta {
		theta[i] = rng.NormFloat64() * 0.5
	}
	x := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	return theta, x
}

func TestEnergyPassesCorrectEnergy(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"coordinates", Options{}},
		{"directions", Options{ThetaDirections: 5, Seed: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			theta, x := testPoint(3, 5, 1)
			rep, err := Energy(&expSum{d: 3}, theta, x, tc.opts)
			require.NoError(t, err, rep.String())
			for _, name := range []string{"shapes", "inputs", "finite", "determinism", "batch", "strided",
				"subsets", "defaults", "concurrency", "bad_request", "grad_x", "laplacian", "hvp", "param_vjp", "mixed", "laplacian_vjp"} {
				it, ok := rep.Item(name)
				require.True(t, ok, name)
				assert.True(t, it.Pass, name)
			}
			g, _ := rep.Item("grad_x")
			assert.Equal(t, 5*3, g.Compared)
			assert.Less(t, g.MaxRel, 1e-9, "five-point stencil error on a smooth function")
		})
	}
}

// TestEnergyCatchesDefects injects one defect at a time and asks the checker to fail the
// right item, with an error naming the output and the location.
func TestEnergyCatchesDefects(t *testing.T) {
	for _, tc := range []struct {
		bug, item, where string
		also             []string // items that fail as a consequence
	}{
		{"gradx", "grad_x", "row 2, component 1", []string{"batch", "laplacian", "hvp", "mixed"}},
		{"mixedself", "mixed", "c[0]", nil},
		{"lapvjp", "laplacian_vjp", "c[0]", nil},
		{"hvp", "hvp", "component 0", nil},
		{"unwritten", "finite", "energy row 1", []string{"determinism", "batch", "strided", "subsets", "grad_x", "param_vjp"}},
		{"random", "determinism", "differs", nil},
		{"realloc", "shapes", "grad_x", []string{"finite", "determinism", "batch", "strided", "grad_x", "laplacian", "hvp", "mixed"}},
		{"modify", "inputs", "modified X", []string{"determinism", "batch", "strided", "subsets", "defaults", "concurrency", "grad_x", "laplacian", "hvp", "param_vjp", "mixed", "laplacian_vjp"}},
		{"batch", "batch", "param_vjp", []string{"strided", "grad_x", "laplacian", "hvp", "param_vjp", "mixed", "laplacian_vjp"}},
		{"stride", "strided", "row", nil},
		{"panic", "bad_request", "panicked", nil},
		{"alone", "subsets", "hvp alone", nil},
		{"nilweights", "defaults", "param_vjp", nil},
		{"accept", "bad_request", "no error", nil},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			theta, x := testPoint(3, 4, 2)
			rep, err := Energy(&expSum{d: 3, bug: tc.bug}, theta, x, Options{Goroutines: -1})
			require.Error(t, err)
			it, ok := rep.Item(tc.item)
			require.True(t, ok)
			assert.False(t, it.Pass, rep.String())
			assert.Contains(t, err.Error(), tc.item)
			assert.Contains(t, err.Error(), tc.where)
			var f *Failure
			require.True(t, errors.As(err, &f))
			// Nothing else fails but the consequences of the defect.
			for _, other := range rep.Items {
				if other.Name != tc.item && !other.Pass && !slices.Contains(tc.also, other.Name) {
					t.Errorf("%s also failed: %s", other.Name, other.Where)
				}
			}
		})
	}
}

func TestEnergyRejectsBadInput(t *testing.T) {
	theta, x := testPoint(3, 4, 2)
	_, err := Energy(&expSum{d: 3}, theta[:2], x, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "θ")
	_, err = Energy(&expSum{d: 2}, theta, x, Options{})
	require.Error(t, err)
	// An output the energy does not claim cannot be checked.
	lin := &expSum{d: 3}
	_, err = Energy(lin, theta, x, Options{Outputs: framework.OutEnergy | framework.Output(1<<20)})
	require.Error(t, err)
}

func TestFallback(t *testing.T) {
	theta, x := testPoint(3, 6, 4)
	rep, err := Fallback(&expSum{d: 3}, theta, x, Options{})
	require.NoError(t, err, rep.String())
	for _, name := range []string{"paths", "mixed", "laplacian", "laplacian_vjp", "hvp"} {
		it, ok := rep.Item(name)
		require.True(t, ok, name)
		assert.True(t, it.Pass, name)
	}
	// The O(h²) fallback is not exact: its error is visible but small.
	it, _ := rep.Item("hvp")
	assert.Greater(t, it.MaxAbs, 0.0)
	assert.Less(t, it.MaxRel, 1e-6)

	_, err = Fallback(&expSum{d: 3, bug: "hvp"}, theta, x, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "hvp")
}

func TestReportString(t *testing.T) {
	theta, x := testPoint(2, 3, 5)
	rep, err := Energy(&expSum{d: 2, bug: "gradx"}, theta, x, Options{})
	require.Error(t, err)
	s := rep.String()
	assert.True(t, strings.HasPrefix(s, "energy expsum"))
	assert.Contains(t, s, "FAIL")
}
