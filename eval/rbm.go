package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/goebm/goebm/energy"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// MaxHiddenEnumerate is the largest number of hidden units RBM.LogZ sums out exactly.
const MaxHiddenEnumerate = 20

// RBM is a binary restricted Boltzmann machine read from an energy's θ blocks: "W" (H×D),
// "b" (D) and "c" (H). Its joint energy is E(v, h) = −bᵀv − cᵀh − hᵀWv on {0,1}^D × {0,1}^H,
// and the energy of the visible units alone is the free energy
//
//	F(v) = −bᵀv − Σⱼ softplus(cⱼ + Wⱼ·v),  softplus(a) = log(1 + eᵃ).
//
// eval reads these blocks and nothing else of the rbm energy; RBMOf checks that the energy
// has exactly them, and VerifyRBM that it computes this F.
type RBM struct {
	H, D int
	W    []float64 // H×D row-major
	B, C []float64
}

// RBMOf returns the RBM held in θ when spec is a binary energy with exactly the blocks W
// (H×D, D = spec.Dim), b (D) and c (H).
func RBMOf(spec framework.Spec, theta []float64) (*RBM, bool) {
	if spec.Domain != framework.Binary || len(spec.Blocks) != 3 {
		return nil, false
	}
	wo, _, ok1 := spec.BlockOffset("W")
	bo, _, ok2 := spec.BlockOffset("b")
	co, _, ok3 := spec.BlockOffset("c")
	if !ok1 || !ok2 || !ok3 {
		return nil, false
	}
	var h, d int
	for _, b := range spec.Blocks {
		switch b.Name {
		case "W":
			if len(b.Shape) != 2 {
				return nil, false
			}
			h, d = b.Shape[0], b.Shape[1]
		}
	}
	for _, b := range spec.Blocks {
		want := map[string][]int{"W": {h, d}, "b": {d}, "c": {h}}[b.Name]
		if !sameInts(b.Shape, want) {
			return nil, false
		}
	}
	if d != spec.Dim || len(theta) < spec.NumParams() {
		return nil, false
	}
	return &RBM{H: h, D: d, W: theta[wo : wo+h*d], B: theta[bo : bo+d], C: theta[co : co+h]}, true
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FreeEnergyAt returns F_β(v) = −β·bᵀv − Σⱼ softplus(β(cⱼ + Wⱼ·v)), the free energy of the RBM
// with every parameter scaled by β (β = 1: F(v)); a, length H, receives cⱼ + Wⱼ·v.
func (r *RBM) FreeEnergyAt(v []float64, beta float64, a []float64) float64 {
	r.preact(v, a)
	return r.freeFromPreact(v, beta, a)
}

func (r *RBM) preact(v, a []float64) {
	for j := 0; j < r.H; j++ {
		s := r.C[j]
		for i, w := range r.W[j*r.D : (j+1)*r.D] {
			s += w * v[i]
		}
		a[j] = s
	}
}

func (r *RBM) freeFromPreact(v []float64, beta float64, a []float64) float64 {
	f := 0.0
	for i, b := range r.B {
		f -= beta * b * v[i]
	}
	for _, x := range a {
		f -= numeric.Softplus(beta * x)
	}
	return f
}

// VerifyRBM checks that the energy behind ev computes the free energy F of r: it compares E
// with F on the first rows of x (when not nil) and on 32 states drawn from rng, to a relative
// 10⁻⁹. The exact and AIS shortcuts of this package rely on it.
func VerifyRBM(ev *framework.Evaluator, theta []float64, r *RBM, x *mat.Dense, rng *rand.Rand) error {
	var rows [][]float64
	if x != nil {
		n, _ := x.Dims()
		for i := 0; i < min(n, 32); i++ {
			rows = append(rows, x.RawRowView(i))
		}
	}
	for k := 0; k < 32; k++ {
		v := make([]float64, r.D)
		for i := range v {
			v[i] = float64(rng.IntN(2))
		}
		rows = append(rows, v)
	}
	m := mat.NewDense(len(rows), r.D, nil)
	for i, v := range rows {
		m.SetRow(i, v)
	}
	var res framework.Result
	if err := ev.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: m, Theta: theta}, &res); err != nil {
		return err
	}
	a := make([]float64, r.H)
	for i, v := range rows {
		f := r.FreeEnergyAt(v, 1, a)
		if math.Abs(f-res.Energy[i]) > 1e-9*(1+math.Abs(f)) {
			return fmt.Errorf("energy %s has RBM blocks W, b, c but E = %.12g at a test state where the free energy −bᵀv − Σ numeric.Softplus(c + Wv) is %.12g",
				ev.Spec().Name, res.Energy[i], f)
		}
	}
	return nil
}

// LogZ returns log Z = log Σ_v exp(−F(v)) exactly by summing out the visible units instead,
// Z = Σ_h exp(cᵀh) Πᵢ (1 + exp(bᵢ + (Wᵀh)ᵢ)), with energy.RBMLogZ (O(2^H·D), on workers
// goroutines, the result independent of their number), for at most MaxHiddenEnumerate hidden
// units.
func (r *RBM) LogZ(workers int) (float64, error) {
	if r.H > MaxHiddenEnumerate {
		return 0, fmt.Errorf("rbm: %d hidden units, beyond %d for exact enumeration: use AIS: %w", r.H, MaxHiddenEnumerate, ErrUnsupported)
	}
	return energy.RBMLogZ(r.W, r.B, r.C, r.H, r.D, workers), nil
}

