package energy

import (
	"fmt"
	"math"
)

// activation is a smooth elementwise nonlinearity σ of the MLP, with its first three
// derivatives (the Laplacian's θ-gradient needs σ‴).
type activation int

const (
	actSoftplus activation = iota // σ(z) = log(1 + eᶻ)
	actTanh                       // σ(z) = tanh z
	actSwish                      // σ(z) = z·sigmoid(z) (SiLU)
)

var activationNames = []string{"softplus", "tanh", "swish"}

func (a activation) String() string { return activationNames[a] }

func parseActivation(s string) (activation, error) {
	for i, n := range activationNames {
		if s == n {
			return activation(i), nil
		}
	}
	return 0, fmt.Errorf("unknown activation %q (want softplus, tanh or swish)", s)
}

// eval writes σ(z) into h and σ′(z), σ″(z), σ‴(z) into d1, d2, d3, for each of those
// slices that is not nil (each as long as z).
func (a activation) eval(z, h, d1, d2, d3 []float64) {
	switch a {
	case actSoftplus:
		softplusEval(z, h, d1, d2, d3) // softplus.go
	case actTanh:
		evalTanh(z, h, d1, d2, d3)
	case actSwish:
		evalSwish(z, h, d1, d2, d3)
	}
}

// sigmoidExp returns sigmoid(z) and e = exp(−|z|), computed without overflow.
func sigmoidExp(z float64) (s, e float64) {
	e = expOne(-math.Abs(z))
	if z >= 0 {
		return 1 / (1 + e), e
	}
	return e / (1 + e), e
}

// tanhOne returns tanh z by the method of the standard library's math.Tanh (Cephes): a
// rational function for |z| < 0.625, 1 − 2e/(1 + e) with e = exp(−2|z|) above, ±1 beyond
// 44, with products rounded separately and the package's exponential, so that the result
// does not depend on the machine.
func tanhOne(x float64) float64 {
	z := math.Abs(x)
	switch {
	case z > 44:
		z = 1
	case z >= 0.625:
		e := expOne(-2 * z)
		z = 1 - 2*e/(1+e)
	default:
		if x == 0 {
			return x
		}
		s := float64(x * x)
		p := float64(-9.64399179425052238628e-1*s) - 9.92877231001918586564e1
		p = float64(p*s) - 1.61468768441708447952e3
		q := s + 1.12811678491632931402e2
		q = float64(q*s) + 2.23548839060100448583e3
		q = float64(q*s) + 4.84406305325125486048e3
		return x + float64(x*s)*p/q
	}
	if x < 0 {
		z = -z
	}
	return z
}

// tanh: with t = tanh z, σ′ = 1−t², σ″ = −2t(1−t²), σ‴ = (1−t²)(6t²−2).
func evalTanh(z, h, d1, d2, d3 []float64) {
	for i, v := range z {
		t := tanhOne(v)
		c := 1 - float64(t*t)
		if h != nil {
			h[i] = t
		}
		if d1 != nil {
			d1[i] = c
		}
		if d2 != nil {
			d2[i] = -2 * t * c
		}
		if d3 != nil {
			d3[i] = c * (float64(6*t*t) - 2)
		}
	}
}

// swish: with s = sigmoid(z) and a = s(1−s), σ = zs, σ′ = s + za, σ″ = a(2 + z(1−2s)),
// σ‴ = a[(1−2s)(3 + z(1−2s)) − 2za].
func evalSwish(z, h, d1, d2, d3 []float64) {
	for i, v := range z {
		s, _ := sigmoidExp(v)
		a := float64(s * (1 - s))
		if h != nil {
			h[i] = v * s
		}
		if d1 != nil {
			d1[i] = s + float64(v*a)
		}
		b := 1 - float64(2*s)
		if d2 != nil {
			d2[i] = a * (2 + float64(v*b))
		}
		if d3 != nil {
			d3[i] = a * (float64(b*(3+float64(v*b))) - float64(2*v*a))
		}
	}
}
