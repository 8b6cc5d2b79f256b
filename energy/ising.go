package energy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// Ising is the fully visible Boltzmann machine
//
//	E(s) = −hᵀs − ½sᵀJs = −Σᵢ hᵢsᵢ − Σ_{i<j} Jᵢⱼsᵢsⱼ,
//
// on spins s ∈ {−1,+1}^d (the default) or on bits s ∈ {0,1}^d. Blocks "h" (d) and "J" (d×d,
// stored in full). The coupling used is the symmetric part of the stored block with its
// diagonal removed, J = offdiag((A + Aᵀ)/2), so E depends on A only through J, and the
// θ-gradient of A is symmetric with a zero diagonal: ∂E/∂Aᵢⱼ = −½sᵢsⱼ for i ≠ j, 0 on the
// diagonal. A symmetric, zero-diagonal start (InitParams, or a parameter file) stays so
// under gradient steps.
//
// The x-derivatives are those of the same polynomial on ℝ^d: ∇ₓE = −h − Js, ∇²ₓE = −J,
// ΔₓE = −tr J = 0. The energy is linear in θ (CapLinear): T_h = −s, T_{A,ij} = −½sᵢsⱼ (i ≠ j).
// InitParams writes h = 0, J = 0 (the uniform distribution).
type Ising struct {
	d     int
	spins bool
	init  []float64
	pool  sync.Pool
}

type isingWork struct {
	j  []float64 // effective coupling J, d×d
	y  []float64 // S·J, or scratch, n×d
	ws []float64 // weighted rows, n×d
	gj []float64 // θ-gradient of the J block before its diagonal is dropped, d×d
}

// NewIsing returns the Ising energy on {−1,+1}^d (spins) or {0,1}^d.
func NewIsing(d int, spins bool) (*Ising, error) {
	if d < 1 {
		return nil, fmt.Errorf("ising: dimension %d < 1", d)
	}
	e := &Ising{d: d, spins: spins}
	e.pool.New = func() any { return new(isingWork) }
	return e, nil
}

// Spec describes the energy.
func (e *Ising) Spec() framework.Spec {
	dom := framework.Spin
	if !e.spins {
		dom = framework.Binary
	}
	return framework.Spec{
		Name: "ising", Dim: e.d, Domain: dom,
		Blocks: []framework.Block{{Name: "h", Shape: []int{e.d}}, {Name: "J", Shape: []int{e.d, e.d}}},
		Caps:   framework.CapMixed | framework.CapLaplacian | framework.CapHVP | framework.CapLinear | framework.CapParamJac,
	}
}

func (e *Ising) numParams() int { return e.d + e.d*e.d }

// InitParams writes h = 0, J = 0 into dst, or the parameters given to SetInit; rng is not used.
func (e *Ising) InitParams(dst []float64, _ *rand.Rand) error {
	if e.init != nil {
		copy(dst, e.init)
		return nil
	}
	clear(dst)
	return nil
}

// SetInit makes InitParams write θ instead of zeros.
func (e *Ising) SetInit(theta []float64) error {
	if len(theta) != e.numParams() {
		return fmt.Errorf("ising: initial θ has %d parameters, want %d", len(theta), e.numParams())
	}
	e.init = slices.Clone(theta)
	return nil
}

// coupling writes J = offdiag((A + Aᵀ)/2) into dst (d×d).
func (e *Ising) coupling(dst, a []float64) {
	d := e.d
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			if i == j {
				dst[i*d+j] = 0
			} else {
				dst[i*d+j] = 0.5 * (a[i*d+j] + a[j*d+i])
			}
		}
	}
}

// addOffDiag adds the off-diagonal entries of src (d×d) to dst.
func addOffDiag(dst, src []float64, d int) {
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			if i != j {
				dst[i*d+j] += src[i*d+j]
			}
		}
	}
}

