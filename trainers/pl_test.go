package trainers_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// ---------------------------------------------------------------------------------------
// Test energies (written here, independent of the code under test).

// discIsing returns the ising energy E(x) = −hᵀx − ½xᵀJx over spins or bits, blocks "h" (d)
// and "J" (d×d, symmetric part off the diagonal used).
func discIsing(t testing.TB, d int, dom framework.Domain) framework.Energy {
	t.Helper()
	e, err := energy.NewIsing(d, dom == framework.Spin)
	require.NoError(t, err)
	return e
}

// discRelabel is an energy whose spec claims another domain.
type discRelabel struct {
	framework.Energy
	dom framework.Domain
}

func (e discRelabel) Spec() framework.Spec {
	s := e.Energy.Spec()
	s.Domain = e.dom
	return s
}

// discQuadEnergy is −hᵀx − ½xᵀJx, written here for the brute-force checks (J symmetric with
// zero diagonal, as the ising energy uses it).
func discQuadEnergy(h, J, x []float64) float64 {
	d := len(x)
	e := 0.0
	for i := 0; i < d; i++ {
		e -= h[i] * x[i]
		for j := 0; j < d; j++ {
			e -= 0.5 * J[i*d+j] * x[i] * x[j]
		}
	}
	return e
}

// ---------------------------------------------------------------------------------------
// Helpers.

// discGaussian returns the gaussian energy E = ½xᵀWx − bᵀx (blocks "W", "b") on ℝ^d.
func discGaussian(t *testing.T, d int) framework.Energy {
	t.Helper()
	e, err := energy.NewGaussian(d, false)
	require.NoError(t, err)
	return e
}

// discRandomQuad returns θ = (h, J) with J symmetric and zero on the diagonal.
func discRandomQuad(rng *rand.Rand, d int, scale float64) []float64 {
	theta := make([]float64, d+d*d)
	for i := 0; i < d; i++ {
		theta[i] = scale * rng.NormFloat64()
		for j := i + 1; j < d; j++ {
			v := scale * rng.NormFloat64()
			theta[d+i*d+j], theta[d+j*d+i] = v, v
		}
	}
	return theta
}

// discRandomPoints returns n points of the discrete domain dom.
func discRandomPoints(rng *rand.Rand, n, d int, dom framework.Domain) *mat.Dense {
	x := mat.NewDense(n, d, nil)
	lo := -1.0
	if dom == framework.Binary {
		lo = 0
	}
	for r := 0; r < n; r++ {
		for j := 0; j < d; j++ {
			if rng.IntN(2) == 1 {
				x.Set(r, j, 1)
			} else {
				x.Set(r, j, lo)
			}
		}
	}
	return x
}

// discFD checks grad against central differences of f at theta: |g − fd| ≤ tol·(1 + |fd|).
func discFD(t *testing.T, f func([]float64) float64, theta, grad []float64, step, tol float64) {
	t.Helper()
	th := append([]float64(nil), theta...)
	for k := range th {
		orig := th[k]
		th[k] = orig + step
		fp := f(th)
		th[k] = orig - step
		fm := f(th)
		th[k] = orig
		fd := (fp - fm) / (2 * step)
		require.InDelta(t, fd, grad[k], tol*(1+math.Abs(fd)), "parameter %d", k)
	}
}

// discStep runs one Step of tr on x at theta (Init on x first).
func discStep(t *testing.T, tr framework.Trainer, e framework.Energy, x *mat.Dense, theta []float64, grad []float64) float64 {
	t.Helper()
	ev := framework.NewEvaluator(e)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
	loss, err := tr.Step(&framework.StepContext{Eval: ev}, x, theta, grad)
	require.NoError(t, err)
	return loss
}

// discGD is plain gradient descent, a framework.Optimizer written for these tests.
type discGD struct{ lr float64 }

func (g *discGD) Update(theta, grad []float64) {
	for i := range theta {
		theta[i] -= g.lr * grad[i]
	}
}
func (g *discGD) LR() float64      { return g.lr }
func (g *discGD) SetLR(lr float64) { g.lr = lr }

// discTrain trains θ (in place) with tr on the whole of x, full batch, by the framework's
// training loop with optimizer opt.
func discTrain(t *testing.T, tr framework.Trainer, e framework.Energy, x *mat.Dense, theta []float64, opt framework.Optimizer, steps int) {
	t.Helper()
	n, _ := x.Dims()
	_, err := framework.Train(context.Background(), &framework.Run{
		Eval: framework.NewEvaluator(e), Trainer: tr, Optimizer: opt,
		Train: x, Theta: theta, Streams: framework.Streams{Seed: 1},
		Schedule: framework.Schedule{Batch: n, Steps: steps, LogEvery: steps},
	})
	require.NoError(t, err)
}

// discMinimize minimises the loss of tr over the whole of x from theta (updated in place)
// with the production L-BFGS optimizer (method "lbfgs") until max |gradient| ≤ 1e-7: the
// full-batch minimiser, without the hundreds of steps a fixed learning rate needs. It
// returns the solver's report.
func discMinimize(t *testing.T, tr framework.Trainer, e framework.Energy, x *mat.Dense, theta []float64) *framework.SolverReport {
	t.Helper()
	opt, err := trainers.NewLBFGS(trainers.BatchOptions{GradTol: 1e-7, Memory: 10, NoiseRounds: 1})
	require.NoError(t, err)
	out, err := framework.Train(context.Background(), &framework.Run{
		Eval: framework.NewEvaluator(e), Trainer: tr, Optimizer: opt,
		Train: x, Theta: theta, Streams: framework.Streams{Seed: 1},
		Schedule: framework.Schedule{Batch: 1, Steps: 500, LogEvery: 1},
	})
	require.NoError(t, err)
	require.True(t, out.Solver.Converged, "L-BFGS stopped with %s at max |gradient| %.3g: %s", out.Solver.Status, out.Solver.GradMax, out.Solver.Message)
	t.Logf("L-BFGS: %d iterations, %d evaluations", out.Solver.Iterations, out.Solver.Evaluations)
	return out.Solver
}

