package trainers

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// wolfeSearch is the line search of lbfgs and newton: bisection on a bracket until a step
// satisfies the weak Wolfe conditions (Lewis and Overton 2013, §4.2),
//
//	φ(α) ≤ φ(0) + c₁αφ′(0) + slack,   φ′(α) ≥ c₂φ′(0),   c₁ = 1e-4, c₂ = 0.9,
//
// where slack = 1e-12·max(1, |φ(0)|) allows for the rounding of the loss. A training loss is a sum
// over many rows, and near the minimiser the decrease a step brings falls below its
// rounding error long before the gradient is small: without the slack every line search
// there fails, and the solve stops short of the gradient tolerance. The curvature condition
// is on the derivative, which stays accurate, and it keeps sᵀy > 0 for the quasi-Newton
// update.
type wolfeSearch struct {
	f0, d0, step, lo, hi float64
	iters                int
}

const (
	wolfeC1       = 1e-4
	wolfeC2       = 0.9
	wolfeMaxIters = 60
	// wolfeSlack is the relative rounding allowance of the loss in the sufficient-decrease
	// test. A loss summed over N terms carries rounding of order √N·ε·|term| (measured: 2e-13
	// on pl over ising10's 55000 terms, loss 5.4), far above ε|f|.
	wolfeSlack = 1e-12
)

var errLinesearch = errors.New("line search: no step satisfies the Wolfe conditions (the loss may not be smooth, or the gradient may not be its gradient)")

// Init starts a search along a descent direction (derivative < 0).
func (w *wolfeSearch) Init(value, derivative, step float64) optimize.Operation {
	w.f0, w.d0, w.step, w.lo, w.hi, w.iters = value, derivative, step, 0, math.Inf(1), 0
	return optimize.FuncEvaluation | optimize.GradEvaluation
}

// Iterate takes φ(α) and φ′(α) at the last trial step and returns the next.
func (w *wolfeSearch) Iterate(value, derivative float64) (optimize.Operation, float64, error) {
	w.iters++
	slack := wolfeSlack * math.Max(1, math.Abs(w.f0))
	switch {
	case math.IsNaN(value) || math.IsNaN(derivative) || value > w.f0+wolfeC1*w.step*w.d0+slack:
		w.hi = w.step // too long
	case derivative < wolfeC2*w.d0:
		w.lo = w.step // too short
	default:
		return optimize.MajorIteration, w.step, nil
	}
	if w.iters >= wolfeMaxIters {
		return optimize.NoOperation, 0, errLinesearch
	}
	if math.IsInf(w.hi, 1) {
		w.step = 2 * w.lo
	} else {
		w.step = 0.5 * (w.lo + w.hi)
	}
	return optimize.FuncEvaluation | optimize.GradEvaluation, w.step, nil
}
