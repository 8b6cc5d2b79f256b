package energy

import "math"

// expEval writes exp(x[i]) into y[i] for x[i] ≤ 0 (and up to 709), with the AVX2/FMA kernel
// where the CPU has one: the exponential of softplus.go (fdlibm's, k rounded to nearest), 0
// at and below −708 (where the true value is below 3·10⁻³⁰⁸), NaN for NaN. The kernel and
// expGeneric agree bit for bit, so an element's result does not depend on where it falls in
// the slice.
func expEval(x, y []float64) {
	n := len(x)
	if n == 0 {
		return
	}
	_ = y[n-1]
	if !haveFMA {
		expGeneric(x, y)
		return
	}
	n4 := n &^ 3
	if n4 > 0 {
		expKernel(n4, &x[0], &y[0])
	}
	if n4 < n {
		var xb, yb [4]float64
		copy(xb[:], x[n4:])
		expKernel(4, &xb[0], &yb[0])
		copy(y[n4:], yb[:n-n4])
	}
}

// expGeneric is expEval in Go, operation for operation as expKernel.
func expGeneric(x, y []float64) {
	for i, v := range x {
		nx := -v
		m := nx
		if spClamp < nx {
			m = spClamp
		}
		xp := -m
		t := math.FMA(xp, spLog2e, spMagic)
		kd := t - spMagic
		hi := math.FMA(-kd, spLn2Hi, xp)
		lo := kd * spLn2Lo
		r := hi - lo
		tt := r * r
		p := math.FMA(tt, spP5, spP4)
		p = math.FMA(tt, p, spP3)
		p = math.FMA(tt, p, spP2)
		p = math.FMA(tt, p, spP1)
		c := math.FMA(-tt, p, r)
		e := (1 - ((lo - (r*c)/(2-c)) - hi)) * math.Float64frombits((math.Float64bits(t)+1023)<<52)
		if !(nx < spClamp) && !math.IsNaN(v) {
			e = 0
		}
		y[i] = e
	}
}
