package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// RBM is the binary–binary restricted Boltzmann machine with joint energy
// E(v, h) = −bᵀv − cᵀh − hᵀWv, seen through the free energy of its visible units,
//
//	E(v) = −log Σ_h e^{−E(v,h)} = −bᵀv − Σⱼ softplus(cⱼ + Wⱼ·v),
//
// on v ∈ {0,1}^D with H hidden units. Blocks "W" (H×D), "b" (D), "c" (H), as scikit-learn's
// BernoulliRBM components_, intercept_visible_ and intercept_hidden_ (LoadSklearnRBM).
// InitParams draws W from N(0, 0.01²) and sets b = c = 0, as scikit-learn does.
//
// The x-derivatives are those of the free energy on ℝ^D: with aⱼ = cⱼ + Wⱼ·v and σ the
// logistic function, ∇ₓE = −b − Wᵀσ(a) and ∇²ₓE = −Wᵀdiag(σ′(a))W. The energy implements
// framework.BlockGibbser: one sweep draws h ~ p(h|v), then v ~ p(v|h).
type RBM struct {
	d, h int
	init []float64
	pool sync.Pool
}

type rbmWork struct {
	a, s, s1, s2 []float64 // a = XWᵀ + c, σ(a), σ′(a), σ″(a); n×H
	sp           []float64 // softplus(a), n×H
	p            []float64 // scratch, n×H
	g            []float64 // ∇ₓE when not requested, or visible activations; n×D
	m            []float64 // mixed directions uᵢ, n×D
	r            []float64 // ‖Wⱼ‖², H
	col          []float64 // scratch, H
}

// NewRBM returns the RBM free energy on {0,1}^visible with the given number of hidden units.
func NewRBM(visible, hidden int) (*RBM, error) {
	if visible < 1 || hidden < 1 {
		return nil, fmt.Errorf("rbm: %d visible and %d hidden units, want at least one of each", visible, hidden)
	}
	e := &RBM{d: visible, h: hidden}
	e.pool.New = func() any { return new(rbmWork) }
	return e, nil
}

// Spec describes the energy.
func (e *RBM) Spec() framework.Spec {
	return framework.Spec{
		Name: "rbm", Dim: e.d, Domain: framework.Binary,
		Blocks: []framework.Block{{Name: "W", Shape: []int{e.h, e.d}}, {Name: "b", Shape: []int{e.d}}, {Name: "c", Shape: []int{e.h}}},
		Caps:   framework.CapMixed | framework.CapMixedSelf | framework.CapLaplacian | framework.CapHVP | framework.CapBlockGibbs | framework.CapParamJac,
	}
}

func (e *RBM) numParams() int { return e.h*e.d + e.d + e.h }

// InitParams writes W ~ N(0, 0.01²), b = c = 0 into dst, or the parameters given to SetInit.
func (e *RBM) InitParams(dst []float64, rng *rand.Rand) error {
	if e.init != nil {
		copy(dst, e.init)
		return nil
	}
	clear(dst)
	for i := 0; i < e.h*e.d; i++ {
		dst[i] = 0.01 * rng.NormFloat64()
	}
	return nil
}

// SetInit makes InitParams write θ instead of a random draw.
func (e *RBM) SetInit(theta []float64) error {
	if len(theta) != e.numParams() {
		return fmt.Errorf("rbm: initial θ has %d parameters, want %d", len(theta), e.numParams())
	}
	e.init = slices.Clone(theta)
	return nil
}

func (e *RBM) blocks(theta []float64) (w, b, c []float64) {
	hd := e.h * e.d
	return theta[:hd], theta[hd : hd+e.d], theta[hd+e.d:]
}

