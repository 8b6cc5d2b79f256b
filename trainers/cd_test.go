package trainers

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
)

// cdEnergy is a test energy given by one function per row: it returns E(x), writes ∇ₓE
// into gx when not nil and adds w·∇θE into gp when not nil.
type cdEnergy struct {
	spec framework.Spec
	row  func(theta, x, gx []float64, w float64, gp []float64) float64
}

func (e *cdEnergy) Spec() framework.Spec                       { return e.spec }
func (e *cdEnergy) InitParams(_ []float64, _ *rand.Rand) error { return nil }

func (e *cdEnergy) Evaluate(req *framework.Request, res *framework.Result) error {
	n, _ := req.X.Dims()
	for i := 0; i < n; i++ {
		var gx, gp []float64
		if req.Outputs.Has(framework.OutGradX) {
			gx = res.GradX.RawRowView(i)
		}
		w := 1.0
		if req.Outputs.Has(framework.OutParamVJP) {
			gp = res.ParamVJP
			if req.Weights != nil {
				w = req.Weights[i]
			}
		}
		v := e.row(req.Theta, req.X.RawRowView(i), gx, w, gp)
		if req.Outputs.Has(framework.OutEnergy) {
			res.Energy[i] = v
		}
	}
	return nil
}

// cdQuartic is E(x) = Σⱼ (aⱼxⱼ² + bⱼxⱼ⁴) on ℝ^d, θ = (a, b): not quadratic, so that the
// energy penalty's gradient is not trivially linear.
func cdQuartic(d int) framework.Energy {
	return &cdEnergy{
		spec: framework.Spec{Name: "test-quartic", Dim: d,
			Blocks: []framework.Block{{Name: "a", Shape: []int{d}}, {Name: "b", Shape: []int{d}}}},
		row: func(th, x, gx []float64, w float64, gp []float64) float64 {
			e := 0.0
			for j, v := range x {
				e += th[j]*v*v + th[d+j]*v*v*v*v
				if gx != nil {
					gx[j] = 2*th[j]*v + 4*th[d+j]*v*v*v
				}
				if gp != nil {
					gp[j] += w * v * v
					gp[d+j] += w * v * v * v * v
				}
			}
			return e
		},
	}
}

func cdSoftplus(a float64) float64 {
	if a > 0 {
		return a + math.Log1p(math.Exp(-a))
	}
	return math.Log1p(math.Exp(a))
}

// cdIsing is the built-in Ising energy on spins, θ = (h, J d×d).
func cdIsing(d int) framework.Energy {
	e, err := energy.NewIsing(d, true)
	if err != nil {
		panic(err)
	}
	return e
}

// cdRBM is the built-in RBM free energy, θ = (W nh×dv, b, c), with block Gibbs.
func cdRBM(dv, nh int) framework.Energy {
	e, err := energy.NewRBM(dv, nh)
	if err != nil {
		panic(err)
	}
	return e
}

// cdFrozen is a sampler that leaves the chains where they are, so that the samples of a
// step are known and the loss is a plain function of θ.
type cdFrozen struct{}

func (cdFrozen) Supports(framework.Spec) error    { return nil }
func (cdFrozen) Run(*framework.Chains, int) error { return nil }

func cdNewPCD(t testing.TB, o PCDOptions) *ContrastiveDivergence {
	t.Helper()
	tr, err := NewPCD(o)
	require.NoError(t, err)
	return tr
}

func cdNewCD(t testing.TB, o CDOptions) *ContrastiveDivergence {
	t.Helper()
	tr, err := NewCD(o)
	require.NoError(t, err)
	return tr
}

