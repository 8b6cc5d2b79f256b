package energy

import (
	"math"

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
//
// When the forward pass carried the Jacobians J_l = ∂z_l/∂x (ws.taylor), ż_l = J_l t is read off
// them (d multiply-adds per unit) instead of computed by a product with W_l.
func (m *MLP) tangent(ws *mlpWork, t blas64.General, n int) {
	L := len(m.sizes) - 1
	d := m.d
	prev := t
	for l := 1; l < L; l++ {
		ly := &ws.layers[l]
		k := n * ly.out
		ly.zt = numeric.Resize(ly.zt, k)
		ly.ht = numeric.Resize(ly.ht, k)
		if ws.taylor && l > 1 {
			// ż_l[i] = Σₖ t[i,k]·J_l[i·d+k], fused multiply-adds in k order from +0.
			s, J := ly.out, ly.zs[k:(d+1)*k]
			for i := 0; i < n; i++ {
				zt, tr := ly.zt[i*s:(i+1)*s], t.Data[i*t.Stride:i*t.Stride+d]
				clear(zt)
				for kk, tk := range tr {
					jr := J[(i*d+kk)*s : (i*d+kk+1)*s]
					for a, v := range jr {
						zt[a] = math.FMA(tk, v, zt[a])
					}
				}
			}
		} else {
			gemm(blas.NoTrans, blas.Trans, 1, prev, ly.W, 0, general(n, ly.out, ly.zt))
		}
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

// The Laplacian and its θ-gradient by forward-mode (Taylor) propagation, sharing the forward
// pass. Per row, each layer carries its value z_l, its Jacobian J_l = ∂z_l/∂x (d vectors, the
// first-order Taylor coefficients along the d input directions) and its Laplacian
// S_l = Δₓz_l (the sum of the second-order coefficients):
//
//	J₁ = W₁, S₁ = 0,  Jh_l = σ′ ∘ J_l,  q_l = Σₖ (J_l)²_{·k},  Δh_l = σ″ ∘ q_l + σ′ ∘ S_l,
//	[z_{l+1}; J_{l+1}; S_{l+1}] = [h_l; Jh_l; Δh_l] W_{l+1}ᵀ (+ b_{l+1} on z),
//
// so that ΔₓE = S_L = Δh_{L−1} W_Lᵀ. The three are stacked as one matrix of (d+2)·n rows
// per layer (ws.layers[l].zs and .hs: the n rows of z, then row i·d+k of J for point i and
// direction k, then the n rows of S), so a layer costs one product, (d+2) times the size of
// the plain forward one. The θ-gradient of Σᵢ vᵢ S_L is one reverse sweep of the same
// structure (laplacianVJP).
//
// Floating-point operations per exact score-matching request (∇ₓE, mixed with MixedSelf,
// Laplacian and its θ-gradient) with widths s₀ = d, s₁ … s_{L−1}, s_L = 1, n rows, and
// P_l = 2·n·s_{l−1}·s_l the cost of the product through W_l:
//
//	now:    5·P₁ + (3d + 9)·Σ_{l=2}^{L−1} P_l + 2·P_L
//	before: 6·P₁ + (3d + 11)·Σ_{l=2}^{L−1} P_l + 2·P_L   (mlp_ref_test.go)
//
// plus O(n·d·Σ s_l) elementwise work. Per hidden layer l ≥ 2 that is (d+2) for the Taylor
// forward, 1 for the backward pass (g_l), 3 for the mixed product (the reverse of its
// tangent, whose forward ż_l = J_l u is now read off J_l, and its two weight products),
// (d+2) for the weight gradient of the Laplacian ([z̄; J̄; S̄]ᵀ[h; Jh; Δh] in one product) and
// (d+1) for its adjoints ([h̄; Jh̄] = [z̄; J̄] W_l; Δh̄_{l−1} = v ∘ ∂E/∂h_{l−1} comes from the
// backward pass). On ring8 (d = 2, hidden [64, 64], n = 256: P₁ = 65 536, P₂ = 2 097 152,
// P₃ = 32 768) that is 31 850 496 against 36 110 336 before: 15 products of the hidden
// layer's size against 17. The mixed product and the Laplacian's θ-gradient are separate
// outputs of the request; if one reverse sweep could return their sum (what the sm trainer
// uses), the mixed product's own reverse (3 per layer) would merge into the Laplacian's at
// the cost of 1, for 3d + 6 = 12.

// taylor is forward (mlp.go) with the Taylor terms: it computes z_l, σ(z_l) and its
// derivatives as forward does, bit for bit, and J_l, S_l, Jh_l, q_l, Δh_l, and S_L into
// layers[L].s.
func (m *MLP) taylor(ws *mlpWork, req *framework.Request, n int, nd mlpNeeds) {
	L := len(m.sizes) - 1
	d := m.d
	top := req.Outputs&(framework.OutEnergy|framework.OutParamVJP) != 0
	ws.taylor = true
	for l := 1; l < L; l++ {
		ly := &ws.layers[l]
		s := ly.out
		k := n * s
		ly.zs = numeric.Resize(ly.zs, (d+2)*k)
		z := ly.zs[:k]
		if l == 1 {
			for i := 0; i < n; i++ {
				copy(z[i*s:(i+1)*s], ly.b)
			}
			gemm(blas.NoTrans, blas.Trans, 1, rawOf(req.X), ly.W, 1, general(n, s, z))
		} else {
			// Σ over C, then + b: the bits of forward's b + Σ (kernels.go).
			prev := &ws.layers[l-1]
			gemm(blas.NoTrans, blas.Trans, 1, general((d+2)*n, prev.out, prev.hs), ly.W, 0, general((d+2)*n, s, ly.zs))
			for i := 0; i < n; i++ {
				zr := z[i*s : (i+1)*s]
				for a, b := range ly.b {
					zr[a] += b
				}
			}
		}
		ly.z = z
		ly.hs = numeric.Resize(ly.hs, (d+2)*k)
		var h []float64
		if l < L-1 || top {
			h = ly.hs[:k]
			ly.h = h
		}
		ly.d1, ly.d2 = numeric.Resize(ly.d1, k), numeric.Resize(ly.d2, k)
		var d3 []float64
		if nd.d3 {
			ly.d3 = numeric.Resize(ly.d3, k)
			d3 = ly.d3
		}
		m.act.eval(z, h, ly.d1, ly.d2, d3)
		jh, lh := ly.hs[k:(d+1)*k], ly.hs[(d+1)*k:]
		if l == 1 {
			// J₁ = W₁ for every row: q₁ is the squared row norms of W₁, one vector.
			ly.q = numeric.Resize(ly.q, s)
			for a := 0; a < s; a++ {
				sq := 0.0
				for _, w := range ly.W.Data[a*ly.W.Stride : a*ly.W.Stride+d] {
					sq += float64(w * w)
				}
				ly.q[a] = sq
			}
			for i := 0; i < n; i++ {
				d1, d2 := ly.d1[i*s:(i+1)*s], ly.d2[i*s:(i+1)*s]
				lr := lh[i*s : (i+1)*s]
				for a := range lr {
					lr[a] = d2[a] * ly.q[a]
				}
				for kk := 0; kk < d; kk++ {
					jr := jh[(i*d+kk)*s : (i*d+kk+1)*s]
					for a := range jr {
						jr[a] = d1[a] * ly.W.Data[a*ly.W.Stride+kk]
					}
				}
			}
			continue
		}
		J, S := ly.zs[k:(d+1)*k], ly.zs[(d+1)*k:]
		ly.q = numeric.Resize(ly.q, k)
		for i := 0; i < n; i++ {
			d1, d2 := ly.d1[i*s:(i+1)*s], ly.d2[i*s:(i+1)*s]
			q := ly.q[i*s : (i+1)*s]
			clear(q)
			for kk := 0; kk < d; kk++ {
				r := (i*d + kk) * s
				jr, jhr := J[r:r+s], jh[r:r+s]
				for a, v := range jr {
					q[a] += float64(v * v)
					jhr[a] = d1[a] * v
				}
			}
			lr, sr := lh[i*s:(i+1)*s], S[i*s:(i+1)*s]
			for a := range lr {
				lr[a] = float64(d2[a]*q[a]) + float64(d1[a]*sr[a])
			}
		}
	}
	ly, prev := &ws.layers[L], &ws.layers[L-1]
	if top {
		ly.z = numeric.Resize(ly.z, n)
		for i := 0; i < n; i++ {
			ly.z[i] = ly.b[0]
		}
		gemm(blas.NoTrans, blas.Trans, 1, general(n, prev.out, prev.h), ly.W, 1, general(n, 1, ly.z))
	}
	k := n * prev.out
	ly.s = numeric.Resize(ly.s, n)
	gemm(blas.NoTrans, blas.Trans, 1, general(n, prev.out, prev.hs[(d+1)*k:]), ly.W, 0, general(n, 1, ly.s))
}

// laplacianVJP adds Σᵢ vᵢ∇θΔₓE(xᵢ) by the reverse sweep of taylor. The adjoints of layer l
// (from the top hidden layer down) are, with Δh̄_l = v ∘ gh_l (the adjoint of Δh_l: by
// induction it is v times ∂E/∂h_l from the backward pass, with S̄_l = v ∘ g_l), h̄_l and Jh̄_l
// (zero at L−1) from the layer above:
//
//	J̄_l = 2(σ″ ∘ Δh̄_l) ∘ J_l + σ′ ∘ Jh̄_l,
//	z̄_l = Δh̄_l ∘ (σ‴ ∘ q_l + σ″ ∘ S_l) + σ″ ∘ Σₖ (Jh̄_l ∘ J_l)_{·k} + σ′ ∘ h̄_l,
//	∇W_l += [z̄_l; J̄_l; S̄_l]ᵀ [h_{l−1}; Jh_{l−1}; Δh_{l−1}],  ∇b_l += Σᵢ z̄_l,
//	[h̄_{l−1}; Jh̄_{l−1}] = [z̄_l; J̄_l] W_l,
//
// and at l = 1 (J₁ = W₁, S₁ = 0): ∇W₁ += z̄₁ᵀx + Σᵢ J̄₁. At the top, ∇W_L += Σᵢ vᵢ Δh_{L−1}.
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
	top, below := &ws.layers[L], &ws.layers[L-1]
	kb := n * below.out
	gemm(blas.Trans, blas.NoTrans, 1, general(n, 1, v), general(n, below.out, below.hs[(d+1)*kb:]), 1, general(1, top.in, dst[m.offW[L]:]))
	for l := L - 1; l >= 1; l-- {
		ly := &ws.layers[l]
		s := ly.out
		k := n * s
		first := l == L-1 // no Jh̄ or h̄ flows into the top hidden layer
		ly.adj = numeric.Resize(ly.adj, (d+2)*k)
		zb, jb, sb := ly.adj[:k], ly.adj[k:(d+1)*k], ly.adj[(d+1)*k:]
		var J, S, hb, jhb []float64
		if l > 1 {
			J, S = ly.zs[k:(d+1)*k], ly.zs[(d+1)*k:]
		}
		if !first {
			hb, jhb = ly.back[:k], ly.back[k:(d+1)*k]
		}
		W := ly.W
		for i := 0; i < n; i++ {
			vi := v[i]
			gh := ly.gh[i*s : (i+1)*s]
			d1, d2, d3 := ly.d1[i*s:(i+1)*s], ly.d2[i*s:(i+1)*s], ly.d3[i*s:(i+1)*s]
			zr := zb[i*s : (i+1)*s]
			var q []float64
			if l == 1 {
				q = ly.q[:s]
			} else {
				q = ly.q[i*s : (i+1)*s]
			}
			for a := range zr {
				lhb := float64(vi * gh[a]) // Δh̄_l
				t := float64(d3[a] * q[a])
				if l > 1 {
					t += float64(d2[a] * S[i*s+a])
				}
				z := float64(lhb * t)
				if !first {
					z += float64(d1[a] * hb[i*s+a])
				}
				zr[a] = z
				if l > 1 {
					sb[i*s+a] = float64(d1[a] * lhb) // S̄_l
				}
			}
			for kk := 0; kk < d; kk++ {
				r := (i*d + kk) * s
				jr := jb[r : r+s]
				for a := range jr {
					var j float64
					if l == 1 {
						j = W.Data[a*W.Stride+kk]
					} else {
						j = J[r+a]
					}
					lhb := float64(vi * gh[a])
					x := float64(2 * lhb * d2[a] * j)
					if !first {
						x += float64(d1[a] * jhb[r+a])
						zr[a] += float64(d2[a] * jhb[r+a] * j)
					}
					jr[a] = x
				}
			}
		}
		colSum(dst[m.offB[l]:m.offB[l]+s], zb, n)
		dW := general(s, ly.in, dst[m.offW[l]:])
		if l == 1 {
			gemm(blas.Trans, blas.NoTrans, 1, general(n, s, zb), rawOf(req.X), 1, dW)
			// ∇W₁[a,k] += Σᵢ J̄₁[(i,k), a]
			for i := 0; i < n; i++ {
				for kk := 0; kk < d; kk++ {
					r := (i*d + kk) * s
					for a, x := range jb[r : r+s] {
						dW.Data[a*dW.Stride+kk] += x
					}
				}
			}
			continue
		}
		prev := &ws.layers[l-1]
		gemm(blas.Trans, blas.NoTrans, 1, general((d+2)*n, s, ly.adj), general((d+2)*n, prev.out, prev.hs), 1, dW)
		prev.back = numeric.Resize(prev.back, (d+1)*n*prev.out)
		gemm(blas.NoTrans, blas.NoTrans, 1, general((d+1)*n, s, ly.adj), ly.W, 0, general((d+1)*n, prev.out, prev.back))
	}
}