// Evaluate computes the requested outputs. With aⱼ = cⱼ + Wⱼ·x, s = σ(a), s′ = σ′(a),
// s″ = σ″(a) and rⱼ = ‖Wⱼ‖²:
//
//	E = −bᵀx − Σⱼ softplus(aⱼ),  ∇ₓE = −b − Wᵀs,
//	∇_W E = −sxᵀ, ∇_b E = −x, ∇_c E = −s,
//	∇θ uᵀ∇ₓE: W-part −(s′∘Wu)xᵀ − suᵀ, b-part −u, c-part −s′∘Wu,
//	ΔₓE = −Σⱼ s′ⱼrⱼ: W-part −(s″∘r)xᵀ − 2 diag(s′)W, c-part −s″∘r,
//	∇²ₓE v = −Wᵀ(s′∘Wv).
func (e *RBM) Evaluate(req *framework.Request, res *framework.Result) error {
	D, H := e.d, e.h
	n, err := checkRequest("rbm", req, res, D, e.numParams())
	if err != nil || n == 0 {
		return err
	}
	ws := e.pool.Get().(*rbmWork)
	defer e.pool.Put(ws)
	o := req.Outputs
	wt, b, c := e.blocks(req.Theta)
	W := general(H, D, wt)
	X := rawOf(req.X)
	k := n * H
	ws.a, ws.s = numeric.Resize(ws.a, k), numeric.Resize(ws.s, k)
	for i := 0; i < n; i++ {
		copy(ws.a[i*H:(i+1)*H], c)
	}
	A := general(n, H, ws.a)
	gemm(blas.NoTrans, blas.Trans, 1, X, W, 1, A)
	second := o&(framework.OutMixed|framework.OutLaplacian|framework.OutLaplacianVJP|framework.OutHVP) != 0
	// softplus(a) and s = σ(a), s′ = s(1−s), s″ = s(1−s)(1−2s): the derivatives of softplus.
	var sp, s1, s2 []float64
	if o.Has(framework.OutEnergy) {
		ws.sp = numeric.Resize(ws.sp, k)
		sp = ws.sp
	}
	if second {
		ws.s1 = numeric.Resize(ws.s1, k)
		s1 = ws.s1
	}
	if o.Has(framework.OutLaplacianVJP) {
		ws.s2 = numeric.Resize(ws.s2, k)
		s2 = ws.s2
	}
	softplusEval(ws.a[:k], sp, ws.s[:k], s1, s2)
	if o.Has(framework.OutEnergy) {
		b := b[:D]
		for i := 0; i < n; i++ {
			en := 0.0
			for _, v := range sp[i*H : (i+1)*H] {
				en -= v
			}
			for kk, v := range X.Data[i*X.Stride : i*X.Stride+D] {
				en -= float64(b[kk] * v)
			}
			res.Energy[i] = en
		}
	}
	S := general(n, H, ws.s)
	if o.Has(framework.OutParamJac) {
		rbmParamJac(req.X, ws.s, H, res.ParamJac)
	}
	needG := o.Has(framework.OutGradX) || (o.Has(framework.OutMixed) && req.MixedSelf != 0)
	var G blas64.General // ∇ₓE
	if needG {
		if o.Has(framework.OutGradX) {
			G = rawOf(res.GradX)
		} else {
			ws.g = numeric.Resize(ws.g, n*D)
			G = general(n, D, ws.g)
		}
		gemm(blas.NoTrans, blas.NoTrans, -1, S, W, 0, G)
		for i := 0; i < n; i++ {
			for kk := range b {
				G.Data[i*G.Stride+kk] -= b[kk]
			}
		}
	}
	if o.Has(framework.OutParamVJP) {
		pw, pb, pc := e.blocks(res.ParamVJP)
		sw := S
		if req.Weights != nil {
			ws.p = numeric.Resize(ws.p, k)
			for i, wi := range req.Weights[:n] {
				src, dst := ws.s[i*H:(i+1)*H], ws.p[i*H:(i+1)*H]
				for j, v := range src {
					dst[j] = wi * v
				}
			}
			sw = general(n, H, ws.p)
		}
		gemm(blas.Trans, blas.NoTrans, -1, sw, X, 1, general(H, D, pw))
		colSumSub(pc, sw.Data, n)
		pb = pb[:D]
		for i := 0; i < n; i++ {
			wi := weightOf(req.Weights, i)
			for kk, v := range X.Data[i*X.Stride : i*X.Stride+D] {
				pb[kk] -= float64(wi * v)
			}
		}
	}
	if o.Has(framework.OutMixed) {
		// u = U + MixedSelf·∇ₓE
		ws.m = numeric.Resize(ws.m, n*D)
		for i := 0; i < n; i++ {
			u := ws.m[i*D : (i+1)*D]
			if req.U != nil {
				copy(u, req.U.RawRowView(i))
			} else {
				clear(u)
			}
			if cs := req.MixedSelf; cs != 0 {
				for kk, v := range G.Data[i*G.Stride : i*G.Stride+D] {
					u[kk] += float64(cs * v)
				}
			}
		}
		U := general(n, D, ws.m[:n*D])
		ws.p = numeric.Resize(ws.p, k)
		P := general(n, H, ws.p)
		gemm(blas.NoTrans, blas.Trans, 1, U, W, 0, P) // Wu
		for i := range ws.p[:k] {
			ws.p[i] *= ws.s1[i] // s′∘Wu
		}
		mw, mb, mc := e.blocks(res.Mixed)
		gemm(blas.Trans, blas.NoTrans, -1, P, X, 1, general(H, D, mw))
		gemm(blas.Trans, blas.NoTrans, -1, S, U, 1, general(H, D, mw))
		colSumSub(mc, ws.p[:k], n)
		colSumSub(mb, ws.m[:n*D], n)
	}
	if o&(framework.OutLaplacian|framework.OutLaplacianVJP) != 0 {
		ws.r = numeric.Resize(ws.r, H)
		for j := 0; j < H; j++ {
			sq := 0.0
			for _, v := range wt[j*D : (j+1)*D] {
				sq += float64(v * v)
			}
			ws.r[j] = sq
		}
	}
	if o.Has(framework.OutLaplacian) {
		for i := 0; i < n; i++ {
			l := 0.0
			for j, v := range ws.s1[i*H : (i+1)*H] {
				l -= float64(v * ws.r[j])
			}
			res.Laplacian[i] = l
		}
	}
	if o.Has(framework.OutLaplacianVJP) {
		lw, _, lc := e.blocks(res.LaplacianVJP)
		ws.p = numeric.Resize(ws.p, k)
		ws.col = numeric.Resize(ws.col, H)
		clear(ws.col)
		for i := 0; i < n; i++ {
			v := weightOf(req.LapWeights, i)
			for j := 0; j < H; j++ {
				ws.p[i*H+j] = v * ws.s2[i*H+j] * ws.r[j] // vᵢ s″ᵢⱼ rⱼ
				ws.col[j] += float64(v * ws.s1[i*H+j])   // Σᵢ vᵢ s′ᵢⱼ
			}
		}
		gemm(blas.Trans, blas.NoTrans, -1, general(n, H, ws.p), X, 1, general(H, D, lw))
		for j := 0; j < H; j++ {
			for kk, w := range wt[j*D : (j+1)*D] {
				lw[j*D+kk] -= float64(2 * ws.col[j] * w)
			}
		}
		colSumSub(lc, ws.p[:k], n)
	}
	if o.Has(framework.OutHVP) {
		ws.p = numeric.Resize(ws.p, k)
		P := general(n, H, ws.p)
		gemm(blas.NoTrans, blas.Trans, 1, rawOf(req.V), W, 0, P)
		for i := range ws.p[:k] {
			ws.p[i] *= ws.s1[i]
		}
		gemm(blas.NoTrans, blas.NoTrans, -1, P, W, 0, rawOf(res.HVP))
	}
	return nil
}