// With the chains frozen, L(θ) = mean E(data) − mean E(samples) + α(mean E(data)² +
// mean E(samples)²) is a function of θ alone; the gradient must match its central
// differences, and use one request (two with the penalty).
func TestCDGradient(t *testing.T) {
	const d = 3
	x := normalRows(20, d, 1)
	theta := []float64{0.5, 1, 0.7, 0.1, 0.2, 0.05}
	for _, tc := range []struct {
		alpha    float64
		requests int64
	}{{0, 1}, {0.3, 2}} {
		tr := cdNewPCD(t, PCDOptions{K: 1, Chains: 13, Init: "uniform", InitLow: -2, InitHigh: 2, EnergyL2: tc.alpha})
		ev := framework.NewEvaluator(cdQuartic(d))
		require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x, Sampler: cdFrozen{}, Streams: framework.Streams{Seed: 3}}))
		grad := make([]float64, len(theta))
		ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(1, 1))}
		loss, err := tr.Step(ctx, x, theta, grad)
		require.NoError(t, err)
		require.Equal(t, tc.requests, ev.Counts().Requests, "α = %v", tc.alpha)
		// The loss from its definition, with the buffer the step used.
		buf := tr.Chains()
		want := 0.0
		for _, part := range []struct {
			m    *mat.Dense
			sign float64
		}{{x, 1}, {buf, -1}} {
			n, _ := part.m.Dims()
			for i := 0; i < n; i++ {
				e := 0.0
				for j, v := range part.m.RawRowView(i) {
					e += theta[j]*v*v + theta[d+j]*v*v*v*v
				}
				want += (part.sign*e + tc.alpha*e*e) / float64(n)
			}
		}
		require.InDelta(t, want, loss, 1e-12)
		checkGradFD(t, tr, ev, x, theta, 1e-7)
	}
}

func TestCDInitErrors(t *testing.T) {
	ula, err := samplers.NewULA(samplers.DefaultULAOptions())
	require.NoError(t, err)
	gibbs, err := samplers.NewGibbs(samplers.GibbsOptions{})
	require.NoError(t, err)
	block, err := samplers.NewGibbs(samplers.GibbsOptions{Block: true})
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		energy  framework.Energy
		sampler framework.Sampler
		init    string
		want    string
		domain  bool
	}{
		{"no sampler", cdQuartic(2), nil, "uniform", "add a [sampler] table", false},
		{"ula on spins", cdIsing(3), ula, "uniform", "use method = \"gibbs\"", true},
		{"gibbs on reals", cdQuartic(2), gibbs, "uniform", "use ula, mala", true},
		{"block without capability", cdIsing(3), block, "uniform", "needs an energy with capability block-gibbs", false},
		{"normal init on spins", cdIsing(3), gibbs, "normal", "does not fit a spin energy", true},
	} {
		for _, tr := range []*ContrastiveDivergence{cdNewCD(t, DefaultCDOptions()), cdNewPCD(t, PCDOptions{K: 1, Init: tc.init, InitHigh: 1, InitScale: 1})} {
			err := tr.Init(&framework.TrainContext{Eval: framework.NewEvaluator(tc.energy), Sampler: tc.sampler})
			if tc.name == "normal init on spins" && !tr.persistent {
				require.NoError(t, err) // cd has no init
				continue
			}
			require.Error(t, err, tc.name)
			assert.Contains(t, err.Error(), tc.want, tc.name)
			assert.Contains(t, err.Error(), tr.method+":", tc.name)
			assert.Equal(t, tc.domain, errors.Is(err, framework.ErrUnsupportedDomain), tc.name)
		}
	}
}

func TestCDOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		edit func(*PCDOptions)
		key  string
	}{
		{func(o *PCDOptions) { o.K = 0 }, "k"},
		{func(o *PCDOptions) { o.Chains = -1 }, "chains"},
		{func(o *PCDOptions) { o.Init = "zeros" }, "init"},
		{func(o *PCDOptions) { o.InitLow, o.InitHigh = 1, 0 }, "init_high"},
		{func(o *PCDOptions) { o.InitScale = -1 }, "init_scale"},
		{func(o *PCDOptions) { o.Reinit = 1.5 }, "reinit"},
		{func(o *PCDOptions) { o.EnergyL2 = -1 }, "energy_l2"},
	} {
		o := DefaultPCDOptions()
		require.NoError(t, o.Validate())
		tc.edit(&o)
		var ke *framework.KeyError
		require.ErrorAs(t, o.Validate(), &ke)
		assert.Equal(t, tc.key, ke.Key)
	}
	c := CDOptions{K: 0}
	var ke *framework.KeyError
	require.ErrorAs(t, c.Validate(), &ke)
	assert.Equal(t, "k", ke.Key)

	r := framework.NewRegistry()
	Register(r)
	for _, name := range []string{"cd", "pcd"} {
		e, ok := r.Trainers[name]
		require.True(t, ok, name)
		_, err := e.New(e.Options(), framework.Env{})
		require.NoError(t, err, name)
	}
}

