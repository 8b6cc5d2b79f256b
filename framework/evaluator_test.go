package framework

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

const allSecond = CapMixed | CapLaplacian | CapHVP | CapParamJac

func fullRequest(rng *rand.Rand, e Energy, n int) *Request {
	s := e.Spec()
	theta := make([]float64, s.NumParams())
	e.InitParams(theta, rng)
	return &Request{
		Outputs: allOutputs, X: randDense(rng, n, s.Dim), Theta: theta,
		Weights: randVec(rng, n), U: randDense(rng, n, s.Dim), MixedSelf: 0.7,
		LapWeights: randVec(rng, n), V: randDense(rng, n, s.Dim),
	}
}

func maxRelDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i])/math.Max(1, math.Abs(b[i])))
	}
	return m
}

// The fallbacks agree with the exact outputs to the O(h²) error of central differences.
// On the quartic energy the third x-derivative is 6cⱼxⱼ, so with h = 1e-4 and |x| ≲ 4 the
// error is of order h²·|E”'|·|u|³ ≈ 1e-6 on the worst rows; second differences of ∇θE
// (LaplacianVJP) add rounding O(ε·|∇θE|/h²) ≈ 1e-7 relative.
func TestFallbacksAgreeWithExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	e := &quartic{d: 3, caps: allSecond}
	req := fullRequest(rng, e, 70)
	exact, approx := NewEvaluator(e), NewEvaluator(e)
	approx.ForceFallback = OutMixed | OutLaplacian | OutLaplacianVJP | OutHVP | OutParamJac
	var re, ra Result
	require.NoError(t, exact.Evaluate(req, &re))
	require.NoError(t, approx.Evaluate(req, &ra))
	assert.Less(t, maxRelDiff(ra.Mixed, re.Mixed), 1e-5, "mixed")
	assert.Less(t, maxRelDiff(ra.Laplacian, re.Laplacian), 1e-6, "laplacian")
	assert.Less(t, maxRelDiff(ra.LaplacianVJP, re.LaplacianVJP), 1e-5, "laplacian_vjp")
	assert.Less(t, maxRelDiff(ra.HVP.RawMatrix().Data, re.HVP.RawMatrix().Data), 1e-6, "hvp")
	// E is linear in θ: central differences in θ are exact up to rounding.
	assert.Less(t, maxRelDiff(ra.ParamJac.RawMatrix().Data, re.ParamJac.RawMatrix().Data), 1e-9, "param_jac")
	assert.Equal(t, re.Energy, ra.Energy)
	assert.Equal(t, map[string]string{"energy": "exact", "grad_x": "exact", "param_vjp": "exact",
		"mixed": "finite-difference", "laplacian": "finite-difference", "laplacian_vjp": "finite-difference",
		"hvp": "finite-difference", "param_jac": "finite-difference"}, approx.Paths())
	// The rows of param_jac, weighted, sum to param_vjp.
	sum := make([]float64, len(re.ParamVJP))
	for i, w := range req.Weights {
		for k := range sum {
			sum[k] += w * re.ParamJac.At(i, k)
		}
	}
	assert.Less(t, maxRelDiff(sum, re.ParamVJP), 1e-12, "Σ wᵢ param_jacᵢ = param_vjp")
	assert.Equal(t, "exact", exact.Paths()["hvp"])
}

// An energy that declares no second-order capability is served by the fallbacks; the
// Evaluator never asks it for outputs it lacks.
func TestEvaluatorDerivesMissingCapabilities(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	first := &quartic{d: 2, caps: 0}
	req := fullRequest(rng, first, 20)
	var r Result
	ev := NewEvaluator(guard{t, first})
	require.NoError(t, ev.Evaluate(req, &r))
	var re Result
	require.NoError(t, NewEvaluator(&quartic{d: 2, caps: allSecond}).Evaluate(req, &re))
	assert.Less(t, maxRelDiff(r.Mixed, re.Mixed), 1e-5)
}

// guard fails the test if the energy is asked for an output outside its capabilities.
type guard struct {
	t *testing.T
	*quartic
}

func (g guard) Evaluate(req *Request, res *Result) error {
	if extra := req.Outputs &^ g.Spec().Caps.Exact(); extra != 0 {
		g.t.Errorf("energy asked for %s it does not compute", extra)
	}
	return g.quartic.Evaluate(req, res)
}

// Results do not depend on the number of workers: chunks are fixed and summed in order.
func TestEvaluatorWorkersBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	e := &quartic{d: 4, caps: allSecond}
	req := fullRequest(rng, e, 1000)
	var results []Result
	for _, w := range []int{1, 2, 3, 7} {
		ev := NewEvaluator(e)
		ev.Workers, ev.ChunkRows = w, 64
		var r Result
		require.NoError(t, ev.Evaluate(req, &r))
		results = append(results, r)
	}
	for _, r := range results[1:] {
		assert.Equal(t, results[0].ParamVJP, r.ParamVJP)
		assert.Equal(t, results[0].Mixed, r.Mixed)
		assert.Equal(t, results[0].LaplacianVJP, r.LaplacianVJP)
		assert.True(t, mat.Equal(results[0].GradX, r.GradX))
	}
}

func TestEvaluatorNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	e := &quartic{d: 2, caps: allSecond, nan: true}
	req := fullRequest(rng, e, 10)
	req.Outputs = OutEnergy
	var r Result
	err := NewEvaluator(e).Evaluate(req, &r)
	var nf *NonFiniteError
	require.True(t, errors.As(err, &nf), "got %v", err)
	assert.Equal(t, "energy", nf.Quantity)
	assert.Equal(t, 9, nf.Index)
	assert.Contains(t, err.Error(), "energy quartic")
}

func TestEvaluatorShapeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	e := &quartic{d: 2, caps: allSecond}
	for _, tc := range []struct {
		name  string
		mod   func(r *Request)
		want  string
		shape bool // a *ShapeError in the chain
	}{
		{"wrong dim", func(r *Request) { r.X = randDense(rng, 5, 3) }, "X has shape 5×3, want n×2", true},
		{"wrong theta", func(r *Request) { r.Theta = r.Theta[:2] }, "θ has shape 2, want 6", true},
		{"wrong weights", func(r *Request) { r.Weights = make([]float64, 4) }, "Weights has shape 4, want 5", true},
		{"wrong U", func(r *Request) { r.U = randDense(rng, 4, 2) }, "U has shape 4×2, want 5×2", true},
		{"no V", func(r *Request) { r.V = nil }, "needs V", false},
		{"no X", func(r *Request) { r.X = nil }, "no points", false},
		{"no outputs", func(r *Request) { r.Outputs = 0 }, "no known output", false},
		{"unknown output", func(r *Request) { r.Outputs |= 1 << 20 }, "no known output", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := fullRequest(rng, e, 5)
			tc.mod(req)
			var r Result
			err := NewEvaluator(e).Evaluate(req, &r)
			require.ErrorIs(t, err, ErrInvalidRequest)
			assert.Contains(t, err.Error(), tc.want)
			var se *ShapeError
			assert.Equal(t, tc.shape, errors.As(err, &se))
			assert.Equal(t, err.Error(), "energy quartic: "+req.Validate(e.Spec()).Error(), "the Evaluator checks with Request.Validate")
		})
	}
}

// A warm Evaluator allocates nothing per request on one worker.
func TestEvaluatorNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	e := &quartic{d: 2, caps: allSecond}
	req := fullRequest(rng, e, 600)
	req.Outputs = FirstOrder | OutMixed
	ev := NewEvaluator(e)
	ev.Workers = 1
	var r Result
	require.NoError(t, ev.Evaluate(req, &r))
	allocs := testing.AllocsPerRun(20, func() { _ = ev.Evaluate(req, &r) })
	assert.Zero(t, allocs)
}

func TestStreamsIndependentAndReproducible(t *testing.T) {
	s := Streams{Seed: 42}
	a, b := s.Rand("x", 0).Uint64(), s.Rand("x", 0).Uint64()
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, s.Rand("x", 1).Uint64())
	assert.NotEqual(t, a, s.Rand("y", 0).Uint64())
	assert.NotEqual(t, a, Streams{Seed: 43}.Rand("x", 0).Uint64())
}

// FiniteVec finds a bad value wherever it is (in the 4-wide body or the tail of its fast
// path) and passes any all-finite vector, including huge finite values.
func TestFiniteVecEveryPosition(t *testing.T) {
	for n := 1; n <= 9; n++ {
		for pos := 0; pos < n; pos++ {
			for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
				s := make([]float64, n)
				for i := range s {
					s[i] = math.MaxFloat64 * float64(1-2*(i%2))
				}
				require.NoError(t, FiniteVec("q", "t", s))
				s[pos] = bad
				err := FiniteVec("q", "t", s)
				var nf *NonFiniteError
				require.True(t, errors.As(err, &nf), "n=%d pos=%d", n, pos)
				assert.Equal(t, pos, nf.Index)
			}
		}
	}
}

// An energy without CapMixedSelf is never asked for MixedSelf ≠ 0 (quartic refuses it), and
// the Evaluator's two-call path gives what the fused energy gives.
func TestEvaluatorFormsMixedSelf(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	fused := &quartic{d: 3, caps: allSecond | CapMixedSelf}
	plain := &quartic{d: 3, caps: allSecond}
	for _, o := range []Output{OutMixed, OutMixed | OutGradX, OutMixed | OutEnergy | OutLaplacian, allOutputs} {
		req := fullRequest(rng, fused, 700) // three chunks
		req.Outputs = o
		var want, got Result
		require.NoError(t, NewEvaluator(fused).Evaluate(req, &want))
		ev := NewEvaluator(plain)
		require.NoError(t, ev.Evaluate(req, &got))
		assert.Less(t, maxRelDiff(got.Mixed, want.Mixed), 1e-13, "%s", o)
		if o.Has(OutGradX) {
			assert.Equal(t, want.GradX.RawMatrix().Data, got.GradX.RawMatrix().Data)
		}
		assert.Equal(t, "exact", ev.Paths()["mixed"])
	}
	// Directly, with no GradX buffer in the result: EvaluateChunk lends one and gives it back.
	req := fullRequest(rng, fused, 10)
	req.Outputs = OutMixed
	var want, got Result
	want.Reset(OutMixed, 10, 3, 9)
	got.Reset(OutMixed, 10, 3, 9)
	require.NoError(t, fused.Evaluate(req, &want))
	var s SelfScratch
	require.NoError(t, EvaluateChunk(plain, plain.caps, req, &got, &s))
	assert.Less(t, maxRelDiff(got.Mixed, want.Mixed), 1e-13)
	assert.Nil(t, got.GradX, "the lent ∇ₓE buffer is not left in the result")
	assert.Equal(t, 0.0, testing.AllocsPerRun(10, func() {
		got.Reset(OutMixed, 10, 3, 9)
		_ = EvaluateChunk(plain, plain.caps, req, &got, &s)
	}), "a warm SelfScratch allocates nothing")
}
