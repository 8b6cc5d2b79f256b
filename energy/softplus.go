package energy

import "math"

// Softplus and its derivatives, vectorised. For z with e = exp(−|z|) and u = 1 + e:
//
//	σ(z) = max(z, 0) + log1p(e),  σ′ = s = sigmoid(z) = 1/u (z ≥ 0) or e/u (z < 0),
//	σ″ = s(1 − s) = e/u²,  σ‴ = s(1 − s)(1 − 2s).
//
// exp(−|z|) reduces the argument as fdlibm's exp (Go's math.Exp) does, with k rounded to
// nearest and 2^k built from the bits of the rounding constant, and evaluates e^r = 1 + r +
// r²Q(r) with Q of degree 11 (Taylor, below 10⁻¹⁷ on |r| ≤ ½ln 2); |z| is clamped at 708,
// where e ≈ 3·10⁻³⁰⁸ (below, e is subnormal or zero, and the difference is below 10⁻³⁰⁷ in
// every output). log1p(e) for e ∈ [0, 1] is 2·atanh(q), q = e/(2 + e) ∈ [0, ⅓], by its series
// 2q Σₖ q²ᵏ/(2k+1) to k = 16 (the next term is below 10⁻¹⁸ relative). The quotients 1/u and
// e/(2+e) come from one division, 1/(u(2+e)), and both polynomials are evaluated by Estrin's
// scheme, which keeps the dependency chain short. Every output is within a few units in the
// last place of the correctly rounded value (TestSoftplusAccuracy); NaN stays NaN.
//
// The AVX2/FMA kernel (softplus_amd64.s) does the same arithmetic as softplusGeneric
// operation for operation (every fused multiply-add of one is a math.FMA of the other), so
// the two agree bit for bit and an element's result does not depend on where it falls in
// the slice. It runs as two passes over blocks of spBlock elements (spExpKernel, then
// spFinishKernel), which overlap better in the out-of-order core: one division per block of
// four (u·(2+e)) limits the second pass on Zen 3, about 11 cycles.

// Constants of the kernels (the assembly's come from kconsts, kconst.go).
const (
	spClamp = 708.0
	spLog2e = 1.44269504088896338700e+00
	spMagic = 0x1.8p52 // adding it rounds to an integer held in the low mantissa bits
	spLn2Hi = 6.93147180369123816490e-01
	spLn2Lo = 1.90821492927058770002e-10
	spP1    = 1.66666666666666657415e-01
	spP2    = -2.77777777770155933842e-03
	spP3    = 6.61375632143793436117e-05
	spP4    = -1.65339022054652515390e-06
	spP5    = 4.13813679705723846039e-08
)

// spTaylor holds 1/k!, k = 2 … 13: e^r = 1 + r + r²Σₖ spTaylor[k] rᵏ to within 10⁻¹⁷ on
// |r| ≤ ½ln 2.
var spTaylor = func() [12]float64 {
	var c [12]float64
	f := 1.0
	for k := 2; k <= 13; k++ {
		f *= float64(k)
		c[k-2] = 1 / f
	}
	return c
}()

// atanh2 returns 2·atanh(q) = log((1 + q)/(1 − q)) for |q| ≤ 3 − 2√2 by the series of
// spSeries in q², in the Estrin order and with the fused operations of the assembly kernels
// (softplusKernel's log1p(e) and logKernel's log m), so that the Go twins compute their bits.
func atanh2(q float64) float64 {
	zz := q * q
	z2 := zz * zz
	z4 := z2 * z2
	z8 := z4 * z4
	k := &spSeries
	p0 := math.FMA(z2, math.FMA(zz, k[3], k[2]), math.FMA(zz, k[1], k[0]))
	p1 := math.FMA(z2, math.FMA(zz, k[7], k[6]), math.FMA(zz, k[5], k[4]))
	p2 := math.FMA(z2, math.FMA(zz, k[11], k[10]), math.FMA(zz, k[9], k[8]))
	p3 := math.FMA(z2, math.FMA(zz, k[15], k[14]), math.FMA(zz, k[13], k[12]))
	r := math.FMA(z8, math.FMA(z4, p3, p2), math.FMA(z4, p1, p0))
	return float64(math.FMA(zz, r, 1) * (q + q))
}