// Evaluate computes the requested outputs:
//
//	E = −hᵀs − ½sᵀJs, ∇ₓE = −h − Js, ∇_h E = −s, ∇_A E = −½ssᵀ (off the diagonal),
//	∇θ uᵀ∇ₓE: h-part −u, A-part −½(usᵀ + suᵀ) off the diagonal,
//	ΔₓE = 0 and its θ-gradient 0, ∇²ₓE v = −Jv.
func (e *Ising) Evaluate(req *framework.Request, res *framework.Result) error {
	d := e.d
	n, err := checkRequest("ising", req, res, d, e.numParams())
	if err != nil || n == 0 {
		return err
	}
	if req.Outputs.Has(framework.OutParamJac) {
		e.paramJac(req.X, res.ParamJac)
	}
	ws := e.pool.Get().(*isingWork)
	defer e.pool.Put(ws)
	o := req.Outputs
	h, a := req.Theta[:d], req.Theta[d:]
	ws.j = numeric.Resize(ws.j, d*d)
	e.coupling(ws.j, a)
	J := general(d, d, ws.j)
	S := rawOf(req.X)
	if o&(framework.OutEnergy|framework.OutGradX|framework.OutMixed) != 0 {
		// y = SJ, then E = −s·(h + ½y) and ∇ₓE = −h − y.
		ws.y = numeric.Resize(ws.y, n*d)
		gemm(blas.NoTrans, blas.NoTrans, 1, S, J, 0, general(n, d, ws.y))
		for i := 0; i < n; i++ {
			s, y := req.X.RawRowView(i), ws.y[i*d:(i+1)*d]
			if o.Has(framework.OutEnergy) {
				en := 0.0
				for k, sk := range s {
					en -= float64(sk * (h[k] + float64(0.5*y[k])))
				}
				res.Energy[i] = en
			}
			for k := range y {
				y[k] = -h[k] - y[k]
			}
			if o.Has(framework.OutGradX) {
				copy(res.GradX.RawRowView(i), y)
			}
		}
	}
	ws.gj = numeric.Resize(ws.gj, d*d)
	GJ := general(d, d, ws.gj)
	if o.Has(framework.OutParamVJP) {
		sw := S
		if req.Weights != nil {
			ws.ws = numeric.Resize(ws.ws, n*d)
			for i := 0; i < n; i++ {
				for k, v := range req.X.RawRowView(i) {
					ws.ws[i*d+k] = req.Weights[i] * v
				}
			}
			sw = general(n, d, ws.ws)
		}
		gemm(blas.Trans, blas.NoTrans, -0.5, sw, S, 0, GJ)
		addOffDiag(res.ParamVJP[d:], ws.gj, d)
		for i := 0; i < n; i++ {
			for k, v := range sw.Data[i*sw.Stride : i*sw.Stride+d] {
				res.ParamVJP[k] -= v
			}
		}
	}
	if o.Has(framework.OutMixed) {
		ws.ws = numeric.Resize(ws.ws, n*d)
		mixedDirections(ws.ws, req, ws.y, d)
		U := general(n, d, ws.ws)
		gemm(blas.Trans, blas.NoTrans, -0.5, U, S, 0, GJ)
		gemm(blas.Trans, blas.NoTrans, -0.5, S, U, 1, GJ)
		addOffDiag(res.Mixed[d:], ws.gj, d)
		for i := 0; i < n; i++ {
			for k, v := range ws.ws[i*d : (i+1)*d] {
				res.Mixed[k] -= v
			}
		}
	}
	if o.Has(framework.OutLaplacian) {
		clear(res.Laplacian) // ΔₓE = −tr J = 0; its θ-gradient is zero too.
	}
	if o.Has(framework.OutHVP) {
		gemm(blas.NoTrans, blas.NoTrans, -1, rawOf(req.V), J, 0, rawOf(res.HVP))
	}
	return nil
}

// Statistics writes ∇ₓT(x) (p×d) into jac and ΔₓT(x) = 0 into lap, for E = θᵀT:
// T_h = −s (∇ₓ = −I) and T_{A,ij} = −½sᵢsⱼ for i ≠ j (∇ₓ: −½sⱼ at column i, −½sᵢ at column j),
// T_{A,ii} = 0.
func (e *Ising) Statistics(x []float64, jac *mat.Dense, lap []float64) {
	d := e.d
	jac.Zero()
	clear(lap)
	for k := 0; k < d; k++ {
		jac.Set(k, k, -1)
	}
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			if i == j {
				continue
			}
			r := d + i*d + j
			jac.Set(r, i, -0.5*x[j])
			jac.Set(r, j, -0.5*x[i])
		}
	}
}

// OffsetGrad writes 0 into dst and returns 0: the energy has no θ-free part.
func (e *Ising) OffsetGrad(x, dst []float64) float64 {
	clear(dst)
	return 0
}
