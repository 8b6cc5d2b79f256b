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
		y[i] = expOne(v)
	}
}

// expOne is expGeneric on one element: exp(v) for v ≤ 709, 0 at and below −708, NaN for NaN.
func expOne(v float64) float64 {
	nx := -v
	m := nx
	if spClamp < nx {
		m = spClamp
	}
	xp := -m
	t := math.FMA(xp, spLog2e, spMagic)
	kd := t - spMagic
	hi := math.FMA(-kd, spLn2Hi, xp)
	lo := float64(kd * spLn2Lo)
	r := hi - lo
	tt := r * r
	p := math.FMA(tt, spP5, spP4)
	p = math.FMA(tt, p, spP3)
	p = math.FMA(tt, p, spP2)
	p = math.FMA(tt, p, spP1)
	c := math.FMA(-tt, p, r)
	e := float64((1 - ((lo - float64(r*c)/(2-c)) - hi)) * math.Float64frombits((math.Float64bits(t)+1023)<<52))
	if !(nx < spClamp) && !math.IsNaN(v) {
		e = 0
	}
	return e
}

// expScalar returns exp(v) for any v: expOne's bits for v ≤ 709, and above, where expOne's
// 2^k would overflow, the square of exp(v/2) (+Inf from 709.79 on). Every energy that needs
// an exponential outside the vectorised passes uses it, so that the result does not depend
// on the machine (math.Exp uses FMA where the CPU has it).
func expScalar(v float64) float64 {
	if v > 709 {
		h := expOne(v * 0.5)
		return float64(h * h)
	}
	return expOne(v)
}

// logEval writes log(x[i]) into y[i] for positive normal x[i] (NaN stays NaN), with the AVX2/FMA
// kernel where the CPU has one; within 2 units in the last place of math.Log. The kernel and
// logGeneric agree bit for bit.
func logEval(x, y []float64) {
	n := len(x)
	if n == 0 {
		return
	}
	_ = y[n-1]
	if !haveFMA {
		logGeneric(x, y)
		return
	}
	n4 := n &^ 3
	if n4 > 0 {
		logKernel(n4, &x[0], &y[0])
	}
	if n4 < n {
		xb := [4]float64{1, 1, 1, 1}
		var yb [4]float64
		copy(xb[:], x[n4:])
		logKernel(4, &xb[0], &yb[0])
		copy(y[n4:], yb[:n-n4])
	}
}

// logGeneric is logEval in Go, operation for operation as logKernel: x = 2^k·m with m in
// (√2/2, √2], log m = 2·atanh(q), q = (m − 1)/(m + 1), by the series of softplus.go.
func logGeneric(x, y []float64) {
	for i, v := range x {
		y[i] = logOne(v)
	}
}

// logOne is logGeneric on one element: log v for positive normal v, NaN for NaN. Every energy
// that needs a logarithm outside the vectorised passes uses it, so that the result does not
// depend on the machine.
func logOne(v float64) float64 {
	if math.IsNaN(v) {
		return v
	}
	b := math.Float64bits(v)
	e := b >> 52
	m := math.Float64frombits(b&(1<<52-1) | math.Float64bits(1))
	if m > math.Sqrt2 {
		m = float64(m * 0.5)
		e++
	}
	k := (math.Float64frombits(e|0x4330000000000000) - 0x1p52) - 1023
	f := m - 1
	l := atanh2(f / (2 + f)) // log m
	return math.FMA(k, spLn2Hi, math.FMA(k, spLn2Lo, l))
}
