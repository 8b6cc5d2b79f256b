package energy

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/numeric"
)

// This file holds the MLP's second-order outputs. Notation as in mlp.go: z_l, h_l the
// pre-activations and activations, g_l = ∂E/∂z_l, gh_l = ∂E/∂h_l, σ′, σ″, σ‴ the activation's
// derivatives at z_l, all per row.

// tangent runs the forward tangent of the network along the direction t (n×d, one row per
// point) and its reverse sweep:
//
//	ż_l = W_l ḣ_{l−1} (ḣ₀ = t),  ḣ_l = σ′ ∘ ż_l,
//	z̄_{L−1} = gh_{L−1} ∘ σ″ ∘ ż_{L−1},  z̄_l = gh_l ∘ σ″ ∘ ż_l + σ′ ∘ (W_{l+1}ᵀ z̄_{l+1}).
//
// z̄_l is both ∂(tᵀ∇ₓE)/∂z_l (what the mixed product needs) and the tangent of g_l along t,
// so W₁ᵀz̄₁ = ∇²ₓE t (what the Hessian-vector product needs).
func (m *MLP) tangent(ws *mlpWork, t blas64.General, n int) {
	L := len(m.sizes) - 1
	prev := t
	for l := 1; l < L; l++ {
		ly := &ws.layers[l]
		k := n * ly.out
		ly.zt = numeric.Resize(ly.zt, k)
		ly.ht = numeric.Resize(ly.ht, k)
		gemm(blas.NoTrans, blas.Trans, 1, prev, ly.W, 0, general(n, ly.out, ly.zt))
		zt, ht, d1 := ly.zt[:k], ly.ht[:k], ly.d1[:k] // locals: no reloads, no bounds checks
		for i, v := range zt {
			ht[i] = d1[i] * v
		}
		prev = general(n, ly.out, ly.ht)
	}
	for l := L - 1; l >= 1; l-- {
		ly := &ws.layers[l]
		k := n * ly.out
		ly.zbar = numeric.Resize(ly.zbar, k)
		zt, zbar, gh, d1, d2 := ly.zt[:k], ly.zbar[:k], ly.gh[:k], ly.d1[:k], ly.d2[:k]
		if l == L-1 {
			for i, v := range zt {
				zbar[i] = gh[i] * d2[i] * v
			}
			continue
		}
		up := &ws.layers[l+1]
		ly.hbar = numeric.Resize(ly.hbar, k)
		gemm(blas.NoTrans, blas.NoTrans, 1, general(n, up.out, up.zbar), up.W, 0, general(n, ly.out, ly.hbar))
		hbar := ly.hbar[:k]
		for i, v := range zt {
			zbar[i] = float64(gh[i]*d2[i]*v) + float64(d1[i]*hbar[i])
		}
	}
}

// mixed adds ∇θ Σᵢ uᵢᵀ∇ₓE(xᵢ), uᵢ = Uᵢ + MixedSelf·∇ₓE(xᵢ) (gx holds ∇ₓE when MixedSelf ≠ 0).
// With ḣ, z̄ from tangent along u (uᵀ∇ₓE = ż_L = W_L ḣ_{L−1}):
//
//	∇W_L = Σᵢ ḣ_{L−1,i}ᵀ,  ∇W_l = Σᵢ g_{l,i} ḣ_{l−1,i}ᵀ + z̄_{l,i} h_{l−1,i}ᵀ,  ∇b_l = Σᵢ z̄_{l,i},
//
// with ḣ₀ = u, h₀ = x and ∇b_L = 0.
func (m *MLP) mixed(ws *mlpWork, req *framework.Request, n int, gx blas64.General, dst []float64) {
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

// hvp writes ∇²ₓE(xᵢ)vᵢ = W₁ᵀ z̄_{1,i} (z̄ from tangent along v) into dst.
func (m *MLP) hvp(ws *mlpWork, req *framework.Request, n int, dst blas64.General) {
	m.tangent(ws, rawOf(req.V), n)
	ly := &ws.layers[1]
	gemm(blas.NoTrans, blas.NoTrans, 1, general(n, ly.out, ly.zbar), ly.W, 0, dst)
}

// laplacian propagates, per row, the Jacobian J_l = ∂z_l/∂x (out×d, stored stacked as d rows
// of width out) and the Laplacian S_l = Δₓz_l:
//
//	J₁ = W₁, S₁ = 0,  Jh_l = σ′ ∘ J_l,  q_l = Σₖ (J_l)²_{·k},  Δh_l = σ″ ∘ q_l + σ′ ∘ S_l,
//	J_{l+1} = W_{l+1} Jh_l,  S_{l+1} = W_{l+1} Δh_l,
//
// so that ΔₓE = S_L, left in layers[L].s.
func (m *MLP) laplacian(ws *mlpWork, n int) {
	L := len(m.sizes) - 1
	d := m.d
	for l := 1; l < L; l++ {
		ly := &ws.layers[l]
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
		prev := &ws.layers[l-1]
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
	top := &ws.layers[L]
	prev := &ws.layers[L-1]
	top.s = numeric.Resize(top.s, n)
	gemm(blas.NoTrans, blas.Trans, 1, general(n, prev.out, prev.lh), top.W, 0, general(n, 1, top.s))
}

// laplacianVJP adds Σᵢ vᵢ∇θΔₓE(xᵢ) by the reverse sweep of laplacian. With adjoints
// Δh̄_l, Jh̄_l, h̄_l flowing down (Δh̄_{L−1} = v W_L, the others zero at L−1):
//
//	S̄_l = σ′ ∘ Δh̄_l,
//	J̄_l = 2(σ″ ∘ Δh̄_l) ∘ J_l + σ′ ∘ Jh̄_l,
//	z̄_l = Δh̄_l ∘ (σ‴ ∘ q_l + σ″ ∘ S_l) + σ″ ∘ Σₖ (Jh̄_l ∘ J_l)_{·k} + σ′ ∘ h̄_l,
//	∇W_l += z̄_l h_{l−1}ᵀ + J̄_l Jh_{l−1}ᵀ + S̄_l Δh_{l−1}ᵀ,  ∇b_l += z̄_l,
//	h̄_{l−1} = W_lᵀz̄_l,  Jh̄_{l−1} = W_lᵀJ̄_l,  Δh̄_{l−1} = W_lᵀS̄_l,
//
// and at l = 1 (J₁ = W₁): ∇W₁ += z̄₁xᵀ + J̄₁. At the top, ∇W_L += v Δh_{L−1}ᵀ.
func (m *MLP) laplacianVJP(ws *mlpWork, req *framework.Request, n int, dst []float64) {
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
	top := &ws.layers[L]
	below := &ws.layers[L-1]
	gemm(blas.Trans, blas.NoTrans, 1, general(n, 1, v), general(n, below.out, below.lh), 1, general(1, top.in, dst[m.offW[L]:]))
	below.lhbar = numeric.Resize(below.lhbar, n*below.out)
	for i := 0; i < n; i++ {
		row := below.lhbar[i*below.out : (i+1)*below.out]
		for a, w := range top.W.Data[:below.out] {
			row[a] = v[i] * w
		}
	}
	for l := L - 1; l >= 1; l-- {
		ly := &ws.layers[l]
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
		prev := &ws.layers[l-1]
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