// Each chain restarts with probability reinit before a step: with frozen chains the
// fraction of rows that changed is binomial(m, reinit).
func TestPCDReinit(t *testing.T) {
	const m, p = 4000, 0.3
	tr := cdNewPCD(t, PCDOptions{K: 1, Chains: m, Init: "uniform", InitLow: 2, InitHigh: 3, Reinit: p})
	ev := framework.NewEvaluator(cdQuartic(2))
	x := normalRows(5, 2, 2)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Sampler: cdFrozen{}, Streams: framework.Streams{Seed: 9}}))
	ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(1, 1))}
	theta := []float64{1, 1, 0, 0}
	grad := make([]float64, 4)
	_, err := tr.Step(ctx, x, theta, grad)
	require.NoError(t, err)
	before := mat.DenseCopyOf(tr.Chains())
	_, err = tr.Step(ctx, x, theta, grad)
	require.NoError(t, err)
	changed := 0
	for i := 0; i < m; i++ {
		row := tr.Chains().RawRowView(i)
		if row[0] != before.At(i, 0) {
			changed++
		}
		for _, v := range row {
			require.True(t, v >= 2 && v <= 3)
		}
	}
	sd := math.Sqrt(m * p * (1 - p))
	assert.InDelta(t, m*p, float64(changed), 4*sd)
}

// A trainer restored from its state continues bit for bit, and validation (grad = nil)
// does not change the training trajectory.
func TestCDStateAndValidation(t *testing.T) {
	const d = 5
	x := mat.NewDense(40, d, nil)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := 0; i < 40; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, float64(2*rng.IntN(2)-1))
		}
	}
	for _, persistent := range []bool{true, false} {
		build := func() *ContrastiveDivergence {
			if persistent {
				return cdNewPCD(t, PCDOptions{K: 2, Chains: 17, Init: "uniform", Reinit: 0.1})
			}
			return cdNewCD(t, CDOptions{K: 2})
		}
		ev := framework.NewEvaluator(cdIsing(d))
		initTr := func(tr *ContrastiveDivergence) {
			g, err := samplers.NewGibbs(samplers.GibbsOptions{})
			require.NoError(t, err)
			require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x, Sampler: g, Streams: framework.Streams{Seed: 12}}))
		}
		// train runs steps SGD steps from θ, validating before each when validate is set.
		train := func(tr *ContrastiveDivergence, theta []float64, steps int, validate bool) {
			grad := make([]float64, len(theta))
			for k := 0; k < steps; k++ {
				if validate {
					vctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(5, 5))}
					_, err := tr.Step(vctx, x, theta, nil)
					require.NoError(t, err)
				}
				ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(6, uint64(k))), Step: k}
				_, err := tr.Step(ctx, x, theta, grad)
				require.NoError(t, err)
				for j := range theta {
					theta[j] -= 0.1 * grad[j]
				}
			}
		}
		ref := build()
		initTr(ref)
		thRef := make([]float64, d+d*d)
		train(ref, thRef, 10, false)

		a := build()
		initTr(a)
		thA := make([]float64, d+d*d)
		train(a, thA, 4, true)
		state, err := a.MarshalBinary()
		require.NoError(t, err)
		b := build()
		initTr(b)
		require.NoError(t, b.UnmarshalBinary(state))
		train(b, thA, 6, true)
		require.Equal(t, thRef, thA, "persistent=%v", persistent)
		require.NotEqual(t, make([]float64, d+d*d), thRef)
	}
}

