package energy

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// Gaussian is the quadratic energy E(x) = ½xᵀWx − bᵀx of N(W⁻¹b, W⁻¹), W symmetric.
//
// Full variant: blocks "W" (d×d) and "b" (d). The stored block A is not W itself but
// parametrises it as W = (A + Aᵀ)/2, so W is symmetric whatever A is and ∇_A E = ½xxᵀ is
// symmetric too (the PyTorch peer uses the same parametrisation). Only the symmetric part of
// A matters; a symmetric A stays symmetric under gradient steps.
//
// Diagonal variant: blocks "w" (d) and "b" (d), W = diag(w).
//
// InitParams gives W = I (A = I) and b = 0. The energy is linear in θ (CapLinear):
// E = θᵀT(x) with T_A = ½xxᵀ (or T_w = ½x∘x) and T_b = −x, so score matching has a closed
// form. The density is normalisable only when W is positive definite; the energy itself is
// defined for any θ.
type Gaussian struct {
	d        int
	diagonal bool
	pool     sync.Pool
}

type gaussianWork struct {
	w  []float64 // W, d×d
	y  []float64 // X·W, n×d
	xw []float64 // diag(weights)·X, or the mixed directions uᵢ, n×d
	m  []float64 // ½UᵀX, d×d
}

// NewGaussian returns the Gaussian energy on ℝ^d, full or diagonal.
func NewGaussian(d int, diagonal bool) (*Gaussian, error) {
	if d < 1 {
		return nil, fmt.Errorf("gaussian: dimension %d < 1", d)
	}
	g := &Gaussian{d: d, diagonal: diagonal}
	g.pool.New = func() any { return new(gaussianWork) }
	return g, nil
}

// Spec describes the energy.
func (g *Gaussian) Spec() framework.Spec {
	blocks := []framework.Block{{Name: "W", Shape: []int{g.d, g.d}}, {Name: "b", Shape: []int{g.d}}}
	if g.diagonal {
		blocks[0] = framework.Block{Name: "w", Shape: []int{g.d}}
	}
	return framework.Spec{
		Name: "gaussian", Dim: g.d, Domain: framework.Continuous, Blocks: blocks,
		Caps: framework.CapMixed | framework.CapMixedSelf | framework.CapLaplacian | framework.CapHVP | framework.CapLinear | framework.CapParamJac,
	}
}

func (g *Gaussian) numParams() int {
	if g.diagonal {
		return 2 * g.d
	}
	return g.d*g.d + g.d
}

// InitParams writes W = I, b = 0 into dst; rng is not used.
func (g *Gaussian) InitParams(dst []float64, _ *rand.Rand) error {
	clear(dst)
	d := g.d
	for k := 0; k < d; k++ {
		if g.diagonal {
			dst[k] = 1
		} else {
			dst[k*d+k] = 1
		}
	}
	return nil
}

