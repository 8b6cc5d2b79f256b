package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/numeric"
)

// The MLP's second-order outputs as they were computed before the forward-mode (Taylor)
// propagation of mlp_second.go: the Laplacian by its own pass over the Jacobians after the
// forward pass, its θ-gradient by a reverse sweep with every adjoint propagated by a product,
// the mixed product by a forward tangent of its own. Slower (17 products of a hidden layer's
// size per exact score-matching request on ring8, against 15), and an independent
// implementation: TestMLPTaylorMatchesReference compares the two.

// refLayer holds the reference's own buffers beside a layer of the production workspace.
type refLayer struct {
	*mlpLayer
	j, jh, q, s, lh         []float64
	jbar, jhbar, zbar, hbar []float64
	lhbar, sbar             []float64
}

// evaluateRef computes the requested outputs of m by the reference: the production forward
// pass (without the Taylor terms), backward pass and ∇ₓE, then mixedRef, hvp (by its own
// tangent products), laplacianRef and laplacianVJPRef. Energy, ∇ₓE and the first-order outputs are the production's.
func (m *MLP) evaluateRef(req *framework.Request, res *framework.Result) error {
	n, err := checkRequest("mlp", req, res, m.d, m.p)
	if err != nil || n == 0 {
		return err
	}
	ws := new(mlpWork)
	ws.setup(m, req.Theta)
	o := req.Outputs
	nd := needsOf(o)
	nd.lap = false
	m.forward(ws, req, n, nd)
	L := len(m.sizes) - 1
	if o.Has(framework.OutEnergy) {
		copy(res.Energy, ws.layers[L].z[:n])
	}
	if nd.back {
		m.backward(ws, n, nd.d2)
	}
	var gx blas64.General
	if o.Has(framework.OutGradX) || (o.Has(framework.OutMixed) && req.MixedSelf != 0) {
		if o.Has(framework.OutGradX) {
			gx = rawOf(res.GradX)
		} else {
			ws.gx = numeric.Resize(ws.gx, n*m.d)
			gx = general(n, m.d, ws.gx)
		}
		ly := &ws.layers[1]
		gemm(blas.NoTrans, blas.NoTrans, 1, general(n, ly.out, ly.g), ly.W, 0, gx)
	}
	if o.Has(framework.OutParamVJP) {
		m.paramVJP(ws, req, n, res.ParamVJP)
	}
	if o.Has(framework.OutMixed) {
		m.mixedRef(ws, req, n, gx, res.Mixed)
	}
	if o.Has(framework.OutHVP) {
		m.hvp(ws, req, n, rawOf(res.HVP)) // by the tangent's own products: ws.taylor is false
	}
	if o&(framework.OutLaplacian|framework.OutLaplacianVJP) != 0 {
		rl := make([]refLayer, L+1)
		for l := range rl {
			rl[l].mlpLayer = &ws.layers[l]
		}
		m.laplacianRef(ws, rl, n)
		if o.Has(framework.OutLaplacian) {
			copy(res.Laplacian, rl[L].s[:n])
		}
		if o.Has(framework.OutLaplacianVJP) {
			m.laplacianVJPRef(ws, rl, req, n, res.LaplacianVJP)
		}
	}
	return nil
}