// cdSpin is spin j of state b (bit j set: +1).
func cdSpin(b, j int) float64 { return float64(2*(b>>j&1) - 1) }

// cdIsingMoments returns, under the distribution p over the 2^d states, the expected
// sufficient statistics φ = (sᵢ; sᵢsⱼ for i<j) of log p = hᵀs + Σ_{i<j} Jᵢⱼsᵢsⱼ.
func cdIsingMoments(p []float64, d int) []float64 {
	m := make([]float64, d+d*(d-1)/2)
	for b, pb := range p {
		if pb == 0 {
			continue
		}
		k := d
		for i := 0; i < d; i++ {
			m[i] += pb * cdSpin(b, i)
			for j := i + 1; j < d; j++ {
				m[k] += pb * cdSpin(b, i) * cdSpin(b, j)
				k++
			}
		}
	}
	return m
}

// cdIsingModel returns p(s) ∝ exp(θ·φ(s)) over the 2^d states, θ compact (h; J_{i<j}).
func cdIsingModel(th []float64, d int) []float64 {
	p, _ := cdIsingModelZ(th, d)
	return p
}

// cdIsingModelZ returns p and log Z.
func cdIsingModelZ(th []float64, d int) ([]float64, float64) {
	p := make([]float64, 1<<d)
	z, top := 0.0, math.Inf(-1)
	for b := range p {
		lp, k := 0.0, d
		for i := 0; i < d; i++ {
			lp += th[i] * cdSpin(b, i)
			for j := i + 1; j < d; j++ {
				lp += th[k] * cdSpin(b, i) * cdSpin(b, j)
				k++
			}
		}
		p[b] = lp
		top = max(top, lp)
	}
	for b := range p {
		p[b] = math.Exp(p[b] - top)
		z += p[b]
	}
	for b := range p {
		p[b] /= z
	}
	return p, top + math.Log(z)
}

// cdEmpirical returns the empirical distribution of the spin rows of x over the 2^d states.
func cdEmpirical(x *mat.Dense) []float64 {
	n, d := x.Dims()
	p := make([]float64, 1<<d)
	for i := 0; i < n; i++ {
		b := 0
		for j := 0; j < d; j++ {
			if x.At(i, j) > 0 {
				b |= 1 << j
			}
		}
		p[b] += 1 / float64(n)
	}
	return p
}

// cdIsingMLE maximises the exact log-likelihood ℓ(θ) = θ·φ̄ − log Z(θ) of the rows of x
// by Newton's method (gradient: data minus model moments; Hessian: minus the model
// covariance of φ) with step halving until ℓ increases, all by enumeration, and returns θ
// compact (h; J_{i<j}).
func cdIsingMLE(t *testing.T, x *mat.Dense) []float64 {
	_, d := x.Dims()
	data := cdIsingMoments(cdEmpirical(x), d)
	np := len(data)
	th := make([]float64, np)
	phi := make([]float64, np)
	loglik := func(th []float64) float64 {
		_, logZ := cdIsingModelZ(th, d)
		l := -logZ
		for a, v := range data {
			l += th[a] * v
		}
		return l
	}
	next := make([]float64, np)
	for it := 0; it < 100; it++ {
		p := cdIsingModel(th, d)
		m := cdIsingMoments(p, d)
		cov := mat.NewSymDense(np, nil)
		for b, pb := range p {
			k := d
			for i := 0; i < d; i++ {
				phi[i] = cdSpin(b, i)
				for j := i + 1; j < d; j++ {
					phi[k] = cdSpin(b, i) * cdSpin(b, j)
					k++
				}
			}
			for a := 0; a < np; a++ {
				for c := a; c < np; c++ {
					cov.SetSym(a, c, cov.At(a, c)+pb*(phi[a]-m[a])*(phi[c]-m[c]))
				}
			}
		}
		g := mat.NewVecDense(np, nil)
		for a := range data {
			g.SetVec(a, data[a]-m[a])
		}
		var step mat.VecDense
		var ch mat.Cholesky
		require.True(t, ch.Factorize(cov), "model covariance not positive definite")
		require.NoError(t, ch.SolveVecTo(&step, g))
		if mat.Norm(g, math.Inf(1)) < 1e-10 { // rounding in the sums over states is ≈ 1e-12
			return th
		}
		l0 := loglik(th)
		for scale := 1.0; ; scale /= 2 {
			for a := range th {
				next[a] = th[a] + scale*step.AtVec(a)
			}
			if loglik(next) >= l0 || scale < 1e-10 {
				break
			}
		}
		copy(th, next)
	}
	t.Fatal("Newton's method did not converge")
	return nil
}