// Evaluate computes the requested outputs. With g = Wx − b:
//
//	E = ½xᵀWx − bᵀx, ∇ₓE = Wx − b, ∇_A E = ½xxᵀ, ∇_b E = −x,
//	∇θ uᵀ∇ₓE: A-part ½(uxᵀ + xuᵀ), b-part −u,
//	ΔₓE = tr W = Σₖ Aₖₖ, ∇_A ΔₓE = I, ∇²ₓE v = Wv.
func (g *Gaussian) Evaluate(req *framework.Request, res *framework.Result) error {
	n, err := checkRequest("gaussian", req, res, g.d, g.numParams())
	if err != nil || n == 0 {
		return err
	}
	if req.Outputs.Has(framework.OutParamJac) {
		g.paramJac(req.X, res.ParamJac)
	}
	if g.diagonal {
		g.evalDiag(req, res, n)
		return nil
	}
	ws := g.pool.Get().(*gaussianWork)
	defer g.pool.Put(ws)
	d := g.d
	o := req.Outputs
	a, b := req.Theta[:d*d], req.Theta[d*d:]
	ws.w = numeric.Resize(ws.w, d*d)
	for k := 0; k < d; k++ {
		for l := 0; l < d; l++ {
			ws.w[k*d+l] = 0.5 * (a[k*d+l] + a[l*d+k])
		}
	}
	W := general(d, d, ws.w)
	X := rawOf(req.X)
	needY := o&(framework.OutEnergy|framework.OutGradX|framework.OutMixed) != 0
	if needY {
		ws.y = numeric.Resize(ws.y, n*d)
		Y := general(n, d, ws.y)
		gemm(blas.NoTrans, blas.NoTrans, 1, X, W, 0, Y)
		var gx blas64.General
		if o.Has(framework.OutGradX) {
			gx = rawOf(res.GradX)
		}
		b := b[:d]
		for i := 0; i < n; i++ {
			x, y := X.Data[i*X.Stride:i*X.Stride+d], ws.y[i*d:(i+1)*d]
			if o.Has(framework.OutEnergy) {
				e := 0.0
				for k, xk := range x {
					e += float64(xk * (float64(0.5*y[k]) - b[k]))
				}
				res.Energy[i] = e
			}
			for k := range y {
				y[k] -= b[k] // y is now ∇ₓE
			}
			if gx.Data != nil {
				copy(gx.Data[i*gx.Stride:i*gx.Stride+d], y)
			}
		}
	}
	if o.Has(framework.OutParamVJP) {
		pa, pb := res.ParamVJP[:d*d], res.ParamVJP[d*d:]
		xw := X
		if req.Weights != nil {
			ws.xw = numeric.Resize(ws.xw, n*d)
			for i := 0; i < n; i++ {
				x, dst := req.X.RawRowView(i), ws.xw[i*d:(i+1)*d]
				for k, v := range x {
					dst[k] = req.Weights[i] * v
				}
			}
			xw = general(n, d, ws.xw)
		}
		gemm(blas.Trans, blas.NoTrans, 0.5, xw, X, 1, general(d, d, pa))
		for i := 0; i < n; i++ {
			x := xw.Data[i*xw.Stride : i*xw.Stride+d]
			for k, v := range x {
				pb[k] -= v
			}
		}
	}
	if o.Has(framework.OutMixed) {
		ws.xw = numeric.Resize(ws.xw, n*d)
		mixedDirections(ws.xw, req, ws.y, d)
		U := general(n, d, ws.xw)
		ma, mb := res.Mixed[:d*d], res.Mixed[d*d:]
		// ½(UᵀX + XᵀU) from one product M = ½UᵀX: (½XᵀU)ₖₗ = Mₗₖ, the same sum in the same order.
		ws.m = numeric.Resize(ws.m, d*d)
		gemm(blas.Trans, blas.NoTrans, 0.5, U, X, 0, general(d, d, ws.m))
		for k := 0; k < d; k++ {
			for l := 0; l < d; l++ {
				ma[k*d+l] += ws.m[k*d+l]
			}
		}
		for k := 0; k < d; k++ {
			for l := 0; l < d; l++ {
				ma[k*d+l] += ws.m[l*d+k]
			}
		}
		for i := 0; i < n; i++ {
			for k, v := range ws.xw[i*d : (i+1)*d] {
				mb[k] -= v
			}
		}
	}
	if o.Has(framework.OutLaplacian) {
		tr := 0.0
		for k := 0; k < d; k++ {
			tr += a[k*d+k]
		}
		for i := range res.Laplacian {
			res.Laplacian[i] = tr
		}
	}
	if o.Has(framework.OutLaplacianVJP) {
		sv := 0.0
		for i := 0; i < n; i++ {
			sv += weightOf(req.LapWeights, i)
		}
		for k := 0; k < d; k++ {
			res.LaplacianVJP[k*d+k] += sv
		}
	}
	if o.Has(framework.OutHVP) {
		gemm(blas.NoTrans, blas.NoTrans, 1, rawOf(req.V), W, 0, rawOf(res.HVP))
	}
	return nil
}

