package eval

// Standard errors of an M-estimator by the sandwich covariance.
//
// An estimator θ̂ that minimises L(θ) = Σₖ ℓₖ(θ) over independent observations has, to first
// order, θ̂ − θ* ≈ −H⁻¹ Σₖ ψₖ(θ*), with H = ∇²L and ψₖ = ∇θℓₖ, so
//
//	Cov(θ̂) ≈ H⁻¹ V H⁻¹,   V = Σ_g Σ_{k∈g} (ψₖ − ψ̄_g)(ψₖ − ψ̄_g)ᵀ,
//
// the sum over the i.i.d. groups g of the rows (one group for most estimators, the data and the
// noise for NCE). With ψₖ = ∇ℓ(xₖ)/n this is the familiar H⁻¹JH⁻¹/n, J the covariance of the
// per-observation gradients (Huber 1967; for score matching, Forbes and Lauritzen 2015, and
// the R package scorematchingad). Everything is evaluated at θ̂ on the training data: H exactly
// where the trainer has it (framework.Hessianer: sm, pl, rm with an energy linear in θ),
// else by central differences of the full-data gradient; ψₖ from framework.RowGrader.
//
// Assumptions: θ̂ is a minimiser of the training loss (grad_max, reported, should be near
// zero: train with lbfgs, newton or a closed form), the observations are independent, H is
// non-singular on the identifiable parameters, and n is large enough for the normal
// approximation. Trainers that draw noise (nce, dsm) are evaluated with the noise of the
// run's first "trainer-noise" seed, which is the noise a batch optimizer held fixed.
//
// Parameters fixed by symmetry. An energy may depend on θ only through a projection (the
// Gaussian's W = (A + Aᵀ)/2 stored in full, the Ising's J with its diagonal ignored). The
// directions along which E is constant at every point are found from the per-row θ-gradients
// on the data and on random points of the domain; the sandwich is taken on the orthogonal
// complement B (Cov = B(BᵀHB)⁻¹BᵀVB(BᵀHB)⁻¹Bᵀ), so a symmetric block gets the standard error of
// its symmetric part in both of its stored entries, and a parameter E ignores is reported as
// fixed, with standard error 0. H singular on the complement (too little data, collinear
// statistics) is flagged, and no standard errors are given.
//
// Gauge freedoms (an RBM's hidden-unit permutations: framework.Gauged) make θ unidentified in
// a way no local analysis sees; such energies are refused.

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/goebm/goebm/framework"
)

// ErrGauge is wrapped by the error of StandardErrors for an energy with a gauge freedom.
var ErrGauge = errors.New("parameters identified only up to a gauge freedom")

// SEOptions are the [eval.se] keys.
type SEOptions struct {
	Level float64 `toml:"level" help:"confidence level of the Wald intervals θ̂ ± z·SE"`
	Step  float64 `toml:"step" help:"relative step of the central differences of the gradient that give the Hessian (when not exact)"`
}

// DefaultSEOptions returns level 0.95 and step 1e-5.
func DefaultSEOptions() SEOptions { return SEOptions{Level: 0.95, Step: 1e-5} }

// Validate checks the options.
func (o *SEOptions) Validate() error {
	if !(o.Level > 0 && o.Level < 1) {
		return &framework.KeyError{Key: "level", Msg: fmt.Sprintf("must be in (0, 1), got %v", o.Level)}
	}
	if !(o.Step > 0 && o.Step <= 1e-2) {
		return &framework.KeyError{Key: "step", Msg: fmt.Sprintf("must be in (0, 0.01], got %v", o.Step)}
	}
	return nil
}

// SEBlock holds the standard errors of one θ block, row-major like the block.
type SEBlock struct {
	Name     string    `json:"name"`
	Shape    []int     `json:"shape"`
	Estimate []float64 `json:"estimate"` // the identifiable part of θ̂ (a symmetric block symmetrised)
	SE       []float64 `json:"se"`
	Lower    []float64 `json:"lower"`
	Upper    []float64 `json:"upper"`
	Fixed    []int     `json:"fixed,omitempty"` // entries E does not depend on (standard error 0)
}