// discGradNorm returns max |∇θ loss| of tr on x at theta.
func discGradNorm(t *testing.T, tr framework.Trainer, e framework.Energy, x *mat.Dense, theta []float64) float64 {
	g := make([]float64, len(theta))
	discStep(t, tr, e, x, theta, g)
	m := 0.0
	for _, v := range g {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// ---------------------------------------------------------------------------------------
// ising10 in the parameterisation θ = (h_1..h_d, J_ij for i<j, row-major), as PROVENANCE.md
// section d, with the gradient and Hessian of the objectives written from scratch.

const isingD = 10

func isingPairs(d int) int { return d * (d - 1) / 2 }

// isingPair returns the index of J_ij (i<j) in θ.
func isingPair(d, i, j int) int {
	if i > j {
		i, j = j, i
	}
	return d + i*d - i*(i+1)/2 + (j - i - 1)
}

func readIsingData(t *testing.T) *mat.Dense {
	t.Helper()
	ds, err := framework.ReadCSV("../examples/data/ising10_train.csv")
	require.NoError(t, err)
	return ds.X
}

// readIsingParams reads a 10×11 parameter file (h, J1..J10) into θ = (h, J_{i<j}).
func readIsingParams(t *testing.T, name string) []float64 {
	t.Helper()
	ds, err := framework.ReadCSV("../examples/data/" + name)
	require.NoError(t, err)
	d := isingD
	th := make([]float64, d+isingPairs(d))
	for i := 0; i < d; i++ {
		th[i] = ds.X.At(i, 0)
		for j := i + 1; j < d; j++ {
			th[isingPair(d, i, j)] = ds.X.At(i, 1+j)
		}
	}
	return th
}

// isingFull converts θ = (h, J_{i<j}) to the energy layout (h, J d×d symmetric).
func isingFull(th []float64, d int) []float64 {
	f := make([]float64, d+d*d)
	copy(f, th[:d])
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			v := th[isingPair(d, i, j)]
			f[d+i*d+j], f[d+j*d+i] = v, v
		}
	}
	return f
}

// isingCompact converts the energy layout to θ = (h, c_{i<j}), c_ij = (J_ij + J_ji)/2
// (the energy depends on J through its symmetric part only).
func isingCompact(f []float64, d int) []float64 {
	th := make([]float64, d+isingPairs(d))
	copy(th, f[:d])
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			th[isingPair(d, i, j)] = 0.5 * (f[d+i*d+j] + f[d+j*d+i])
		}
	}
	return th
}

// isingSite fills idx with the indices of ∇a_i in θ (a_i = h_i + Σ_{j≠i} J_ij s_j) and val
// with its entries: 1 at h_i, s_j at J_ij. It returns a_i.
func isingSite(th, s []float64, i int, idx []int, val []float64) float64 {
	d := len(s)
	idx[0], val[0] = i, 1
	a := th[i]
	k := 1
	for j := 0; j < d; j++ {
		if j == i {
			continue
		}
		idx[k], val[k] = isingPair(d, i, j), s[j]
		a += th[idx[k]] * s[j]
		k++
	}
	return a
}

// isingObjective is a per-site objective ℓ(s_i, a_i) summed over sites and averaged over
// rows, with ∂ℓ/∂a and ∂²ℓ/∂a².
type isingObjective func(s, a float64) (f, df, d2f float64)

// isingPL is −log p(s_i|s_−i) = −log σ(2 s a) = softplus(−2sa).
func isingPL(s, a float64) (float64, float64, float64) {
	z := -2 * s * a
	f := math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
	return f, -(s - math.Tanh(a)), 1 - math.Tanh(a)*math.Tanh(a)
}

// isingRM is g(p(s)/p(s⁽ⁱ⁾))² = q², q = σ(−2sa) the probability of the flipped spin.
func isingRM(s, a float64) (float64, float64, float64) {
	q := 1 / (1 + math.Exp(2*s*a))
	// dq/da = −2s q(1−q); d(q²)/da = −4s q²(1−q); d²(q²)/da² = 8 q²(1−q)(2−3q).
	return q * q, -4 * s * q * q * (1 - q), 8 * q * q * (1 - q) * (2 - 3*q)
}

// isingRowGrad writes into dst the gradient of Σᵢ ℓ(sᵢ, aᵢ) for one row s and returns
// the objective.
func isingRowGrad(obj isingObjective, th, s, dst []float64) float64 {
	d := len(s)
	idx, val := make([]int, d), make([]float64, d)
	for k := range dst {
		dst[k] = 0
	}
	f := 0.0
	for i := 0; i < d; i++ {
		fi, df, _ := obj(s[i], isingSite(th, s, i, idx, val))
		f += fi
		for u := range idx {
			dst[idx[u]] += df * val[u]
		}
	}
	return f
}