// spSeries holds 1/(2k+1), k = 1 … 16: the coefficients of atanh(q)/q in q².
var spSeries = func() [16]float64 {
	var c [16]float64
	for k := range c {
		c[k] = 1 / float64(2*k+3)
	}
	return c
}()

// softplusEval writes σ(z) into h and σ′, σ″, σ‴ into d1, d2, d3, for each of those slices
// that is not nil (each as long as z), with the AVX2/FMA kernel where the CPU has one.
func softplusEval(z, h, d1, d2, d3 []float64) {
	n := len(z)
	if n == 0 {
		return
	}
	flags := 0
	for i, s := range [][]float64{h, d1, d2, d3} {
		if s != nil {
			flags |= 1 << i
			_ = s[n-1] // bounds: every output as long as z
		}
	}
	if flags == 0 {
		return
	}
	if !haveFMA {
		softplusGeneric(z, h, d1, d2, d3)
		return
	}
	n4 := n &^ 3
	// Two passes per block of spBlock elements (spExpKernel, then spFinishKernel), the
	// intermediate e = exp(−|z|) on the stack.
	var eb [spBlock]float64
	for off := 0; off < n4; off += spBlock {
		m := min(spBlock, n4-off)
		spExpKernel(m, &z[off], &eb[0])
		spFinishKernel(m, &z[off], &eb[0], ptrAt(h, off), ptrAt(d1, off), ptrAt(d2, off), ptrAt(d3, off), flags)
	}
	if n4 == n {
		return
	}
	// The last 1–3 elements go through the two passes in a padded block, so that every
	// element is computed the same way.
	var zb, eb4, hb, b1, b2, b3 [4]float64
	copy(zb[:], z[n4:])
	spExpKernel(4, &zb[0], &eb4[0])
	spFinishKernel(4, &zb[0], &eb4[0], &hb[0], &b1[0], &b2[0], &b3[0], flags)
	for i, out := range [][]float64{h, d1, d2, d3} {
		if out != nil {
			copy(out[n4:], [][4]float64{hb, b1, b2, b3}[i][:n-n4])
		}
	}
}

// spBlock is the number of elements per pair of passes of softplusEval.
const spBlock = 256

// ptrAt returns &s[i], or nil for a nil slice.
func ptrAt(s []float64, i int) *float64 {
	if s == nil {
		return nil
	}
	return &s[i]
}

// softplusGeneric is softplusEval in Go, operation for operation as the kernel.
func softplusGeneric(z, h, d1, d2, d3 []float64) {
	c := &spTaylor
	for i, v := range z {
		a := math.Abs(v)
		m := a
		if spClamp < a { // NaN stays NaN, as VMINPD with the clamp first
			m = spClamp
		}
		x := -m
		t := math.FMA(x, spLog2e, spMagic)
		kd := t - spMagic
		hi := math.FMA(-kd, spLn2Hi, x)
		lo := float64(kd * spLn2Lo)
		r := hi - lo
		scale := math.Float64frombits((math.Float64bits(t) + 1023) << 52)
		r2 := r * r
		r4 := r2 * r2
		r8 := r4 * r4
		b0 := math.FMA(r2, math.FMA(r, c[3], c[2]), math.FMA(r, c[1], c[0]))
		b1 := math.FMA(r2, math.FMA(r, c[7], c[6]), math.FMA(r, c[5], c[4]))
		b2 := math.FMA(r2, math.FMA(r, c[11], c[10]), math.FMA(r, c[9], c[8]))
		q := math.FMA(r8, b2, math.FMA(r4, b1, b0))
		e := float64((1 + math.FMA(r2, q, r)) * scale) // exp(−|z|) = 2^k(1 + r + r²Q(r))
		u, w := 1+e, 2+e
		q0 := 1 / (u * w)
		rr := float64(w * q0) // 1/u
		er := float64(e * rr)
		s := rr
		if math.Signbit(v) {
			s = er
		}
		if h != nil {
			l := atanh2(float64((e * u) * q0)) // log(1 + e) = 2·atanh(e/(2 + e))
			pos := 0.0
			if v > 0 {
				pos = v
			}
			h[i] = pos + l
		}
		if d1 != nil {
			d1[i] = s
		}
		a2 := er * rr // s(1 − s) = e/u² without the cancellation of 1 − s
		if d2 != nil {
			d2[i] = a2
		}
		if d3 != nil {
			d3[i] = a2 * (1 - (s + s))
		}
	}
}
