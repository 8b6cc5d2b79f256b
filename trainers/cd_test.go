package trainers

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// cdEnergy is a test energy given by one function per row: it returns E(x), writes ∇ₓE
// into gx when not nil and adds w·∇θE into gp when not nil. block, when set, makes it a
// framework.BlockGibbser (through cdBlockEnergy).
type cdEnergy struct {
	spec  framework.Spec
	row   func(theta, x, gx []float64, w float64, gp []float64) float64
	block func(theta []float64, x *mat.Dense, rngs []*rand.Rand) error
}

func (e *cdEnergy) Spec() framework.Spec                 { return e.spec }
func (e *cdEnergy) InitParams(_ []float64, _ *rand.Rand) {}
func (e cdBlockEnergy) BlockGibbs(th []float64, x *mat.Dense, r []*rand.Rand) error {
	return e.block(th, x, r)
}

type cdBlockEnergy struct{ *cdEnergy }

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

// cdIsing is E(s) = −(hᵀs + ½sᵀJs) on spins, θ = (h, J d×d row-major).
func cdIsing(d int) framework.Energy {
	return &cdEnergy{
		spec: framework.Spec{Name: "test-ising", Dim: d, Domain: framework.Spin,
			Blocks: []framework.Block{{Name: "h", Shape: []int{d}}, {Name: "J", Shape: []int{d, d}}}},
		row: func(th, s, gx []float64, w float64, gp []float64) float64 {
			h, J := th[:d], th[d:]
			e := 0.0
			for i := range s {
				a := h[i]
				for j := range s {
					a += 0.5 * J[i*d+j] * s[j]
				}
				e -= a * s[i]
				if gp != nil {
					gp[i] -= w * s[i]
					for j := range s {
						gp[d+i*d+j] -= w * 0.5 * s[i] * s[j]
					}
				}
			}
			if gx != nil {
				for i := range s {
					a := h[i]
					for j := range s {
						a += J[i*d+j] * s[j]
					}
					gx[i] = -a
				}
			}
			return e
		},
	}
}

func cdSigmoid(a float64) float64 { return 1 / (1 + math.Exp(-a)) }

func cdSoftplus(a float64) float64 {
	if a > 0 {
		return a + math.Log1p(math.Exp(-a))
	}
	return math.Log1p(math.Exp(a))
}

// cdRBM is the free energy of a binary RBM, F(v) = −bᵀv − Σₖ softplus(cₖ + Wₖ·v),
// θ = (W nh×dv, b, c), with block Gibbs v → h → v.
func cdRBM(dv, nh int) framework.Energy {
	e := &cdEnergy{
		spec: framework.Spec{Name: "test-rbm", Dim: dv, Domain: framework.Binary, Caps: framework.CapBlockGibbs,
			Blocks: []framework.Block{{Name: "W", Shape: []int{nh, dv}}, {Name: "b", Shape: []int{dv}}, {Name: "c", Shape: []int{nh}}}},
		row: func(th, v, gx []float64, w float64, gp []float64) float64 {
			W, b, c := th[:nh*dv], th[nh*dv:nh*dv+dv], th[nh*dv+dv:]
			f := 0.0
			for j := range v {
				f -= b[j] * v[j]
				if gp != nil {
					gp[nh*dv+j] -= w * v[j]
				}
			}
			for k := 0; k < nh; k++ {
				a := c[k]
				for j := range v {
					a += W[k*dv+j] * v[j]
				}
				f -= cdSoftplus(a)
				if gp != nil {
					p := w * cdSigmoid(a)
					for j := range v {
						gp[k*dv+j] -= p * v[j]
					}
					gp[nh*dv+dv+k] -= p
				}
			}
			if gx != nil {
				for j := range gx {
					gx[j] = 0 // not used by the tests (binary domain)
				}
			}
			return f
		},
	}
	e.block = func(th []float64, x *mat.Dense, rngs []*rand.Rand) error {
		W, b, c := th[:nh*dv], th[nh*dv:nh*dv+dv], th[nh*dv+dv:]
		n, _ := x.Dims()
		h := make([]float64, nh)
		for i := 0; i < n; i++ {
			v, rng := x.RawRowView(i), rngs[i]
			for k := range h {
				a := c[k]
				for j := range v {
					a += W[k*dv+j] * v[j]
				}
				h[k] = 0
				if rng.Float64() < cdSigmoid(a) {
					h[k] = 1
				}
			}
			for j := range v {
				a := b[j]
				for k := range h {
					a += W[k*dv+j] * h[k]
				}
				v[j] = 0
				if rng.Float64() < cdSigmoid(a) {
					v[j] = 1
				}
			}
		}
		return nil
	}
	return cdBlockEnergy{e}
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
		{"normal init on spins", cdIsing(3), gibbs, "normal", "does not fit a spin energy", false},
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