// SE is the result of StandardErrors.
type SE struct {
	Level      float64       `json:"level"`
	Z          float64       `json:"z"`
	Stored     int           `json:"stored_parameters"`
	Free       int           `json:"free_parameters"` // the dimension of the identifiable subspace
	Singular   bool          `json:"singular"`
	MinEig     float64       `json:"hessian_min_eigenvalue"` // on the identifiable subspace
	Cond       float64       `json:"hessian_condition"`
	Hessian    string        `json:"hessian"` // "exact" or "central differences"
	GradMax    float64       `json:"grad_max"`
	Rows       int           `json:"rows"`
	Message    string        `json:"message,omitempty"`
	Blocks     []SEBlock     `json:"blocks,omitempty"`
	Covariance *mat.SymDense `json:"-"`
}

// seSingularTol is the relative eigenvalue below which H counts as singular on the
// identifiable subspace; seNullTol the relative eigenvalue of the statistics' Gram matrix
// below which a direction counts as one E does not depend on.
const (
	seSingularTol = 1e-10
	seNullTol     = 1e-12
)

// StandardErrors computes the sandwich standard errors of θ̂ (theta: the energy's blocks then
// any trainer blocks, as blocks lists them) for the trainer tr on the training data x.
func StandardErrors(ev *framework.Evaluator, tr framework.Trainer, x *mat.Dense, theta []float64, blocks []framework.Block, streams framework.Streams, o SEOptions) (*SE, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	spec := ev.Spec()
	if g, ok := ev.Energy().(framework.Gauged); ok {
		return nil, fmt.Errorf("standard errors: energy %s: %s, so θ is not identified and its standard errors would mean nothing: %w", spec.Name, g.Gauge(), ErrGauge)
	}
	rg, ok := tr.(framework.RowGrader)
	if !ok {
		return nil, fmt.Errorf("standard errors: trainer %T has no per-observation gradients; they are available for sm, pl, rm, nce, dsm and mle: %w", tr, ErrUnsupported)
	}
	if err := tr.Init(&framework.TrainContext{Eval: ev, Train: x, Streams: streams}); err != nil {
		return nil, err
	}
	if nf, ok := tr.(framework.NoiseFixer); ok {
		nf.FixNoise(streams.PCG("trainer-noise", 0).Uint64())
	}
	p := len(theta)
	n, _ := x.Dims()
	se := &SE{Level: o.Level, Stored: p, Rows: n}
	se.Z = distuv.UnitNormal.Quantile(0.5 + o.Level/2)
	sctx := &framework.StepContext{Eval: ev, RNG: streams.Rand("eval-se", 0)}
	f := func(th, g []float64) (float64, error) { return tr.Step(sctx, x, th, g) }
	grad := make([]float64, p)
	if _, err := f(theta, grad); err != nil {
		return nil, err
	}
	for _, v := range grad {
		se.GradMax = math.Max(se.GradMax, math.Abs(v))
	}
	h := mat.NewSymDense(p, nil)
	if hs, ok := tr.(framework.Hessianer); ok {
		se.Hessian = "exact"
		if err := hs.Hessian(sctx, x, theta, h); err != nil {
			return nil, err
		}
		if !spec.Caps.Has(framework.CapLinear) {
			se.Hessian = "central differences"
		}
	} else {
		se.Hessian = "central differences"
		if err := framework.HessianByDifferences(f, theta, o.Step, h); err != nil {
			return nil, err
		}
	}
	rows, err := rg.RowGrads(sctx, x, theta)
	if err != nil {
		return nil, err
	}
	v := meat(rows)
	b, err := identifiable(ev, x, theta, streams)
	if err != nil {
		return nil, err
	}
	_, q := b.Dims()
	se.Free = q
	// Reduced H and V on the identifiable subspace.
	var hb, hr, vb, vr mat.Dense
	hb.Mul(h, b)
	hr.Mul(b.T(), &hb)
	vb.Mul(v, b)
	vr.Mul(b.T(), &vb)
	var eig mat.EigenSym
	if !eig.Factorize(symOf(&hr), true) {
		return nil, errors.New("standard errors: eigen-decomposition of the Hessian did not converge")
	}
	vals := eig.Values(nil)
	lmax := 0.0
	for _, l := range vals {
		lmax = math.Max(lmax, math.Abs(l))
	}
	se.MinEig = vals[0]
	if vals[0] > 0 {
		se.Cond = lmax / vals[0]
	} else {
		se.Cond = math.Inf(1)
	}
	if !(vals[0] > seSingularTol*lmax) {
		se.Singular = true
		se.Cond = 0 // not JSON-encodable as +Inf
		var vecs mat.Dense
		eig.VectorsTo(&vecs)
		dir := make([]float64, p)
		var col mat.VecDense
		col.MulVec(b, vecs.ColView(0))
		for k := range dir {
			dir[k] = col.AtVec(k)
		}
		se.Message = fmt.Sprintf("the Hessian is singular on the identifiable parameters (smallest eigenvalue %.3g, largest %.3g); the direction of the smallest loads most on %s: the data do not determine it (more data, or fewer parameters)",
			vals[0], lmax, largestLoading(blocks, dir))
		return se, nil
	}
	// Cov = B Hr⁻¹ Vr Hr⁻¹ Bᵀ.
	var hinv mat.Dense
	if err := hinv.Inverse(&hr); err != nil {
		return nil, fmt.Errorf("standard errors: %w", err)
	}
	var t1, t2, cb, cov mat.Dense
	t1.Mul(&hinv, &vr)
	t2.Mul(&t1, &hinv)
	cb.Mul(b, &t2)
	cov.Mul(&cb, b.T())
	se.Covariance = symOf(&cov)
	// The identifiable part of θ̂: its projection BBᵀθ̂.
	var proj mat.VecDense
	var bt mat.VecDense
	bt.MulVec(b.T(), mat.NewVecDense(p, theta))
	proj.MulVec(b, &bt)
	// Diagonal of BBᵀ: 0 for entries E ignores.
	off := 0
	for _, blk := range blocks {
		sb := SEBlock{Name: blk.Name, Shape: blk.Shape}
		for k := off; k < off+blk.Size(); k++ {
			reach := 0.0
			for j := 0; j < q; j++ {
				reach += b.At(k, j) * b.At(k, j)
			}
			s := math.Sqrt(math.Max(0, cov.At(k, k)))
			est := proj.AtVec(k)
			if reach < 1e-12 {
				sb.Fixed = append(sb.Fixed, k-off)
				s, est = 0, theta[k]
			}
			sb.Estimate = append(sb.Estimate, est)
			sb.SE = append(sb.SE, s)
			sb.Lower = append(sb.Lower, est-se.Z*s)
			sb.Upper = append(sb.Upper, est+se.Z*s)
		}
		off += blk.Size()
		se.Blocks = append(se.Blocks, sb)
	}
	return se, nil
}

