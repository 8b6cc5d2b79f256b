package check

import "github.com/goebm/goebm/framework"

// Options tunes a check. The zero value gives the documented defaults.
type Options struct {
	// Outputs restricts the derivative checks to these outputs; zero means every output
	// the energy computes exactly. Asking for an output the energy does not compute
	// exactly is an error.
	Outputs framework.Output
	// Step is the finite-difference step, scaled by max(1, |coordinate|); zero means 1e-3.
	Step float64
	// Tol bounds the relative error |got − want| / max(|want|, Floor) of every derivative;
	// zero means 1e-6.
	Tol float64
	// Floor is the denominator floor of the relative error, so that entries near zero are
	// judged by their absolute error; zero means 1.
	Floor float64
	// BatchTol bounds the relative difference between the batch and the rows evaluated
	// one at a time (θ-sized outputs are sums whose order may differ); zero means 1e-10.
	BatchTol float64
	// MixedSelf is the coefficient of ∇ₓE in the mixed product's direction; zero means 0.5.
	MixedSelf float64
	// Seed seeds the random weights and directions.
	Seed uint64
	// ThetaDirections, when positive, checks θ-derivatives along that many random unit
	// directions instead of along every coordinate (for energies with many parameters).
	ThetaDirections int
	// Goroutines is the number of concurrent Evaluate calls of the concurrency check;
	// zero means 4, negative skips the check.
	Goroutines int

	// FallbackTol bounds the relative error of the Evaluator's first-difference fallbacks
	// (mixed, laplacian, hvp) in Fallback; zero means 1e-5. With the Evaluator's step
	// h = 1e-4 their truncation error is h²/6·|f‴| ≈ 2e-9|f‴| and their rounding error
	// ε|f|/h ≈ 2e-12|f|.
	FallbackTol float64
	// FallbackTol2 bounds the relative error of the second-difference fallback
	// (laplacian_vjp); zero means 1e-3. Its rounding error is about 4ε|f|/h² ≈ 1e-7|f|
	// per axis, where f = Σᵢ vᵢ∇θE(xᵢ) grows with the batch, and its truncation error is
	// h²/12·|f⁗|.
	FallbackTol2 float64
	// EvaluatorStep is the Evaluator's FDStep in Fallback; zero means the Evaluator's default.
	EvaluatorStep float64
}

func (o Options) withDefaults() Options {
	if o.Step == 0 {
		o.Step = 1e-3
	}
	if o.Tol == 0 {
		o.Tol = 1e-6
	}
	if o.Floor == 0 {
		o.Floor = 1
	}
	if o.BatchTol == 0 {
		o.BatchTol = 1e-10
	}
	if o.MixedSelf == 0 {
		o.MixedSelf = 0.5
	}
	if o.Goroutines == 0 {
		o.Goroutines = 4
	}
	if o.FallbackTol == 0 {
		o.FallbackTol = 1e-5
	}
	if o.FallbackTol2 == 0 {
		o.FallbackTol2 = 1e-3
	}
	return o
}