// bernoulli sets dst[j] to 1 with probability p[j] and to 0 otherwise. The uniforms have 32
// bits, two from each Uint64 of rng (high half first), and dst[j] = 1 exactly when u < p[j],
// found from the sign bit of u − p[j]: no branch to mispredict on random outcomes. (32 bits
// put P(dst[j] = 1) within 2.4·10⁻¹⁰ of p[j].)
func bernoulli(dst, p []float64, rng *rand.Rand) {
	dst = dst[:len(p)]
	j := 0
	for ; j+1 < len(p); j += 2 {
		r := rng.Uint64()
		u0, u1 := float64(float64(r>>32)*0x1p-32), float64(float64(r&0xffffffff)*0x1p-32)
		dst[j] = float64(math.Float64bits(u0-p[j]) >> 63)
		dst[j+1] = float64(math.Float64bits(u1-p[j+1]) >> 63)
	}
	if j < len(p) {
		u := float64(float64(rng.Uint64()>>32) * 0x1p-32)
		dst[j] = float64(math.Float64bits(u-p[j]) >> 63)
	}
}

// colSumSub subtracts the column sums of the n×len(dst) matrix a from dst.
func colSumSub(dst, a []float64, n int) {
	c := len(dst)
	for i := 0; i < n; i++ {
		for j, v := range a[i*c : (i+1)*c] {
			dst[j] -= v
		}
	}
}

// BlockGibbs replaces each row v of x by one sweep of block Gibbs sampling at θ: it draws
// hⱼ ~ Bernoulli(σ(cⱼ + Wⱼ·v)) for every hidden unit, then vₖ ~ Bernoulli(σ(bₖ + (Wᵀh)ₖ))
// for every visible unit, with uniforms drawn from rngs[i] in that order (see bernoulli).
func (e *RBM) BlockGibbs(theta []float64, x *mat.Dense, rngs []*rand.Rand) error {
	D, H := e.d, e.h
	if len(theta) != e.numParams() {
		return fmt.Errorf("rbm: block Gibbs: θ has length %d, want %d", len(theta), e.numParams())
	}
	n, cols := x.Dims()
	if cols != D {
		return fmt.Errorf("rbm: block Gibbs: x has %d columns, want %d", cols, D)
	}
	if len(rngs) != n {
		return fmt.Errorf("rbm: block Gibbs: %d random streams for %d rows", len(rngs), n)
	}
	ws := e.pool.Get().(*rbmWork)
	defer e.pool.Put(ws)
	wt, b, c := e.blocks(theta)
	W := general(H, D, wt)
	ws.a = numeric.Resize(ws.a, n*H)
	for i := 0; i < n; i++ {
		copy(ws.a[i*H:(i+1)*H], c)
	}
	gemm(blas.NoTrans, blas.Trans, 1, rawOf(x), W, 1, general(n, H, ws.a))
	ws.s = numeric.Resize(ws.s, n*H)
	softplusEval(ws.a[:n*H], nil, ws.s[:n*H], nil, nil) // σ(a)
	for i := 0; i < n; i++ {
		bernoulli(ws.a[i*H:(i+1)*H], ws.s[i*H:(i+1)*H], rngs[i])
	}
	ws.g = numeric.Resize(ws.g, n*D)
	for i := 0; i < n; i++ {
		copy(ws.g[i*D:(i+1)*D], b)
	}
	gemm(blas.NoTrans, blas.NoTrans, 1, general(n, H, ws.a), W, 1, general(n, D, ws.g))
	ws.p = numeric.Resize(ws.p, n*D)
	softplusEval(ws.g[:n*D], nil, ws.p[:n*D], nil, nil)
	for i := 0; i < n; i++ {
		bernoulli(x.RawRowView(i), ws.p[i*D:(i+1)*D], rngs[i])
	}
	return nil
}