// mixedRef is the mixed product by the tangent's own forward products (the reference): it adds ∇θ Σᵢ uᵢᵀ∇ₓE(xᵢ), uᵢ = Uᵢ + MixedSelf·∇ₓE(xᵢ) (gx holds ∇ₓE when MixedSelf ≠ 0).
// With ḣ, z̄ from tangent along u (uᵀ∇ₓE = ż_L = W_L ḣ_{L−1}):
//
//	∇W_L = Σᵢ ḣ_{L−1,i}ᵀ,  ∇W_l = Σᵢ g_{l,i} ḣ_{l−1,i}ᵀ + z̄_{l,i} h_{l−1,i}ᵀ,  ∇b_l = Σᵢ z̄_{l,i},
//
// with ḣ₀ = u, h₀ = x and ∇b_L = 0.
func (m *MLP) mixedRef(ws *mlpWork, req *framework.Request, n int, gx blas64.General, dst []float64) {
	d := m.d
	ws.u = numeric.Resize(ws.u, n*d)
	for i := 0; i < n; i++ {
		u := ws.u[i*d : (i+1)*d]
		if req.U != nil {
			copy(u, req.U.RawRowView(i))
		} else {
			clear(u)
		}
		if c := req.MixedSelf; c != 0 {
			for k, v := range gx.Data[i*gx.Stride : i*gx.Stride+d] {
				u[k] += float64(c * v)
			}
		}
	}
	U := general(n, d, ws.u)
	m.tangent(ws, U, n)
	L := len(m.sizes) - 1
	top := &ws.layers[L]
	colSum(dst[m.offW[L]:m.offW[L]+top.in], ws.layers[L-1].ht, n)
	for l := L - 1; l >= 1; l-- {
		ly := &ws.layers[l]
		dW := general(ly.out, ly.in, dst[m.offW[l]:])
		tin := U
		if l > 1 {
			tin = general(n, ly.in, ws.layers[l-1].ht)
		}
		gemm(blas.Trans, blas.NoTrans, 1, general(n, ly.out, ly.g), tin, 1, dW)
		gemm(blas.Trans, blas.NoTrans, 1, general(n, ly.out, ly.zbar), ws.input(req, l, n), 1, dW)
		colSum(dst[m.offB[l]:m.offB[l]+ly.out], ly.zbar, n)
	}
}

// laplacianRef is the Laplacian of the MLP before forward-mode propagation shared its
// forward pass (kept as the tests' reference): it propagates, per row, the Jacobian J_l = ∂z_l/∂x (out×d, stored stacked as d rows
// of width out) and the Laplacian S_l = Δₓz_l:
//
//	J₁ = W₁, S₁ = 0,  Jh_l = σ′ ∘ J_l,  q_l = Σₖ (J_l)²_{·k},  Δh_l = σ″ ∘ q_l + σ′ ∘ S_l,
//	J_{l+1} = W_{l+1} Jh_l,  S_{l+1} = W_{l+1} Δh_l,
//
// so that ΔₓE = S_L, left in layers[L].s.
func (m *MLP) laplacianRef(ws *mlpWork, rl []refLayer, n int) {
	L := len(m.sizes) - 1
	d := m.d
	for l := 1; l < L; l++ {
		ly := &rl[l]
		s := ly.out
		k := n * s
		ly.jh = numeric.Resize(ly.jh, n*d*s)
		ly.lh = numeric.Resize(ly.lh, k)
		if l == 1 {
			// J₁ = W₁ for every row: q₁ is the squared row norms of W₁, one vector.
			ly.q = numeric.Resize(ly.q, s)
			for a := 0; a < s; a++ {
				row := ly.W.Data[a*ly.W.Stride : a*ly.W.Stride+d]
				sq := 0.0
				for _, w := range row {
					sq += float64(w * w)
				}
				ly.q[a] = sq
			}
			for i := 0; i < n; i++ {
				d1, d2 := ly.d1[i*s:(i+1)*s], ly.d2[i*s:(i+1)*s]
				lh := ly.lh[i*s : (i+1)*s]
				for a := range lh {
					lh[a] = d2[a] * ly.q[a]
				}
				for kk := 0; kk < d; kk++ {
					jh := ly.jh[(i*d+kk)*s : (i*d+kk+1)*s]
					for a := range jh {
						jh[a] = d1[a] * ly.W.Data[a*ly.W.Stride+kk]
					}
				}
			}
			continue
		}
		prev := &rl[l-1]
		ly.j = numeric.Resize(ly.j, n*d*s)
		ly.s = numeric.Resize(ly.s, k)
		ly.q = numeric.Resize(ly.q, k)
		gemm(blas.NoTrans, blas.Trans, 1, general(n*d, prev.out, prev.jh), ly.W, 0, general(n*d, s, ly.j))
		gemm(blas.NoTrans, blas.Trans, 1, general(n, prev.out, prev.lh), ly.W, 0, general(n, s, ly.s))
		for i := 0; i < n; i++ {
			d1, d2 := ly.d1[i*s:(i+1)*s], ly.d2[i*s:(i+1)*s]
			q := ly.q[i*s : (i+1)*s]
			clear(q)
			for kk := 0; kk < d; kk++ {
				r := (i*d + kk) * s
				j, jh := ly.j[r:r+s], ly.jh[r:r+s]
				for a, v := range j {
					q[a] += float64(v * v)
					jh[a] = d1[a] * v
				}
			}
			lh, sl := ly.lh[i*s:(i+1)*s], ly.s[i*s:(i+1)*s]
			for a := range lh {
				lh[a] = float64(d2[a]*q[a]) + float64(d1[a]*sl[a])
			}
		}
	}
	top := &rl[L]
	prev := &rl[L-1]
	top.s = numeric.Resize(top.s, n)
	gemm(blas.NoTrans, blas.Trans, 1, general(n, prev.out, prev.lh), top.W, 0, general(n, 1, top.s))
}