// mixedDirections writes uᵢ = Uᵢ + MixedSelf·gᵢ into dst (n×d, contiguous), g holding ∇ₓE
// row by row (n×d, contiguous; ignored when MixedSelf is zero).
func mixedDirections(dst []float64, req *framework.Request, g []float64, d int) {
	n := req.Rows()
	c := req.MixedSelf
	var U blas64.General
	if req.U != nil {
		U = rawOf(req.U)
	}
	for i := 0; i < n; i++ {
		u := dst[i*d : (i+1)*d]
		if U.Data != nil {
			copy(u, U.Data[i*U.Stride:i*U.Stride+d])
		} else {
			clear(u)
		}
		if c != 0 {
			for k, v := range g[i*d : (i+1)*d] {
				u[k] += float64(c * v)
			}
		}
	}
}

// evalDiag is Evaluate for W = diag(w).
func (g *Gaussian) evalDiag(req *framework.Request, res *framework.Result, n int) {
	d := g.d
	o := req.Outputs
	w, b := req.Theta[:d], req.Theta[d:]
	if o.Has(framework.OutLaplacianVJP) {
		sv := 0.0
		for i := 0; i < n; i++ {
			sv += weightOf(req.LapWeights, i)
		}
		for k := 0; k < d; k++ {
			res.LaplacianVJP[k] += sv
		}
	}
	tr := 0.0
	for _, v := range w {
		tr += v
	}
	for i := 0; i < n; i++ {
		x := req.X.RawRowView(i)
		if o.Has(framework.OutEnergy) {
			e := 0.0
			for k, xk := range x {
				e += float64(xk * (float64(0.5*w[k]*xk) - b[k]))
			}
			res.Energy[i] = e
		}
		if o.Has(framework.OutGradX) {
			gx := res.GradX.RawRowView(i)
			for k, xk := range x {
				gx[k] = float64(w[k]*xk) - b[k]
			}
		}
		if o.Has(framework.OutParamVJP) {
			wi := weightOf(req.Weights, i)
			for k, xk := range x {
				res.ParamVJP[k] += float64(0.5 * wi * xk * xk)
				res.ParamVJP[d+k] -= float64(wi * xk)
			}
		}
		if o.Has(framework.OutMixed) {
			for k, xk := range x {
				u := float64(req.MixedSelf * (float64(w[k]*xk) - b[k]))
				if req.U != nil {
					u += req.U.At(i, k)
				}
				res.Mixed[k] += float64(u * xk)
				res.Mixed[d+k] -= u
			}
		}
		if o.Has(framework.OutLaplacian) {
			res.Laplacian[i] = tr
		}
		if o.Has(framework.OutHVP) {
			v, h := req.V.RawRowView(i), res.HVP.RawRowView(i)
			for k := range h {
				h[k] = w[k] * v[k]
			}
		}
	}
}

// Statistics writes ∇ₓT(x) (p×d) into jac and ΔₓT(x) into lap, where E = θᵀT(x):
// T_{A,kl} = ½xₖxₗ (∇ₓ: ½xₗ at column k plus ½xₖ at column l; Δₓ = δₖₗ) and T_b = −x
// (∇ₓ = −I, Δₓ = 0); diagonal: T_{w,k} = ½xₖ² (∇ₓ = xₖ at column k, Δₓ = 1).
func (g *Gaussian) Statistics(x []float64, jac *mat.Dense, lap []float64) {
	d := g.d
	jac.Zero()
	clear(lap)
	off := d * d
	if g.diagonal {
		off = d
		for k := 0; k < d; k++ {
			jac.Set(k, k, x[k])
			lap[k] = 1
		}
	} else {
		for k := 0; k < d; k++ {
			for l := 0; l < d; l++ {
				r := k*d + l
				jac.Set(r, k, jac.At(r, k)+float64(0.5*x[l]))
				jac.Set(r, l, jac.At(r, l)+float64(0.5*x[k]))
			}
			lap[k*d+k] = 1
		}
	}
	for k := 0; k < d; k++ {
		jac.Set(off+k, k, -1)
	}
}

// OffsetGrad writes ∇ₓc = 0 into dst and returns Δₓc = 0: the energy has no θ-free part.
func (g *Gaussian) OffsetGrad(x, dst []float64) float64 {
	clear(dst)
	return 0
}