// isingEval returns the objective Σ_r w_r Σᵢ ℓ(s_ri, a_ri), its gradient and its Hessian
// at θ over the rows of x, with weights w (nil: 1/n each, the sample mean).
func isingEval(obj isingObjective, th []float64, x *mat.Dense, w []float64) (f float64, g []float64, H *mat.SymDense) {
	n, d := x.Dims()
	p := len(th)
	g = make([]float64, p)
	h := make([]float64, p*p)
	idx, val := make([]int, d), make([]float64, d)
	for r := 0; r < n; r++ {
		wr := 1 / float64(n)
		if w != nil {
			wr = w[r]
		}
		s := x.RawRowView(r)
		for i := 0; i < d; i++ {
			a := isingSite(th, s, i, idx, val)
			fi, df, d2f := obj(s[i], a)
			f += wr * fi
			for u := range idx {
				g[idx[u]] += wr * df * val[u]
				for v := range idx {
					h[idx[u]*p+idx[v]] += wr * d2f * val[u] * val[v]
				}
			}
		}
	}
	return f, g, mat.NewSymDense(p, h)
}

// isingNewton minimises obj over the rows of x by Newton's method from th0.
func isingNewton(t *testing.T, obj isingObjective, th0 []float64, x *mat.Dense) []float64 {
	t.Helper()
	return discNewton(t, func(th []float64) (float64, []float64, mat.Symmetric) {
		f, g, H := isingEval(obj, th, x, nil)
		return f, g, H
	}, th0)
}

// discNewton minimises f from th0 by Newton's method (gonum/optimize, with its own
// line search and Hessian modification), from the gradient and Hessian written in the test,
// until max |gradient| ≤ 1e-12.
func discNewton(t *testing.T, fgh func([]float64) (float64, []float64, mat.Symmetric), th0 []float64) []float64 {
	t.Helper()
	prob := optimize.Problem{
		Func: func(th []float64) float64 { f, _, _ := fgh(th); return f },
		Grad: func(g, th []float64) { _, gt, _ := fgh(th); copy(g, gt) },
		Hess: func(h *mat.SymDense, th []float64) { _, _, ht := fgh(th); h.CopySym(ht) },
	}
	res, err := optimize.Minimize(prob, th0, &optimize.Settings{GradientThreshold: 1e-12, Converger: optimize.NeverTerminate{}}, &optimize.Newton{})
	require.NoError(t, err)
	require.Equal(t, optimize.GradientThreshold, res.Status, "Newton did not converge")
	return res.X
}

// isingAsymptoticSE returns the standard errors of the mean of n independent copies of
// the vector u(s), s ~ p over the enumerated states: sqrt(diag(Σ_s p(s) u(s)u(s)ᵀ)/n) (u has
// mean zero under p). The asymptotic error of an M-estimator θ̂ − θ is −H⁻¹ mean ψ(s_r),
// so u = H⁻¹ψ gives its standard errors (the sandwich H⁻¹ Cov(ψ) H⁻¹/n, with the model's
// exact expectations rather than the data's noisy ones).
func isingAsymptoticSE(states *mat.Dense, prob []float64, n int, u func(s, dst []float64)) []float64 {
	_, d := states.Dims()
	p := d + isingPairs(d)
	se := make([]float64, p)
	v := make([]float64, p)
	for b, pb := range prob {
		u(states.RawRowView(b), v)
		for k := range se {
			se[k] += pb * v[k] * v[k]
		}
	}
	for k := range se {
		se[k] = math.Sqrt(se[k] / float64(n))
	}
	return se
}

// isingProbs returns p_θ(s) for the enumerated states, E_θ φ and log Z(θ).
func isingProbs(th []float64, states *mat.Dense) (prob, mean []float64, logZ float64) {
	nStates, _ := states.Dims()
	p := len(th)
	prob = make([]float64, nStates)
	mean = make([]float64, p)
	phi := make([]float64, p)
	mx := math.Inf(-1)
	for b := range prob {
		isingFeatures(states.RawRowView(b), phi)
		prob[b] = floats.Dot(th, phi)
		mx = math.Max(mx, prob[b])
	}
	z := 0.0
	for b := range prob {
		prob[b] = math.Exp(prob[b] - mx)
		z += prob[b]
	}
	for b := range prob {
		prob[b] /= z
		isingFeatures(states.RawRowView(b), phi)
		floats.AddScaled(mean, prob[b], phi)
	}
	return prob, mean, mx + math.Log(z)
}

// isingSolve returns a function that writes A⁻¹v into dst.
func isingSolve(t *testing.T, A mat.Symmetric) func(dst, v []float64) {
	t.Helper()
	var lu mat.LU
	lu.Factorize(A)
	require.Less(t, lu.Cond(), 1e8, "singular matrix")
	return func(dst, v []float64) {
		out := mat.NewVecDense(len(dst), dst)
		require.NoError(t, lu.SolveVecTo(out, false, mat.NewVecDense(len(v), v)))
	}
}

// isingStates enumerates the 2^d spin states (s_i = +1 if bit i of the index is set).
func isingStates(d int) *mat.Dense {
	x := mat.NewDense(1<<d, d, nil)
	for b := 0; b < 1<<d; b++ {
		for i := 0; i < d; i++ {
			v := -1.0
			if b>>i&1 == 1 {
				v = 1
			}
			x.Set(b, i, v)
		}
	}
	return x
}

// isingFeatures writes φ(s) = (s_i, s_i s_j for i<j).
func isingFeatures(s []float64, phi []float64) {
	d := len(s)
	copy(phi, s)
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			phi[isingPair(d, i, j)] = s[i] * s[j]
		}
	}
}