// cdSweep returns the distribution after one systematic single-site Gibbs sweep (sites
// 1..d, as samplers.Gibbs takes them) from p, under θ compact.
func cdSweep(th, p []float64, d int) []float64 {
	q := append([]float64(nil), p...)
	for i := 0; i < d; i++ {
		next := make([]float64, len(q))
		for b, pb := range q {
			if pb == 0 {
				continue
			}
			// local field aᵢ = hᵢ + Σ_{j≠i} Jᵢⱼsⱼ; P(sᵢ = +1 | rest) = σ(2aᵢ)
			a := th[i]
			for j := 0; j < d; j++ {
				if j != i {
					a += th[cdPair(d, i, j)] * cdSpin(b, j)
				}
			}
			up := 1 / (1 + math.Exp(-2*a))
			next[b|1<<i] += pb * up
			next[b&^(1<<i)] += pb * (1 - up)
		}
		q = next
	}
	return q
}

// cdPair is the index of J_{ij} (i ≠ j) in θ compact.
func cdPair(d, i, j int) int {
	if i > j {
		i, j = j, i
	}
	return d + i*d - i*(i+1)/2 + (j - i - 1)
}

// cdCD1FixedPoint returns the exact fixed point of CD-1 with one Gibbs sweep, where the
// data moments equal the moments one sweep from the data, m(θ) = E_{K_θ p̂}[φ] = φ̄. It is
// found by Newton's method on φ̄ − m(θ) from start, with the Jacobian of m by central
// differences (m is smooth in θ).
func cdCD1FixedPoint(t *testing.T, x *mat.Dense, start []float64) []float64 {
	_, d := x.Dims()
	pd := cdEmpirical(x)
	data := cdIsingMoments(pd, d)
	np := len(data)
	m := func(th []float64) []float64 { return cdIsingMoments(cdSweep(th, pd, d), d) }
	th := append([]float64(nil), start...)
	jac := mat.NewDense(np, np, nil)
	tp := make([]float64, np)
	for it := 0; it < 30; it++ {
		r := mat.NewVecDense(np, nil)
		for a, v := range m(th) {
			r.SetVec(a, data[a]-v)
		}
		if mat.Norm(r, math.Inf(1)) < 1e-12 {
			return th
		}
		const h = 1e-5
		for b := 0; b < np; b++ {
			copy(tp, th)
			tp[b] = th[b] + h
			up := m(tp)
			tp[b] = th[b] - h
			down := m(tp)
			for a := 0; a < np; a++ {
				jac.Set(a, b, (up[a]-down[a])/(2*h))
			}
		}
		var step mat.VecDense
		require.NoError(t, step.SolveVec(jac, r))
		for a := range th {
			th[a] += step.AtVec(a)
		}
	}
	t.Fatal("the CD-1 fixed point was not found")
	return nil
}

// cdCompact converts the energy.Ising layout (h, J d×d) to θ compact (h; J_{i<j}).
func cdCompact(f []float64, d int) []float64 {
	th := make([]float64, d+d*(d-1)/2)
	copy(th, f[:d])
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			th[cdPair(d, i, j)] = 0.5 * (f[d+i*d+j] + f[d+j*d+i])
		}
	}
	return th
}