// TemperedRBM is the AIS path of an RBM from the uniform distribution on {0,1}^(D+H) (β = 0)
// to the RBM (β = 1) through RBMs with every parameter scaled by β: the joint energy is
// β·E(v, h), the visible energy F_β(v) = −β·bᵀv − Σⱼ softplus(β(cⱼ + Wⱼ·v)), and
// Z₀ = 2^(D+H). Unlike E_β of Tempered its block-Gibbs conditionals are exact,
//
//	p(hⱼ = 1 | v) = σ(β(cⱼ + Wⱼ·v)),  p(vᵢ = 1 | h) = σ(β(bᵢ + (Wᵀh)ᵢ)),
//
// so a Gibbs sampler with block = true mixes at every temperature (Salakhutdinov and Murray
// 2008, with a uniform base). θ is the RBM's (W, b, c) followed by β.
//
// Since F_β(v; θ) = F(v; βθ), it is the built-in rbm energy at βθ: E, ∇ᵥE and the block-Gibbs
// sweep are the rbm's at βθ, and the parameter product follows by the chain rule,
// Σᵢwᵢ∇θF_β = β·g and Σᵢwᵢ∂F_β/∂β = θᵀg with g = Σᵢwᵢ∇θF(xᵢ; βθ).
type TemperedRBM struct {
	spec framework.Spec
	h, d int
	p    int
	rbm  *energy.RBM
	pool sync.Pool // *temperedScratch
}

type temperedScratch struct {
	theta []float64 // βθ
	req   framework.Request
	res   framework.Result
}

// NewTemperedRBM returns the tempered path of an RBM of the given spec (checked by RBMOf).
func NewTemperedRBM(spec framework.Spec) (*TemperedRBM, error) {
	probe := make([]float64, spec.NumParams())
	r, ok := RBMOf(spec, probe)
	if !ok {
		return nil, fmt.Errorf("tempered rbm: energy %s does not have the RBM blocks W (H×D), b (D), c (H)", spec.Name)
	}
	inner, err := energy.NewRBM(r.D, r.H)
	if err != nil {
		return nil, fmt.Errorf("tempered rbm: %w", err)
	}
	if !sameBlocks(inner.Spec().Blocks, spec.Blocks) {
		return nil, fmt.Errorf("tempered rbm: energy %s lays out W, b and c otherwise than the built-in rbm", spec.Name)
	}
	t := &TemperedRBM{h: r.H, d: r.D, p: spec.NumParams(), rbm: inner}
	t.spec = framework.Spec{Name: "tempered " + spec.Name, Dim: spec.Dim, Domain: framework.Binary,
		Blocks: append(append([]framework.Block(nil), spec.Blocks...), framework.Block{Name: "beta", Shape: []int{1}}),
		Caps:   framework.CapBlockGibbs}
	t.pool.New = func() any { return &temperedScratch{theta: make([]float64, t.p)} }
	return t, nil
}

func sameBlocks(a, b []framework.Block) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !sameInts(a[i].Shape, b[i].Shape) {
			return false
		}
	}
	return true
}

// Spec describes the tempered RBM: the RBM's blocks, then "beta".
func (t *TemperedRBM) Spec() framework.Spec { return t.spec }

// InitParams sets θ to zero (the uniform distribution at any β).
func (t *TemperedRBM) InitParams(dst []float64, _ *rand.Rand) error { clear(dst); return nil }

// LogZ0 returns (D + H)·log 2.
func (t *TemperedRBM) LogZ0() float64 { return float64(t.d+t.h) * math.Ln2 }

// scaled returns scratch holding βθ.
func (t *TemperedRBM) scaled(theta []float64) (*temperedScratch, float64) {
	sc := t.pool.Get().(*temperedScratch)
	beta := theta[t.p]
	for i, v := range theta[:t.p] {
		sc.theta[i] = beta * v
	}
	return sc, beta
}

// Evaluate computes F_β, its gradient in v and the parameter product, through the rbm at βθ.
func (t *TemperedRBM) Evaluate(req *framework.Request, res *framework.Result) error {
	if err := checkShape(t.spec, req); err != nil {
		return err
	}
	sc, beta := t.scaled(req.Theta)
	defer t.pool.Put(sc)
	o := req.Outputs & (framework.OutEnergy | framework.OutGradX | framework.OutParamVJP)
	sc.req = framework.Request{Outputs: o, X: req.X, Theta: sc.theta, Weights: req.Weights}
	n := req.Rows()
	sc.res.Energy, sc.res.GradX = res.Energy, res.GradX
	sc.res.Reset(o&framework.OutParamVJP, n, t.d, t.p)
	if err := t.rbm.Evaluate(&sc.req, &sc.res); err != nil {
		return err
	}
	if o.Has(framework.OutParamVJP) {
		g, out := sc.res.ParamVJP, res.ParamVJP
		db := 0.0
		for i, v := range g {
			out[i] += beta * v
			db += req.Theta[i] * v
		}
		out[t.p] += db
	}
	return nil
}

// BlockGibbs resamples every row of x by one sweep v → h → v at the temperature in θ: the
// rbm's sweep at βθ.
func (t *TemperedRBM) BlockGibbs(theta []float64, x *mat.Dense, rngs []*rand.Rand) error {
	if err := checkShape(t.spec, &framework.Request{Theta: theta, X: x}); err != nil {
		return err
	}
	sc, _ := t.scaled(theta)
	defer t.pool.Put(sc)
	return t.rbm.BlockGibbs(sc.theta, x, rngs)
}
