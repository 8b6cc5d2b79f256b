package eval

import (
	"fmt"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

func continuous(what string, spec framework.Spec) error {
	if spec.Domain != framework.Continuous {
		return fmt.Errorf("%s needs the score −∇ₓE, which a %s energy (%s) does not have: %w", what, spec.Domain, spec.Name, ErrUnsupported)
	}
	return nil
}

// ScoreMatchingLoss returns Hyvärinen's score-matching loss of the model on the rows of x,
//
//	J(θ) = mean over x of [½‖∇ₓE(x; θ)‖² − ΔₓE(x; θ)],
//
// which equals the Fisher divergence ½E‖∇ log p_data − ∇ log p_θ‖² up to a constant that does
// not depend on θ, so that on held-out data it compares models trained by any estimator.
// The Laplacian is exact when the energy has CapLaplacian and a finite difference otherwise
// (the Evaluator's fallback; Evaluator.Paths says which).
func ScoreMatchingLoss(ev *framework.Evaluator, theta []float64, x *mat.Dense) (float64, error) {
	if err := continuous("the score-matching loss", ev.Spec()); err != nil {
		return 0, err
	}
	var res framework.Result
	req := framework.Request{Outputs: framework.OutGradX | framework.OutLaplacian, X: x, Theta: theta}
	if err := ev.Evaluate(&req, &res); err != nil {
		return 0, fmt.Errorf("score-matching loss: %w", err)
	}
	n, _ := x.Dims()
	s := 0.0
	for i := 0; i < n; i++ {
		g := res.GradX.RawRowView(i)
		q := 0.0
		for _, v := range g {
			q += v * v
		}
		s += 0.5*q - res.Laplacian[i]
	}
	return s / float64(n), nil
}

// FisherDivergence returns the Fisher divergence of the model from a known target energy,
// estimated on the rows of x (which should be drawn from the target):
//
//	D_F = ½·mean over x of ‖∇ₓE(x; θ) − ∇ₓE_target(x; θ_target)‖².
//
// It is zero exactly when the two scores agree on the data.
func FisherDivergence(ev *framework.Evaluator, theta []float64, target *framework.Evaluator, targetTheta []float64, x *mat.Dense) (float64, error) {
	if err := continuous("the Fisher divergence", ev.Spec()); err != nil {
		return 0, err
	}
	if target.Spec().Dim != ev.Spec().Dim {
		return 0, fmt.Errorf("fisher divergence: the target %s has dimension %d, the model %d", target.Spec().Name, target.Spec().Dim, ev.Spec().Dim)
	}
	var rm, rt framework.Result
	if err := ev.Evaluate(&framework.Request{Outputs: framework.OutGradX, X: x, Theta: theta}, &rm); err != nil {
		return 0, fmt.Errorf("fisher divergence: model: %w", err)
	}
	if err := target.Evaluate(&framework.Request{Outputs: framework.OutGradX, X: x, Theta: targetTheta}, &rt); err != nil {
		return 0, fmt.Errorf("fisher divergence: target: %w", err)
	}
	n, _ := x.Dims()
	s := 0.0
	for i := 0; i < n; i++ {
		a, b := rm.GradX.RawRowView(i), rt.GradX.RawRowView(i)
		for j := range a {
			v := a[j] - b[j]
			s += v * v
		}
	}
	return 0.5 * s / float64(n), nil
}

// PseudoNLL returns the negative log pseudolikelihood of a binary or spin model on the rows of
// x, summed over coordinates and averaged over rows:
//
//	−mean over x of Σᵢ log p(xᵢ | x₋ᵢ),  log p(xᵢ | x₋ᵢ) = −softplus(E(x) − E(x̄⁽ⁱ⁾)),
//
// where x̄⁽ⁱ⁾ is x with coordinate i flipped. The energies of every row and its d flips go to
// the Evaluator in blocks of rows, (d + 1) rows per data row.
func PseudoNLL(ev *framework.Evaluator, theta []float64, x *mat.Dense) (float64, error) {
	spec := ev.Spec()
	if !spec.Domain.Discrete() {
		return 0, fmt.Errorf("pseudolikelihood: energy %s is %s; it is defined here for binary and spin energies: %w", spec.Name, spec.Domain, ErrUnsupported)
	}
	n, d := x.Dims()
	spin := spec.Domain == framework.Spin
	block := max(1, enumRows/(d+1))
	buf := mat.NewDense(min(block, n)*(d+1), d, nil)
	var res framework.Result
	total := 0.0
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		rows := (hi - lo) * (d + 1)
		b := buf
		if rows < buf.RawMatrix().Rows {
			b = buf.Slice(0, rows, 0, d).(*mat.Dense)
		}
		for r := lo; r < hi; r++ {
			src := x.RawRowView(r)
			for k := 0; k <= d; k++ {
				dst := b.RawRowView((r-lo)*(d+1) + k)
				copy(dst, src)
				if k > 0 {
					if spin {
						dst[k-1] = -dst[k-1]
					} else {
						dst[k-1] = 1 - dst[k-1]
					}
				}
			}
		}
		if err := ev.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: b, Theta: theta}, &res); err != nil {
			return 0, fmt.Errorf("pseudolikelihood: %w", err)
		}
		for r := 0; r < hi-lo; r++ {
			e := res.Energy[r*(d+1) : (r+1)*(d+1)]
			for k := 1; k <= d; k++ {
				total += numeric.Softplus(e[0] - e[k])
			}
		}
	}
	return total / float64(n), nil
}