// laplacianVJPRef is the reference reverse sweep (see laplacianRef): it adds Σᵢ vᵢ∇θΔₓE(xᵢ) by the reverse sweep of laplacian. With adjoints
// Δh̄_l, Jh̄_l, h̄_l flowing down (Δh̄_{L−1} = v W_L, the others zero at L−1):
//
//	S̄_l = σ′ ∘ Δh̄_l,
//	J̄_l = 2(σ″ ∘ Δh̄_l) ∘ J_l + σ′ ∘ Jh̄_l,
//	z̄_l = Δh̄_l ∘ (σ‴ ∘ q_l + σ″ ∘ S_l) + σ″ ∘ Σₖ (Jh̄_l ∘ J_l)_{·k} + σ′ ∘ h̄_l,
//	∇W_l += z̄_l h_{l−1}ᵀ + J̄_l Jh_{l−1}ᵀ + S̄_l Δh_{l−1}ᵀ,  ∇b_l += z̄_l,
//	h̄_{l−1} = W_lᵀz̄_l,  Jh̄_{l−1} = W_lᵀJ̄_l,  Δh̄_{l−1} = W_lᵀS̄_l,
//
// and at l = 1 (J₁ = W₁): ∇W₁ += z̄₁xᵀ + J̄₁. At the top, ∇W_L += v Δh_{L−1}ᵀ.
func (m *MLP) laplacianVJPRef(ws *mlpWork, rl []refLayer, req *framework.Request, n int, dst []float64) {
	L := len(m.sizes) - 1
	d := m.d
	v := req.LapWeights
	if v == nil {
		ws.ones = numeric.Resize(ws.ones, n)
		for i := range ws.ones {
			ws.ones[i] = 1
		}
		v = ws.ones
	}
	top := &rl[L]
	below := &rl[L-1]
	gemm(blas.Trans, blas.NoTrans, 1, general(n, 1, v), general(n, below.out, below.lh), 1, general(1, top.in, dst[m.offW[L]:]))
	below.lhbar = numeric.Resize(below.lhbar, n*below.out)
	for i := 0; i < n; i++ {
		row := below.lhbar[i*below.out : (i+1)*below.out]
		for a, w := range top.W.Data[:below.out] {
			row[a] = v[i] * w
		}
	}
	for l := L - 1; l >= 1; l-- {
		ly := &rl[l]
		s := ly.out
		first := l == L-1 // no Jh̄ or h̄ flows into the top hidden layer
		ly.jbar = numeric.Resize(ly.jbar, n*d*s)
		ly.zbar = numeric.Resize(ly.zbar, n*s)
		if l > 1 {
			ly.sbar = numeric.Resize(ly.sbar, n*s)
		}
		W := ly.W
		for i := 0; i < n; i++ {
			lhb := ly.lhbar[i*s : (i+1)*s]
			d1, d2, d3 := ly.d1[i*s:(i+1)*s], ly.d2[i*s:(i+1)*s], ly.d3[i*s:(i+1)*s]
			zb := ly.zbar[i*s : (i+1)*s]
			var q, sl, hb []float64 // rows of q_l, S_l and h̄_l
			if l == 1 {
				q = ly.q[:s]
			} else {
				q, sl = ly.q[i*s:(i+1)*s], ly.s[i*s:(i+1)*s]
			}
			if !first {
				hb = ly.hbar[i*s : (i+1)*s]
			}
			for a := range zb {
				if l == 1 {
					zb[a] = float64(lhb[a] * d3[a] * q[a])
				} else {
					zb[a] = float64(lhb[a] * (float64(d3[a]*q[a]) + float64(d2[a]*sl[a])))
				}
				if !first {
					zb[a] += float64(d1[a] * hb[a])
				}
			}
			if l > 1 {
				sb := ly.sbar[i*s : (i+1)*s]
				for a := range sb {
					sb[a] = d1[a] * lhb[a]
				}
			}
			for kk := 0; kk < d; kk++ {
				r := (i*d + kk) * s
				jb := ly.jbar[r : r+s]
				var jr, jhb []float64 // rows of J_l and Jh̄_l
				if l > 1 {
					jr = ly.j[r : r+s]
				}
				if !first {
					jhb = ly.jhbar[r : r+s]
				}
				for a := range jb {
					var j float64
					if l == 1 {
						j = W.Data[a*W.Stride+kk]
					} else {
						j = jr[a]
					}
					jb[a] = float64(2 * lhb[a] * d2[a] * j)
					if !first {
						jb[a] += float64(d1[a] * jhb[a])
						zb[a] += float64(d2[a] * jhb[a] * j)
					}
				}
			}
		}
		colSum(dst[m.offB[l]:m.offB[l]+s], ly.zbar, n)
		dW := general(s, ly.in, dst[m.offW[l]:])
		Zb := general(n, s, ly.zbar)
		gemm(blas.Trans, blas.NoTrans, 1, Zb, ws.input(req, l, n), 1, dW)
		if l == 1 {
			// ∇W₁[a,k] += Σᵢ J̄₁[(i,k), a]
			for i := 0; i < n; i++ {
				for kk := 0; kk < d; kk++ {
					r := (i*d + kk) * s
					for a, v := range ly.jbar[r : r+s] {
						dW.Data[a*dW.Stride+kk] += v
					}
				}
			}
			continue
		}
		prev := &rl[l-1]
		Jb := general(n*d, s, ly.jbar)
		Sb := general(n, s, ly.sbar)
		gemm(blas.Trans, blas.NoTrans, 1, Jb, general(n*d, prev.out, prev.jh), 1, dW)
		gemm(blas.Trans, blas.NoTrans, 1, Sb, general(n, prev.out, prev.lh), 1, dW)
		prev.hbar = numeric.Resize(prev.hbar, n*prev.out)
		prev.jhbar = numeric.Resize(prev.jhbar, n*d*prev.out)
		prev.lhbar = numeric.Resize(prev.lhbar, n*prev.out)
		gemm(blas.NoTrans, blas.NoTrans, 1, Zb, ly.W, 0, general(n, prev.out, prev.hbar))
		gemm(blas.NoTrans, blas.NoTrans, 1, Jb, ly.W, 0, general(n*d, prev.out, prev.jhbar))
		gemm(blas.NoTrans, blas.NoTrans, 1, Sb, ly.W, 0, general(n, prev.out, prev.lhbar))
	}
}