// cdFull converts θ compact (h; J_{i<j}) to the energy.Ising layout (h, J d×d symmetric).
func cdFull(th []float64, d int) []float64 {
	f := make([]float64, d+d*d)
	copy(f, th[:d])
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			f[d+i*d+j], f[d+j*d+i] = th[cdPair(d, i, j)], th[cdPair(d, i, j)]
		}
	}
	return f
}

func cdMaxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// cdTrainIsing trains energy.Ising on x with cd (k = 1) or pcd and single-site Gibbs: SGD
// on the full batch, learning rate lr for the first half then decaying linearly to lr/20,
// and returns the average of the iterates over the second half (θ compact).
func cdTrainIsing(t *testing.T, tr *ContrastiveDivergence, x *mat.Dense, start []float64, steps int, lr float64, seed uint64) []float64 {
	_, d := x.Dims()
	e, err := energy.NewIsing(d, true)
	require.NoError(t, err)
	ev := framework.NewEvaluator(e)
	g, err := samplers.NewGibbs(samplers.GibbsOptions{})
	require.NoError(t, err)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x, Sampler: g, Streams: framework.Streams{Seed: seed}}))
	theta := cdFull(start, d)
	grad := make([]float64, len(theta))
	avg := make([]float64, len(theta))
	ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(seed, 0))}
	half := steps / 2
	for k := 0; k < steps; k++ {
		ctx.Step = k
		_, err := tr.Step(ctx, x, theta, grad)
		require.NoError(t, err)
		a := lr
		if k >= half {
			a = lr * (1 - 0.95*float64(k-half)/float64(steps-half))
		}
		for j := range theta {
			theta[j] -= a * grad[j]
		}
		if k >= half {
			for j := range theta {
				avg[j] += theta[j] / float64(steps-half)
			}
		}
	}
	return cdCompact(avg, d)
}

// cdIsingSubset returns the first n rows of ising10_train.csv, and the same rows repeated
// rep times (the same empirical distribution, so the same MLE and CD-1 fixed point, but rep
// times as many chains per step and so less Monte Carlo noise).
func cdIsingSubset(t *testing.T, n, rep int) (x, repeated *mat.Dense) {
	ds, err := framework.ReadCSV("../examples/data/ising10_train.csv")
	require.NoError(t, err)
	_, d := ds.X.Dims()
	x = mat.DenseCopyOf(ds.X.Slice(0, n, 0, d))
	repeated = mat.NewDense(n*rep, d, nil)
	for r := 0; r < rep; r++ {
		repeated.Slice(r*n, (r+1)*n, 0, d).(*mat.Dense).Copy(x)
	}
	return x, repeated
}

// PCD estimates the likelihood gradient without bias (its chains sample the model), CD-1
// does not (its chains are one sweep away from the data), so PCD ends nearer the exact MLE.
// Both are computed here by enumeration: the MLE by Newton's method, and the exact fixed
// point of CD-1 (data moments = moments one Gibbs sweep from the data).
//
// The data are the first 50 rows of ising10_train.csv: on all 5000 rows, which come from an
// Ising model, one sweep from the data is already close to the model and the CD-1 fixed
// point lies only 0.002 from the MLE (max-abs), which would take far more sampling to
// resolve; on 50 rows the MLE has strong couplings and the CD-1 bias is about 0.12. Both
// trainers start at the CD-1 fixed point and take the same SGD steps with the same seed:
// PCD must move most of the way to the MLE while CD-1 stays where it is.
// cd_slow_test.go trains both from θ = 0.
func TestPCDIsingNearerMLEThanCD1(t *testing.T) {
	x, xr := cdIsingSubset(t, 50, 20)
	mle := cdIsingMLE(t, x)
	fixed := cdCD1FixedPoint(t, x, mle)
	bias := cdMaxAbsDiff(fixed, mle)
	const steps, lr, seed = 400, 0.5, 7
	cd := cdTrainIsing(t, cdNewCD(t, CDOptions{K: 1}), xr, fixed, steps, lr, seed)
	pcd := cdTrainIsing(t, cdNewPCD(t, PCDOptions{K: 1, Init: "uniform"}), xr, fixed, steps, lr, seed)
	dCD, dPCD := cdMaxAbsDiff(cd, mle), cdMaxAbsDiff(pcd, mle)
	t.Logf("max-abs distance to the MLE: exact CD-1 fixed point %.4f, CD-1 %.4f, PCD %.4f", bias, dCD, dPCD)
	require.Greater(t, bias, 0.05, "the CD-1 bias must be large enough for the test to tell")
	require.Less(t, dPCD, dCD)
	require.Less(t, dPCD, bias/3, "PCD must move most of the way from the CD-1 fixed point to the MLE")
	require.Less(t, cdMaxAbsDiff(cd, fixed), bias/3, "CD-1 stays near its own fixed point")
}

