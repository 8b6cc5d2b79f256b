package energy

import "gonum.org/v1/gonum/mat"

// The per-row θ-gradients (OutParamJac of package framework) of the built-in energies that compute them
// exactly. Each writes row i of dst (n×p) with ∇θE(xᵢ), the terms whose weighted sum is the
// energy's ParamVJP.

// paramJac writes ∇θE(x) for the Gaussian: ∇_A E = ½xxᵀ (full) or ∇_w E = ½x∘x (diagonal),
// ∇_b E = −x.
func (g *Gaussian) paramJac(x, dst *mat.Dense) {
	n, d := x.Dims()
	for i := 0; i < n; i++ {
		xi, row := x.RawRowView(i), dst.RawRowView(i)
		off := d * d
		if g.diagonal {
			off = d
			for k, v := range xi {
				row[k] = 0.5 * v * v
			}
		} else {
			for k, v := range xi {
				for l, u := range xi {
					row[k*d+l] = 0.5 * v * u
				}
			}
		}
		for k, v := range xi {
			row[off+k] = -v
		}
	}
}

// paramJac writes ∇θE(s) for the Ising energy: ∇_h E = −s, ∇_A E = −½ssᵀ off the diagonal and
// 0 on it.
func (e *Ising) paramJac(x, dst *mat.Dense) {
	n, d := x.Dims()
	for i := 0; i < n; i++ {
		s, row := x.RawRowView(i), dst.RawRowView(i)
		for k, v := range s {
			row[k] = -v
			for l, u := range s {
				if k == l {
					row[d+k*d+l] = 0
				} else {
					row[d+k*d+l] = -0.5 * v * u
				}
			}
		}
	}
}

// rbmParamJac writes ∇θF(v) for the RBM free energy, given σ(a) of each row (n×H, a = c + Wv):
// ∇_W F = −σ(a)vᵀ, ∇_b F = −v, ∇_c F = −σ(a).
func rbmParamJac(x *mat.Dense, sig []float64, h int, dst *mat.Dense) {
	n, d := x.Dims()
	for i := 0; i < n; i++ {
		v, row, s := x.RawRowView(i), dst.RawRowView(i), sig[i*h:(i+1)*h]
		for j, sj := range s {
			for k, vk := range v {
				row[j*d+k] = -sj * vk
			}
			row[h*d+d+j] = -sj
		}
		for k, vk := range v {
			row[h*d+k] = -vk
		}
	}
}