// isingMLE maximises the exact log-likelihood θ·mean φ(s_r) − log Z(θ) by Newton's method,
// the Hessian being −Cov_θ(φ), with every expectation and log Z by enumeration.
func isingMLE(t *testing.T, x *mat.Dense) []float64 {
	t.Helper()
	n, d := x.Dims()
	p := d + isingPairs(d)
	phi := make([]float64, p)
	mean := make([]float64, p)
	for r := 0; r < n; r++ {
		isingFeatures(x.RawRowView(r), phi)
		floats.AddScaled(mean, 1/float64(n), phi)
	}
	states := isingStates(d)
	return discNewton(t, func(th []float64) (float64, []float64, mat.Symmetric) {
		prob, m, logZ := isingProbs(th, states)
		g := make([]float64, p)
		floats.SubTo(g, m, mean)
		return logZ - floats.Dot(th, mean), g, isingFisher(states, prob, m)
	}, make([]float64, p))
}

// isingFisher returns Cov_p(φ) = Σ_s p(s) φ(s)φ(s)ᵀ − mmᵀ, m = E_p φ.
func isingFisher(states *mat.Dense, prob, m []float64) *mat.SymDense {
	p := len(m)
	phi := make([]float64, p)
	C := mat.NewSymDense(p, nil)
	for b, pb := range prob {
		isingFeatures(states.RawRowView(b), phi)
		C.SymRankOne(C, pb, mat.NewVecDense(p, phi))
	}
	C.SymRankOne(C, -1, mat.NewVecDense(p, m))
	return C
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// bonferroniZ is the two-sided normal quantile that keeps the family-wise error of k
// simultaneous comparisons at alpha.
func bonferroniZ(alpha float64, k int) float64 {
	return distuv.UnitNormal.Quantile(1 - alpha/(2*float64(k)))
}

// ---------------------------------------------------------------------------------------
// Tests.

// TestPLLossEnumeration checks the pl loss against conditionals computed from the joint
// distribution by enumerating all 2^d states.
func TestPLLossEnumeration(t *testing.T) {
	for _, tc := range []struct {
		name string
		dom  framework.Domain
		d, n int
		l1   float64
	}{
		{"spin", framework.Spin, 4, 9, 0},
		{"binary", framework.Binary, 5, 7, 0},
		{"spin l1", framework.Spin, 3, 5, 0.3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			theta := discRandomQuad(rng, tc.d, 0.8)
			x := discRandomPoints(rng, tc.n, tc.d, tc.dom)
			h, J := theta[:tc.d], theta[tc.d:]

			// log p(x) by enumeration; log p(x_i | x_−i) = log p(x) − log Σ_v p(x_−i, v).
			lo := -1.0
			if tc.dom == framework.Binary {
				lo = 0
			}
			logZ := math.Inf(-1)
			for b := 0; b < 1<<tc.d; b++ {
				s := make([]float64, tc.d)
				for i := range s {
					s[i] = lo
					if b>>i&1 == 1 {
						s[i] = 1
					}
				}
				logZ = logAddExp(logZ, -discQuadEnergy(h, J, s))
			}
			logp := func(s []float64) float64 { return -discQuadEnergy(h, J, s) - logZ }
			want := 0.0
			for r := 0; r < tc.n; r++ {
				s := append([]float64(nil), x.RawRowView(r)...)
				for i := 0; i < tc.d; i++ {
					orig := s[i]
					marg := math.Inf(-1)
					for _, v := range []float64{lo, 1} {
						s[i] = v
						marg = logAddExp(marg, logp(s))
					}
					s[i] = orig
					want -= logp(s) - marg
				}
			}
			want /= float64(tc.n)
			for _, v := range J {
				want += tc.l1 * math.Abs(v)
			}

			o := trainers.DefaultPLOptions()
			o.L1 = tc.l1
			got := discStep(t, trainers.NewPseudolikelihood(o), discIsing(t, tc.d, tc.dom), x, theta, nil)
			assert.InDelta(t, want, got, 1e-12)
		})
	}
}

func logAddExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	m := math.Max(a, b)
	return m + math.Log(math.Exp(a-m)+math.Exp(b-m))
}

// TestPLGradientFD checks the pl gradient against central differences of the pl loss.
func TestPLGradientFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name string
		e    framework.Energy
		x    *mat.Dense
		th   []float64
		o    trainers.PLOptions
	}{
		{"spin", discIsing(t, 5, framework.Spin), discRandomPoints(rng, 11, 5, framework.Spin), discRandomQuad(rng, 5, 0.7), trainers.DefaultPLOptions()},
		{"binary", discIsing(t, 4, framework.Binary), discRandomPoints(rng, 6, 4, framework.Binary), discRandomQuad(rng, 4, 0.7), trainers.DefaultPLOptions()},
		{"gaussian", discGaussian(t, 3), discRandomNormal(rng, 7, 3), discSPD(rng, 3), trainers.PLOptions{GridLow: -12, GridHigh: 12, GridPoints: 301}},
		// 40·(1 + 3·301) rows: more than one stacked request (groups of whole data rows).
		{"gaussian groups", discGaussian(t, 3), discRandomNormal(rng, 40, 3), discSPD(rng, 3), trainers.PLOptions{GridLow: -12, GridHigh: 12, GridPoints: 301}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := trainers.NewPseudolikelihood(tc.o)
			g := make([]float64, len(tc.th))
			discStep(t, tr, tc.e, tc.x, tc.th, g)
			ev := framework.NewEvaluator(tc.e)
			f := func(th []float64) float64 {
				l, err := tr.Step(&framework.StepContext{Eval: ev}, tc.x, th, nil)
				require.NoError(t, err)
				return l
			}
			discFD(t, f, tc.th, g, 1e-5, 1e-8)
		})
	}
}