// meat returns V = Σ_g Σ_{k∈g} (ψₖ − ψ̄_g)(ψₖ − ψ̄_g)ᵀ.
func meat(rg *framework.RowGrads) *mat.SymDense {
	rows, p := rg.G.Dims()
	groups := rg.Groups
	if len(groups) == 0 {
		groups = []int{rows}
	}
	v := mat.NewSymDense(p, nil)
	c := mat.NewDense(rows, p, nil)
	start := 0
	for _, m := range groups {
		mean := make([]float64, p)
		for k := start; k < start+m; k++ {
			for j, x := range rg.G.RawRowView(k) {
				mean[j] += x / float64(m)
			}
		}
		for k := start; k < start+m; k++ {
			dst, src := c.RawRowView(k), rg.G.RawRowView(k)
			for j := range dst {
				dst[j] = src[j] - mean[j]
			}
		}
		start += m
	}
	v.SymOuterK(1, c.T())
	return v
}

// identifiable returns an orthonormal basis B (p×q) of the parameter directions E depends on,
// plus every trainer-owned parameter (beyond the energy's). A direction u of the energy's θ is
// dropped when ∇θE(x)·u = 0 at the first 2p + 64 rows of x and at 2p random points of the
// domain (spins or bits drawn uniformly; continuous points scattered around the data).
func identifiable(ev *framework.Evaluator, x *mat.Dense, theta []float64, streams framework.Streams) (*mat.Dense, error) {
	spec := ev.Spec()
	pe, p := spec.NumParams(), len(theta)
	n, d := x.Dims()
	n = min(n, 2*pe+64) // the first rows suffice to span what the data can show
	probe := max(2*pe, 64)
	pts := mat.NewDense(n+probe, d, nil)
	for i := 0; i < n; i++ {
		copy(pts.RawRowView(i), x.RawRowView(i))
	}
	rng := streams.Rand("eval-se-probe", 0)
	for i := n; i < n+probe; i++ {
		row := pts.RawRowView(i)
		src := x.RawRowView(rng.IntN(n))
		for j := range row {
			switch spec.Domain {
			case framework.Spin:
				row[j] = float64(2*rng.IntN(2) - 1)
			case framework.Binary:
				row[j] = float64(rng.IntN(2))
			default:
				row[j] = src[j] + rng.NormFloat64()*(1+math.Abs(src[j]))
			}
		}
	}
	var res framework.Result
	if err := ev.Evaluate(&framework.Request{Outputs: framework.OutParamJac, X: pts, Theta: theta[:pe]}, &res); err != nil {
		return nil, fmt.Errorf("standard errors: per-row θ-gradients: %w", err)
	}
	gram := mat.NewSymDense(pe, nil)
	gram.SymOuterK(1/float64(n+probe), res.ParamJac.T())
	var eig mat.EigenSym
	if !eig.Factorize(gram, true) {
		return nil, errors.New("standard errors: eigen-decomposition of the statistics' Gram matrix did not converge")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	lmax := vals[len(vals)-1]
	var keep []int
	for k, l := range vals {
		if l > seNullTol*lmax {
			keep = append(keep, k)
		}
	}
	q := len(keep) + (p - pe)
	b := mat.NewDense(p, q, nil)
	for c, k := range keep {
		for r := 0; r < pe; r++ {
			b.Set(r, c, vecs.At(r, k))
		}
	}
	for j := 0; j < p-pe; j++ {
		b.Set(pe+j, len(keep)+j, 1)
	}
	return b, nil
}

// symOf returns the symmetric part of a square matrix.
func symOf(m *mat.Dense) *mat.SymDense {
	r, _ := m.Dims()
	s := mat.NewSymDense(r, nil)
	for i := 0; i < r; i++ {
		for j := i; j < r; j++ {
			s.SetSym(i, j, 0.5*(m.At(i, j)+m.At(j, i)))
		}
	}
	return s
}

// largestLoading names the θ entries where dir is largest, as "block[index]".
func largestLoading(blocks []framework.Block, dir []float64) string {
	type e struct {
		k int
		v float64
	}
	var es []e
	for k, v := range dir {
		es = append(es, e{k, math.Abs(v)})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].v > es[j].v })
	name := func(k int) string {
		off := 0
		for _, b := range blocks {
			if k < off+b.Size() {
				return fmt.Sprintf("%s[%d]", b.Name, k-off)
			}
			off += b.Size()
		}
		return fmt.Sprintf("θ[%d]", k)
	}
	out := name(es[0].k)
	if len(es) > 1 && es[1].v > 0.5*es[0].v {
		out += " and " + name(es[1].k)
	}
	return out
}

// Summary returns the study columns of se: the mean and largest standard error over the free
// parameters, whether H was singular, and, given a reference θ for some blocks, the fraction
// of their free parameters whose Wald interval covers the reference value (coverage).
func (se *SE) Summary(ref *Reference) map[string]float64 {
	out := map[string]float64{"se_singular": 0}
	if se.Singular {
		out["se_singular"] = 1
		return out
	}
	sum, mx, cnt := 0.0, 0.0, 0
	covered, total := 0, 0
	for _, b := range se.Blocks {
		fixed := map[int]bool{}
		for _, k := range b.Fixed {
			fixed[k] = true
		}
		var rv []float64
		if ref != nil {
			rv = ref.Blocks[b.Name]
		}
		for k, s := range b.SE {
			if fixed[k] {
				continue
			}
			sum += s
			mx = math.Max(mx, s)
			cnt++
			if len(rv) == len(b.SE) {
				total++
				if rv[k] >= b.Lower[k] && rv[k] <= b.Upper[k] {
					covered++
				}
			}
		}
	}
	if cnt > 0 {
		out["se_mean"] = sum / float64(cnt)
		out["se_max"] = mx
	}
	if total > 0 {
		out["coverage"] = float64(covered) / float64(total)
	}
	return out
}
