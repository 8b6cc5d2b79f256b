package energy

import "math"

// The first-order pass of an isotropic Gaussian mixture in the plane (d = 2), the Langevin
// workload's target: per row x and component c, with d = x − μ_c,
//
//	ℓ_c = −½‖d‖²/σ_c² + cst_c,  m = max_c ℓ_c,  e_c = exp(ℓ_c − m),  t = Σ_c e_c,
//	∇ₓE = Σ_c e_c d/σ_c² / t,  E = −(m + log t),
//
// four rows at a time in gmmPlaneKernel, or in gmmPlaneGeneric with the same arithmetic
// (so an element's result does not depend on where it falls).

// gmmPlaneParams writes the per-component constants of the kernel into par (5K values):
// μ₀, μ₁, −½/σ², cst, 1/σ².
func gmmPlaneParams(par, means, inv, cst []float64) {
	for c := range inv {
		p := par[5*c : 5*c+5]
		p[0], p[1], p[2], p[3], p[4] = means[2*c], means[2*c+1], -0.5*inv[c], cst[c], inv[c]
	}
}

// gmmPlane runs the pass on the n rows of x (n×2, contiguous) into g (n×2), mx and t (n).
// lbuf holds at least 4K values.
func gmmPlane(x []float64, n, k int, par, lbuf, g, mx, t []float64) {
	if n == 0 {
		return
	}
	if !haveFMA {
		gmmPlaneGeneric(x[:2*n], k, par, g, mx, t)
		return
	}
	n4 := n &^ 3
	if n4 > 0 {
		gmmPlaneKernel(n4, &x[0], k, &par[0], &lbuf[0], &g[0], &mx[0], &t[0])
	}
	if n4 < n {
		var xb, gb [8]float64
		var mb, tb [4]float64
		copy(xb[:], x[2*n4:2*n])
		gmmPlaneKernel(4, &xb[0], k, &par[0], &lbuf[0], &gb[0], &mb[0], &tb[0])
		copy(g[2*n4:2*n], gb[:])
		copy(mx[n4:n], mb[:])
		copy(t[n4:n], tb[:])
	}
}

// gmmPlaneGeneric is gmmPlaneKernel in Go, operation for operation.
func gmmPlaneGeneric(x []float64, k int, par, g, mx, t []float64) {
	var l [64]float64
	lb := l[:0]
	if k > len(l) {
		lb = make([]float64, 0, k)
	}
	lb = lb[:k]
	for i := 0; i < len(x)/2; i++ {
		x0, x1 := x[2*i], x[2*i+1]
		m := math.Inf(-1)
		for c := 0; c < k; c++ {
			p := par[5*c : 5*c+5]
			d0, d1 := x0-p[0], x1-p[1]
			sq := math.FMA(d1, d1, d0*d0)
			lb[c] = math.FMA(sq, p[2], p[3])
			if !(m > lb[c]) { // VMAXPD's rule
				m = lb[c]
			}
		}
		var tt, s0, s1 float64
		for c := 0; c < k; c++ {
			p := par[5*c : 5*c+5]
			e := expOne(lb[c] - m)
			tt += e
			g0, g1 := (x0-p[0])*p[4], (x1-p[1])*p[4]
			s0 = math.FMA(e, g0, s0)
			s1 = math.FMA(e, g1, s1)
		}
		g[2*i], g[2*i+1] = s0/tt, s1/tt
		mx[i], t[i] = m, tt
	}
}