func discRandomNormal(rng *rand.Rand, n, d int) *mat.Dense {
	x := mat.NewDense(n, d, nil)
	for r := 0; r < n; r++ {
		for j := 0; j < d; j++ {
			x.Set(r, j, rng.NormFloat64())
		}
	}
	return x
}

// discSPD returns θ = (W, b) with W = AᵀA/d + ½I (symmetric positive definite).
func discSPD(rng *rand.Rand, d int) []float64 {
	A := discRandomNormal(rng, d, d)
	var W mat.Dense
	W.Mul(A.T(), A)
	th := make([]float64, d*d+d)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			th[i*d+j] = W.At(i, j) / float64(d)
		}
		th[i*d+i] += 0.5
		th[d*d+i] = 0.5 * rng.NormFloat64()
	}
	return th
}

// TestPLContinuousGaussian checks continuous pl on E = ½xᵀWx − bᵀx against the closed-form
// conditionals xᵢ | x₋ᵢ ~ N((bᵢ − Σ_{j≠i} Wᵢⱼxⱼ)/Wᵢᵢ, 1/Wᵢᵢ). The grid covers every
// conditional by more than 8 standard deviations and its spacing h is below s/2 for every
// conditional standard deviation s, so the quadrature error (≈ 2·exp(−2π²s²/h²) relative,
// see pl.go) is far below the tolerance.
func TestPLContinuousGaussian(t *testing.T) {
	for _, tc := range []struct {
		name   string
		d, n   int
		lo, hi float64
		points int
		tol    float64
	}{
		{"d3", 3, 20, -15, 15, 301, 1e-10},
		{"d5 groups", 5, 40, -14, 16, 401, 1e-10}, // 40·(1 + 5·401) rows: three stacked requests
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, uint64(tc.d)))
			th := discSPD(rng, tc.d)
			x := discRandomNormal(rng, tc.n, tc.d)
			d := tc.d
			W, b := th[:d*d], th[d*d:]
			want := 0.0
			for r := 0; r < tc.n; r++ {
				xr := x.RawRowView(r)
				for i := 0; i < d; i++ {
					mu := b[i]
					for j := 0; j < d; j++ {
						if j != i {
							mu -= W[i*d+j] * xr[j]
						}
					}
					mu /= W[i*d+i]
					prec := W[i*d+i]
					sd := 1 / math.Sqrt(prec)
					require.Less(t, tc.lo, mu-8*sd)
					require.Greater(t, tc.hi, mu+8*sd)
					require.Less(t, (tc.hi-tc.lo)/float64(tc.points-1), sd/2)
					want -= 0.5*math.Log(prec/(2*math.Pi)) - 0.5*prec*(xr[i]-mu)*(xr[i]-mu)
				}
			}
			want /= float64(tc.n)
			o := trainers.PLOptions{GridLow: tc.lo, GridHigh: tc.hi, GridPoints: tc.points}
			got := discStep(t, trainers.NewPseudolikelihood(o), discGaussian(t, d), x, th, nil)
			assert.InDelta(t, want, got, tc.tol)
		})
	}
}

// TestPLQuadratureError checks the error of the trapezoid rule stated in pl.go on a grid
// too coarse to be exact: for a Gaussian conditional N(μ, s²) that the grid covers, the
// computed normaliser is Z·(1 + 2·exp(−2π²s²/h²)·cos(2π(μ − grid_low)/h)) up to terms in
// exp(−8π²s²/h²), so the loss is off by the log of that factor.
func TestPLQuadratureError(t *testing.T) {
	for _, tc := range []struct {
		w, b   float64 // E = ½wx² − bx: μ = b/w, s = 1/√w
		points int     // on [−12, 12]
	}{
		{1, 0.3, 17},   // h = 1.5 = 1.5s: relative error ≈ 3e-4
		{1, -0.7, 21},  // h = 1.2s: ≈ 2e-6
		{2.5, 1.1, 25}, // h = 1, s = 0.63: ≈ 8e-4
	} {
		h := 24 / float64(tc.points-1)
		mu, s := tc.b/tc.w, 1/math.Sqrt(tc.w)
		x := mat.NewDense(1, 1, []float64{0.5})
		theta := []float64{tc.w, tc.b}
		exact := 0.5*tc.w*0.25 - tc.b*0.5 + 0.5*math.Log(2*math.Pi/tc.w) + tc.b*tc.b/(2*tc.w)
		o := trainers.PLOptions{GridLow: -12, GridHigh: 12, GridPoints: tc.points}
		got := discStep(t, trainers.NewPseudolikelihood(o), discGaussian(t, 1), x, theta, nil)
		eps := 2 * math.Exp(-2*math.Pi*math.Pi*s*s/(h*h)) * math.Cos(2*math.Pi*(mu+12)/h)
		require.Greater(t, math.Abs(eps), 1e-7, "the case must have a visible error")
		assert.InDelta(t, math.Log1p(eps), got-exact, 1e-3*math.Abs(eps), "w=%v b=%v h=%v", tc.w, tc.b, h)
	}
}