// cdRBMPseudoLikelihood returns the mean over the rows of x of the log pseudo-likelihood
// Σⱼ log p(vⱼ | v₋ⱼ) = Σⱼ log σ(F(v⁽ʲ⁾) − F(v)) of the RBM with free energy
// F(v) = −bᵀv − Σₖ softplus(cₖ + Wₖ·v), by exact one-bit flips (v⁽ʲ⁾ is v with bit j flipped).
func cdRBMPseudoLikelihood(th []float64, x *mat.Dense, nh int) float64 {
	n, dv := x.Dims()
	W, b, c := th[:nh*dv], th[nh*dv:nh*dv+dv], th[nh*dv+dv:]
	a := make([]float64, nh)
	total := 0.0
	for i := 0; i < n; i++ {
		v := x.RawRowView(i)
		f := 0.0
		for j := range v {
			f -= b[j] * v[j]
		}
		for k := range a {
			a[k] = c[k]
			for j := range v {
				a[k] += W[k*dv+j] * v[j]
			}
			f -= cdSoftplus(a[k])
		}
		for j := range v {
			delta := 1 - 2*v[j] // change of vⱼ when flipped
			ff := f + b[j]*v[j] - b[j]*(v[j]+delta)
			for k := range a {
				ff += cdSoftplus(a[k]) - cdSoftplus(a[k]+W[k*dv+j]*delta)
			}
			// log σ(z) = −softplus(−z)
			total -= cdSoftplus(-(ff - f))
		}
	}
	return total / float64(n)
}

// CD-1 and PCD with block Gibbs (the classic RBM recipe) train an RBM on the binarised
// digits; the pseudo-likelihood of the data rises well above its value at the start.
func TestCDRBMDigits(t *testing.T) {
	ds, err := framework.ReadCSV("../examples/data/digits_bin.csv")
	require.NoError(t, err)
	x := ds.X
	n, dv := x.Dims()
	const nh, batch, steps, lr = 32, 100, 200, 0.3
	start := make([]float64, nh*dv+dv+nh)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < nh*dv; i++ {
		start[i] = 0.01 * rng.NormFloat64()
	}
	pl0 := cdRBMPseudoLikelihood(start, x, nh)
	// Baseline: independent bits at their data frequencies pⱼ, Σⱼ [pⱼ log pⱼ + (1−pⱼ) log(1−pⱼ)],
	// the best any model without interactions can do.
	indep := 0.0
	for j := 0; j < dv; j++ {
		p := mat.Sum(x.ColView(j)) / float64(n)
		if p > 0 && p < 1 { // a constant pixel contributes log 1 = 0
			indep += p*math.Log(p) + (1-p)*math.Log(1-p)
		}
	}
	for _, tc := range []struct {
		name string
		tr   *ContrastiveDivergence
	}{
		{"cd-1", cdNewCD(t, CDOptions{K: 1})},
		{"pcd", cdNewPCD(t, PCDOptions{K: 1, Init: "uniform"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := framework.NewEvaluator(cdRBM(dv, nh))
			g, err := samplers.NewGibbs(samplers.GibbsOptions{Block: true})
			require.NoError(t, err)
			require.NoError(t, tc.tr.Init(&framework.TrainContext{Eval: ev, Train: x, Sampler: g, Streams: framework.Streams{Seed: 3}}))
			theta := append([]float64(nil), start...)
			grad := make([]float64, len(theta))
			ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(3, 3))}
			for k := 0; k < steps; k++ {
				lo := (k * batch) % (n - batch)
				_, err := tc.tr.Step(ctx, x.Slice(lo, lo+batch, 0, dv).(*mat.Dense), theta, grad)
				require.NoError(t, err)
				for j := range theta {
					theta[j] -= lr * grad[j]
				}
			}
			pl := cdRBMPseudoLikelihood(theta, x, nh)
			t.Logf("mean log pseudo-likelihood: start %.3f, independent bits %.3f, after %d steps %.3f", pl0, indep, steps, pl)
			require.Greater(t, pl, pl0+10)
			require.Greater(t, pl, indep+2, "the RBM must model interactions between pixels")
		})
	}
}

