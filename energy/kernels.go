package energy

import "math"

// The kernels of gemm and their Go twins. Each assembly kernel (kern_mx8_amd64.s,
// kdot4_amd64.s, transpose4_amd64.s, used where haveFMA) has a Go twin here that performs the same floating-point operations in the same
// order: every fused multiply-add of the assembly is a math.FMA, every product that the
// assembly rounds before an addition is rounded explicitly (float64(x*y), which the Go
// compiler may not fuse), and sums are taken in the same order. math.FMA is exact on every
// architecture (an instruction where there is one, exact software otherwise), so the twins
// compute the assembly's bits on any machine, and with the purego build tag.

// Kernels names the path that the built-in energies' vector kernels (matrix products, exp,
// log, softplus) take on this machine, chosen once at start-up: "avx2+fma" where the CPU has
// AVX2 and FMA and the assembly kernels run, else "go", their Go twins. Run folders record it
// (summary.json, provenance).
func Kernels() string {
	if haveFMA {
		return "avx2+fma"
	}
	return "go"
}

// kern computes an mr×8 tile of C (mr = 4 or 6): for i < mr, j < 8,
//
//	s = Σ_{l<k} A(i,l)·B(l,j)  (fused multiply-adds in l order from +0),
//	C(i,j) = alpha·s (over ≠ 0) or C(i,j) + alpha·s (alpha·s rounded first),
//
// with A(i,l) = a[i*ars + l*acs], B(l,j) = b[l*ldb + j], C(i,j) = c[i*ldc + j].
func kern(mr, k int, a []float64, ars, acs int, b []float64, ldb int, c []float64, ldc int, alpha float64, over int) {
	if haveFMA {
		if mr == 6 {
			kern6x8(k, &a[0], ars, acs, &b[0], ldb, &c[0], ldc, alpha, over)
		} else {
			kern4x8(k, &a[0], ars, acs, &b[0], ldb, &c[0], ldc, alpha, over)
		}
		return
	}
	kernGo(mr, k, a, ars, acs, b, ldb, c, ldc, alpha, over)
}

// kernGo is the Go twin of kern4x8 and kern6x8.
func kernGo(mr, k int, a []float64, ars, acs int, b []float64, ldb int, c []float64, ldc int, alpha float64, over int) {
	for i := 0; i < mr; i++ {
		var s [8]float64
		ai := a[i*ars:]
		for l := 0; l < k; l++ {
			x := ai[l*acs]
			bl := b[l*ldb : l*ldb+8]
			s[0] = math.FMA(x, bl[0], s[0])
			s[1] = math.FMA(x, bl[1], s[1])
			s[2] = math.FMA(x, bl[2], s[2])
			s[3] = math.FMA(x, bl[3], s[3])
			s[4] = math.FMA(x, bl[4], s[4])
			s[5] = math.FMA(x, bl[5], s[5])
			s[6] = math.FMA(x, bl[6], s[6])
			s[7] = math.FMA(x, bl[7], s[7])
		}
		crow := c[i*ldc : i*ldc+8]
		for j, v := range s {
			if over != 0 {
				crow[j] = float64(alpha * v)
			} else {
				crow[j] += float64(alpha * v)
			}
		}
	}
}

// kdot sets s[r] = Σ_{l<k} A(r,l)·b[l] for the four rows r of A(r,l) = a[r*lda + l], k a
// positive multiple of 4: lane q accumulates the products with l ≡ q (mod 4) in l order with
// fused multiply-adds from +0, and s[r] = (lane0 + lane2) + (lane1 + lane3).
func kdot(k int, a []float64, lda int, b []float64, s *[4]float64) {
	if haveFMA {
		kdot4(k, &a[0], lda, &b[0], &s[0])
		return
	}
	for r := range s {
		s[r] = dotLanes(a[r*lda:r*lda+k], b[:k])
	}
}

// dotLanes is kdot4's arithmetic for one row: four lane sums with fused multiply-adds in
// order, then (lane0 + lane2) + (lane1 + lane3). len(x) is a multiple of 4.
func dotLanes(x, y []float64) float64 {
	var l0, l1, l2, l3 float64
	for i := 0; i+3 < len(x); i += 4 {
		l0 = math.FMA(x[i], y[i], l0)
		l1 = math.FMA(x[i+1], y[i+1], l1)
		l2 = math.FMA(x[i+2], y[i+2], l2)
		l3 = math.FMA(x[i+3], y[i+3], l3)
	}
	return (l0 + l2) + (l1 + l3)
}

// transpose writes the transpose of the 4×(4·blocks) strip at src (row stride lds) into the
// (4·blocks)×4 strip at dst (row stride ldd): dst[j*ldd + i] = src[i*lds + j].
func transpose(blocks int, src []float64, lds int, dst []float64, ldd int) {
	if haveFMA {
		transpose4(blocks, &src[0], lds, &dst[0], ldd)
		return
	}
	for i := 0; i < 4; i++ {
		row := src[i*lds : i*lds+4*blocks]
		for j, v := range row {
			dst[j*ldd+i] = v
		}
	}
}