// TestPLContinuousGrid checks the error for data outside the grid and the option checks.
func TestPLContinuousGrid(t *testing.T) {
	x := mat.NewDense(3, 2, []float64{0, 0, 4.5, 0, 0, -7})
	o := trainers.PLOptions{GridLow: -5, GridHigh: 5, GridPoints: 11}
	ev := framework.NewEvaluator(discGaussian(t, 2))
	err := trainers.NewPseudolikelihood(o).Init(&framework.TrainContext{Eval: ev, Train: x})
	require.Error(t, err)
	for _, s := range []string{"row 3, column 2", "-7", "[-5, 5]", "grid_low", "grid_high"} {
		assert.Contains(t, err.Error(), s)
	}
	// A batch that is not the training set is checked at each step too.
	tr := trainers.NewPseudolikelihood(o)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x.Slice(0, 2, 0, 2).(*mat.Dense)}))
	_, err = tr.Step(&framework.StepContext{Eval: ev}, x, discSPD(rand.New(rand.NewPCG(1, 1)), 2), nil)
	require.ErrorContains(t, err, "batch row 3, column 2")

	for _, tc := range []struct {
		name string
		o    trainers.PLOptions
		key  string
	}{
		{"default", trainers.DefaultPLOptions(), ""},
		{"negative l1", trainers.PLOptions{L1: -1, GridLow: -1, GridHigh: 1, GridPoints: 3}, "l1"},
		{"l1 without block", trainers.PLOptions{L1: 1, GridLow: -1, GridHigh: 1, GridPoints: 3}, "l1_block"},
		{"reversed grid", trainers.PLOptions{GridLow: 1, GridHigh: -1, GridPoints: 3}, "grid_high"},
		{"few points", trainers.PLOptions{GridLow: -1, GridHigh: 1, GridPoints: 2}, "grid_points"},
		{"infinite low", trainers.PLOptions{GridLow: math.Inf(-1), GridHigh: 1, GridPoints: 3}, "grid_low"},
	} {
		err := tc.o.Validate()
		if tc.key == "" {
			assert.NoError(t, err, tc.name)
			continue
		}
		var ke *framework.KeyError
		require.ErrorAs(t, err, &ke, tc.name)
		assert.Equal(t, tc.key, ke.Key, tc.name)
	}
}

// TestPLIsing10MPLE trains pl on ising10, full batch, with L-BFGS (gonum/optimize) on the
// trainer's loss and gradient, and compares the result with the maximum-pseudolikelihood estimate computed here by Newton's method on the
// exact PL objective, and with examples/data/ising10_mple.csv.
func TestPLIsing10MPLE(t *testing.T) {
	x := readIsingData(t)
	d := isingD
	newton := isingNewton(t, isingPL, make([]float64, d+isingPairs(d)), x)
	file := readIsingParams(t, "ising10_mple.csv")
	// The file was written by scipy + 5 Newton steps to |gradient| 5e-17: the two
	// independent computations agree to rounding.
	assert.Less(t, maxAbsDiff(newton, file), 1e-9, "Newton MPLE vs ising10_mple.csv")

	e := discIsing(t, d, framework.Spin)
	tr := trainers.NewPseudolikelihood(trainers.DefaultPLOptions())
	theta := make([]float64, d+d*d)
	discMinimize(t, tr, e, x, theta)
	got := isingCompact(theta, d)
	t.Logf("max |∇| after training %.2g; max |θ − MPLE| %.2g", discGradNorm(t, tr, e, x, theta), maxAbsDiff(got, newton))
	assert.Less(t, maxAbsDiff(got, newton), 1e-4, "trained pl vs Newton MPLE")
	assert.Less(t, maxAbsDiff(got, file), 1e-4, "trained pl vs ising10_mple.csv")
}

