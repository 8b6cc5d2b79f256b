// Package numeric implements the small numerical helpers that goebm's packages above the
// core share: buffers resized without reallocating, and the logistic functions written so
// that they neither overflow nor lose precision. Sums such as log Σ exp are gonum's
// (floats.LogSumExp).
package numeric

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// Resize returns s with length n, reusing its storage when its capacity suffices. The
// contents are not preserved.
func Resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// ResizeDense returns an n×d matrix that reuses m's storage when it is large enough (m may
// be nil). The contents are not preserved.
func ResizeDense(m *mat.Dense, n, d int) *mat.Dense {
	if m != nil {
		if r, c := m.Dims(); r == n && c == d {
			return m
		}
		if raw := m.RawMatrix().Data; cap(raw) >= n*d && n*d > 0 {
			return mat.NewDense(n, d, raw[:n*d])
		}
	}
	if n == 0 || d == 0 {
		return &mat.Dense{}
	}
	return mat.NewDense(n, d, nil)
}

// Softplus returns log(1 + eᶻ) without overflow, to full precision for every z.
func Softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

// Sigmoid returns 1/(1 + e⁻ᶻ), the derivative of Softplus, without overflow.
func Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}