// A training step allocates nothing once the trainer and sampler have sized their buffers
// (with one Evaluator worker: more workers cost the Evaluator its goroutines).
func TestCDNoAllocationPerStep(t *testing.T) {
	const d = 3
	x := normalRows(64, d, 5)
	theta := []float64{0.5, 1, 0.7, 0.1, 0.2, 0.05}
	for _, tr := range []*ContrastiveDivergence{
		cdNewCD(t, CDOptions{K: 2}),
		cdNewPCD(t, PCDOptions{K: 2, Init: "normal", InitScale: 1, Reinit: 0.1}),
		cdNewPCD(t, PCDOptions{K: 1, Chains: 50, Init: "data", EnergyL2: 0.1}),
	} {
		ev := framework.NewEvaluator(cdQuartic(d))
		ev.Workers = 1
		mala, err := samplers.NewMALA(samplers.MALAOptions{Step: 0.05, TargetAccept: 0.5})
		require.NoError(t, err)
		require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x, Sampler: mala, Streams: framework.Streams{Seed: 3}}))
		grad := make([]float64, len(theta))
		ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(1, 1))}
		_, err = tr.Step(ctx, x, theta, grad)
		require.NoError(t, err)
		if raceEnabled {
			continue // allocation counts are meaningless under the race detector
		}
		assert.Zero(t, testing.AllocsPerRun(10, func() {
			_, err := tr.Step(ctx, x, theta, grad)
			require.NoError(t, err)
		}), tr.method)
	}
}

// The same seed gives the same parameters bit for bit whatever the number of Evaluator
// workers: chains draw from their own streams and θ-sums are taken in chunk order. (The
// chunk size is part of the run's configuration: it fixes the order of those sums.)
func TestCDWorkersInvariance(t *testing.T) {
	x, _ := cdIsingSubset(t, 50, 1)
	for _, persistent := range []bool{false, true} {
		var ref []float64
		for _, cfg := range []struct{ workers, chunk int }{{1, 16}, {2, 16}, {3, 16}} {
			tr := cdNewCD(t, CDOptions{K: 1})
			if persistent {
				tr = cdNewPCD(t, PCDOptions{K: 1, Chains: 40, Init: "uniform", Reinit: 0.05})
			}
			ev := framework.NewEvaluator(cdIsing(10))
			ev.Workers, ev.ChunkRows = cfg.workers, cfg.chunk
			g, err := samplers.NewGibbs(samplers.GibbsOptions{})
			require.NoError(t, err)
			require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x, Sampler: g, Streams: framework.Streams{Seed: 4}}))
			theta := make([]float64, 110)
			grad := make([]float64, 110)
			ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(1, 1))}
			for k := 0; k < 5; k++ {
				_, err := tr.Step(ctx, x, theta, grad)
				require.NoError(t, err)
				for j := range theta {
					theta[j] -= 0.3 * grad[j]
				}
			}
			if ref == nil {
				ref = theta
				continue
			}
			require.Equal(t, ref, theta, "persistent=%v workers=%d chunk=%d", persistent, cfg.workers, cfg.chunk)
		}
	}
}