// L-BFGS (method "lbfgs") on pl over the whole of ising10 reaches the maximum-pseudolikelihood
// estimate, computed independently here by Newton's method on the PL objective written from
// scratch, to 1e-7 relative, in fewer full passes over the data than full-batch Adam (the
// example's lr 0.02) needs to come within 1e-3 of it. Evaluations are counted, not timed.
func TestLBFGSReachesMPLEIsing10(t *testing.T) {
	x := readIsingData(t)
	d := isingD
	mple := isingNewton(t, isingPL, make([]float64, d+isingPairs(d)), x)
	rel := func(th []float64) float64 {
		c := isingCompact(th, d)
		return floats.Distance(c, mple, 2) / floats.Norm(mple, 2)
	}
	e := discIsing(t, d, framework.Spin)
	opt, err := trainers.NewLBFGS(trainers.DefaultBatchOptions())
	require.NoError(t, err)
	theta := make([]float64, d+d*d)
	out, err := framework.Train(context.Background(), &framework.Run{
		Eval: framework.NewEvaluator(e), Trainer: trainers.NewPseudolikelihood(trainers.DefaultPLOptions()), Optimizer: opt,
		Train: x, Theta: theta, Streams: framework.Streams{Seed: 1},
		Schedule: framework.Schedule{Batch: 500, Steps: 1000, LogEvery: 10},
	})
	require.NoError(t, err)
	t.Logf("L-BFGS: %s after %d iterations, %d evaluations; relative error %.3g", out.Solver.Status, out.Solver.Iterations, out.Solver.Evaluations, rel(theta))
	assert.Equal(t, "GradientThreshold", out.Solver.Status)
	assert.Less(t, rel(theta), 1e-7)

	adam, err := trainers.NewAdam(trainers.AdamOptions{LR: 0.02, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	require.NoError(t, err)
	tr := trainers.NewPseudolikelihood(trainers.DefaultPLOptions())
	ev := framework.NewEvaluator(e)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
	th := make([]float64, d+d*d)
	g := make([]float64, len(th))
	adamEvals, limit := 0, 10*out.Solver.Evaluations
	for ; adamEvals < limit && rel(th) >= 1e-3; adamEvals++ {
		_, err := tr.Step(&framework.StepContext{Eval: ev}, x, th, g)
		require.NoError(t, err)
		adam.Update(th, g)
	}
	t.Logf("Adam: %d evaluations to 1e-3 (limit %d), now %.3g", adamEvals, limit, rel(th))
	assert.Less(t, out.Solver.Evaluations, adamEvals)
}

// TestPLIsing10MLE compares the MPLE with the exact MLE found by enumerating the 1024
// states. Both estimate the true θ and their difference is O(1/√n): to first order
// θ̂_PL − θ̂_ML = −mean_r u(s_r), u = H⁻¹ψ_PL + I⁻¹(φ − E φ), with ψ_PL the per-row PL
// gradient, H its expected Hessian and I the Fisher information. The test computes the
// standard error of each of the 55 differences exactly under the fitted model (θ̂_ML, all
// expectations by enumeration) and asks each difference to lie within z·SE, z the Bonferroni
// quantile for a family-wise error of 1e-3, plus 5/n for the O(1/n) terms the normal
// approximation leaves out. (PROVENANCE.md: max |MLE − MPLE| = 0.0092.)
func TestPLIsing10MLE(t *testing.T) {
	x := readIsingData(t)
	n, d := x.Dims()
	p := d + isingPairs(d)
	mle := isingMLE(t, x)
	assert.Less(t, maxAbsDiff(mle, readIsingParams(t, "ising10_mle.csv")), 1e-9, "enumerated MLE vs ising10_mle.csv")
	mple := isingNewton(t, isingPL, make([]float64, p), x)

	states := isingStates(d)
	prob, m, _ := isingProbs(mle, states)
	_, eg, H := isingEval(isingPL, mle, states, prob)
	// PL's estimating equation is unbiased under the model: E_θ ∇PL(θ) = 0.
	require.Less(t, maxAbs(eg), 1e-12)
	hInv := isingSolve(t, H)
	iInv := isingSolve(t, isingFisher(states, prob, m))
	psi, phi, a, b := make([]float64, p), make([]float64, p), make([]float64, p), make([]float64, p)
	se := isingAsymptoticSE(states, prob, n, func(s, dst []float64) {
		isingRowGrad(isingPL, mle, s, psi)
		hInv(a, psi)
		isingFeatures(s, phi)
		floats.Sub(phi, m)
		iInv(b, phi)
		floats.AddTo(dst, a, b)
	})
	z := bonferroniZ(1e-3, p)
	worst := 0.0
	for k := 0; k < p; k++ {
		tol := z*se[k] + 5/float64(n)
		diff := math.Abs(mple[k] - mle[k])
		worst = math.Max(worst, diff/tol)
		assert.LessOrEqual(t, diff, tol, "parameter %d: |MPLE − MLE| = %.3g, SE of the difference %.3g", k, diff, se[k])
	}
	t.Logf("max |MPLE − MLE| = %.4g; SE of the differences %.3g…%.3g; z = %.2f; worst ratio to tolerance %.2f",
		maxAbsDiff(mple, mle), floats.Min(se), floats.Max(se), z, worst)
}

// TestPLL1 checks the soft threshold of Prox and that a large l1 sets every coupling of
// ising10 to exactly zero while the fields keep their (unpenalised) optimum.
func TestPLL1(t *testing.T) {
	e := discIsing(t, 3, framework.Spin)
	ev := framework.NewEvaluator(e)
	o := trainers.DefaultPLOptions()
	o.L1 = 0.5
	tr := trainers.NewPseudolikelihood(o)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev}))
	theta := []float64{3, -3, 0.125, 0.375, -0.25, 0.125, -0.125, 1, -1, 0.5, 0, -0.375}
	tr.Prox(theta, 0.5) // threshold lr·l1 = 0.25 on J = theta[3:], h untouched
	assert.Equal(t, []float64{3, -3, 0.125, 0.125, 0, 0, 0, 0.75, -0.75, 0.25, 0, -0.125}, theta)

	// l1 = 0: Prox does nothing.
	tr0 := trainers.NewPseudolikelihood(trainers.DefaultPLOptions())
	require.NoError(t, tr0.Init(&framework.TrainContext{Eval: ev}))
	th0 := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0.5}
	tr0.Prox(th0, 1)
	assert.Equal(t, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0.5}, th0)

	// Unknown block: the error lists the blocks.
	o.L1Block = "K"
	err := trainers.NewPseudolikelihood(o).Init(&framework.TrainContext{Eval: ev})
	var ke *framework.KeyError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "l1_block", ke.Key)
	assert.Contains(t, err.Error(), `"h", "J"`)

	// ising10. At J = 0 with the fields at their optimum, tanh h_i = m_i = mean s_i, the PL
	// gradient in the energy's entry J_ij (i≠j) is g_ij = −½·mean((s_i − m_i)s_j +
	// (s_j − m_j)s_i), computed here from the data. One proximal step with learning rate lr
	// from there sets J_ij to soft(−lr·g_ij, lr·l1): all zero iff l1 ≥ max |g_ij| = kkt,
	// which is then the optimality (KKT) condition for J = 0.
	x := readIsingData(t)
	n, d := x.Dims()
	m := make([]float64, d)
	for r := 0; r < n; r++ {
		for i := 0; i < d; i++ {
			m[i] += x.At(r, i) / float64(n)
		}
	}
	g := make([]float64, d*d)
	kkt := 0.0
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			if i == j {
				continue
			}
			for r := 0; r < n; r++ {
				si, sj := x.At(r, i), x.At(r, j)
				g[i*d+j] -= 0.5 * ((si-m[i])*sj + (sj-m[j])*si) / float64(n)
			}
			kkt = math.Max(kkt, math.Abs(g[i*d+j]))
		}
	}
	start := make([]float64, d+d*d)
	for i := 0; i < d; i++ {
		start[i] = math.Atanh(m[i])
	}
	const lr = 0.5
	for _, tc := range []struct {
		name string
		l1   float64
	}{
		{"above kkt", 1.05 * kkt},
		{"below kkt", 0.9 * kkt},
	} {
		o := trainers.DefaultPLOptions()
		o.L1 = tc.l1
		theta := append([]float64(nil), start...)
		discTrain(t, trainers.NewPseudolikelihood(o), discIsing(t, d, framework.Spin), x, theta, &discGD{lr: lr}, 1)
		nonzero := 0
		for k, gk := range g {
			want := -lr * gk
			switch {
			case want > lr*tc.l1:
				want -= lr * tc.l1
			case want < -lr*tc.l1:
				want += lr * tc.l1
			default:
				want = 0
			}
			if want != 0 {
				nonzero++
			}
			require.InDelta(t, want, theta[d+k], 1e-12, "%s: J entry %d", tc.name, k)
		}
		for i := 0; i < d; i++ {
			assert.InDelta(t, start[i], theta[i], 1e-12, "%s: h_%d moved at its optimum", tc.name, i)
		}
		if tc.l1 > kkt {
			assert.Zero(t, nonzero, tc.name)
		} else {
			assert.NotZero(t, nonzero, tc.name)
		}
	}

	// From the truth, proximal gradient descent with l1 above kkt ends at J = 0 exactly and
	// at the fields' optimum.
	o = trainers.DefaultPLOptions()
	o.L1 = 1.05 * kkt
	theta = isingFull(readIsingParams(t, "ising10_params.csv"), d)
	discTrain(t, trainers.NewPseudolikelihood(o), discIsing(t, d, framework.Spin), x, theta, &discGD{lr: 1}, 30)
	for k, v := range theta[d:] {
		require.Zero(t, v, "J entry %d", k)
	}
	for i := 0; i < d; i++ {
		assert.InDelta(t, math.Atanh(m[i]), theta[i], 1e-8, "h_%d", i)
	}
}