// The forward-mode (Taylor) path of the MLP's second-order outputs agrees with the reference
// (the implementation it replaced: separate Jacobian pass, reverse sweep by products, mixed
// product by its own tangent): the Laplacian, its θ-gradient, the mixed product (with U and
// MixedSelf) and the Hessian-vector product within 1e-12 of the largest entry of each output,
// and E, ∇ₓE and Σᵢwᵢ∇θE bit for bit (the Taylor forward computes z_l as the plain one does).
// On the ring8 network, a deeper and a one-layer network, every activation, for the exact
// score-matching request and for requests with fewer outputs.
func TestMLPTaylorMatchesReference(t *testing.T) {
	lap := framework.OutLaplacian | framework.OutLaplacianVJP
	for _, tc := range []struct {
		d      int
		hidden []int
		act    string
		n      int
	}{
		{2, []int{64, 64}, "softplus", 67},
		{3, []int{9, 13, 8}, "softplus", 20},
		{2, []int{12, 7}, "tanh", 9},
		{4, []int{10, 6}, "swish", 11},
		{3, []int{16}, "softplus", 5},
		{1, []int{5, 5}, "tanh", 4},
	} {
		for _, o := range []framework.Output{
			framework.OutGradX | framework.OutMixed | lap,
			framework.OutLaplacian,
			framework.OutLaplacianVJP,
			framework.OutEnergy | framework.OutParamVJP | lap | framework.OutHVP,
			framework.FirstOrder | framework.OutMixed | lap | framework.OutHVP,
		} {
			t.Run(fmt.Sprintf("%d-%v-%s/%s", tc.d, tc.hidden, tc.act, o), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(o)))
				m, err := NewMLP(tc.d, tc.hidden, tc.act)
				require.NoError(t, err)
				theta := randomTheta(m, rng, 0.3)
				x := normalPoints(rng, tc.n, tc.d, 1.5)
				u, v := normalPoints(rng, tc.n, tc.d, 1), normalPoints(rng, tc.n, tc.d, 1)
				w, lw := make([]float64, tc.n), make([]float64, tc.n)
				for i := range w {
					w[i], lw[i] = rng.NormFloat64(), rng.NormFloat64()
				}
				req := framework.Request{Outputs: o, X: x, Theta: theta, Weights: w, U: u, MixedSelf: 0.7, LapWeights: lw, V: v}
				if o == framework.OutLaplacianVJP {
					req.LapWeights = nil // all ones
				}
				var got, want framework.Result
				p := m.Spec().NumParams()
				got.Reset(o, tc.n, tc.d, p)
				want.Reset(o, tc.n, tc.d, p)
				require.NoError(t, m.Evaluate(&req, &got))
				require.NoError(t, m.evaluateRef(&req, &want))
				near := func(name string, g, w []float64) {
					scale := 0.0
					for _, x := range w {
						scale = math.Max(scale, math.Abs(x))
					}
					for i := range w {
						require.InDelta(t, w[i], g[i], 1e-12*scale, "%s[%d]", name, i)
					}
				}
				if o.Has(framework.OutEnergy) {
					require.Equal(t, want.Energy, got.Energy)
				}
				if o.Has(framework.OutGradX) {
					require.Equal(t, want.GradX.RawMatrix().Data, got.GradX.RawMatrix().Data)
				}
				if o.Has(framework.OutParamVJP) {
					require.Equal(t, want.ParamVJP, got.ParamVJP)
				}
				if o.Has(framework.OutMixed) {
					near("mixed", got.Mixed, want.Mixed)
				}
				if o.Has(framework.OutLaplacian) {
					near("laplacian", got.Laplacian, want.Laplacian)
				}
				if o.Has(framework.OutLaplacianVJP) {
					near("laplacian_vjp", got.LaplacianVJP, want.LaplacianVJP)
				}
				if o.Has(framework.OutHVP) {
					near("hvp", got.HVP.RawMatrix().Data, want.HVP.RawMatrix().Data)
				}
			})
		}
	}
}