// TestDiscreteDomainErrors checks that pl and rm refuse what they cannot handle.
func TestDiscreteDomainErrors(t *testing.T) {
	spinX := mat.NewDense(2, 3, []float64{1, -1, 1, -1, -1, 1})
	binX := mat.NewDense(2, 3, []float64{1, 0, 1, 0, 0, 1})
	for _, tc := range []struct {
		name string
		tr   framework.Trainer
		e    framework.Energy
		x    *mat.Dense
		want []string
	}{
		{"rm continuous", trainers.NewRatioMatching(), discGaussian(t, 3), discRandomNormal(rand.New(rand.NewPCG(1, 1)), 2, 3), []string{"continuous", "sm", "nce"}},
		{"pl binary energy, spin data", trainers.NewPseudolikelihood(trainers.DefaultPLOptions()), discIsing(t, 3, framework.Binary), spinX, []string{"row 1, column 2", "binary"}},
		{"rm spin energy, binary data", trainers.NewRatioMatching(), discIsing(t, 3, framework.Spin), binX, []string{"row 1, column 2", "spin"}},
		{"pl unknown domain", trainers.NewPseudolikelihood(trainers.DefaultPLOptions()), discRelabel{discIsing(t, 3, framework.Spin), framework.Domain(9)}, spinX, []string{"Domain(9)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.tr.Init(&framework.TrainContext{Eval: framework.NewEvaluator(tc.e), Train: tc.x})
			require.Error(t, err)
			assert.True(t, errors.Is(err, framework.ErrUnsupportedDomain), err.Error())
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

// TestDiscreteRegistry checks the registry entries of pl and rm: defaults, validation and
// construction.
func TestDiscreteRegistry(t *testing.T) {
	r := framework.NewRegistry()
	trainers.Register(r)
	pl, ok := r.Trainers["pl"]
	require.True(t, ok)
	o, ok := pl.Options().(*trainers.PLOptions)
	require.True(t, ok)
	assert.Equal(t, trainers.DefaultPLOptions(), *o)
	assert.Equal(t, "J", o.L1Block)
	tr, err := pl.New(o, framework.Env{Dim: 3})
	require.NoError(t, err)
	assert.IsType(t, &trainers.Pseudolikelihood{}, tr)
	_, isProx := tr.(framework.Proximal)
	assert.True(t, isProx)
	o.GridPoints = 1
	_, err = pl.New(o, framework.Env{Dim: 3})
	assert.ErrorContains(t, err, "grid_points")
	_, err = pl.New(struct{}{}, framework.Env{})
	assert.Error(t, err)

	rm, ok := r.Trainers["rm"]
	require.True(t, ok)
	tr, err = rm.New(rm.Options(), framework.Env{Dim: 3})
	require.NoError(t, err)
	assert.IsType(t, &trainers.RatioMatching{}, tr)
}
