package trainers

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// requireContinuous returns an error wrapping framework.ErrUnsupportedDomain unless the
// energy lives on ℝ^d: the estimators that differentiate in x, or draw continuous noise,
// cannot work on discrete data.
func requireContinuous(method string, spec framework.Spec) error {
	if spec.Domain == framework.Continuous {
		return nil
	}
	return fmt.Errorf("%s: energy %s has %s domain, but %s needs a continuous one (use pl or rm for discrete data): %w",
		method, spec.Name, spec.Domain, method, framework.ErrUnsupportedDomain)
}

// checkStep checks the shapes of a Step call: a non-empty batch of dimension d and, when
// grad is not nil, len(grad) = len(θ) = p.
func checkStep(method string, batch *mat.Dense, d int, theta, grad []float64, p int) error {
	if batch == nil {
		return fmt.Errorf("%s: nil batch", method)
	}
	n, c := batch.Dims()
	if n == 0 {
		return fmt.Errorf("%s: empty batch", method)
	}
	if c != d {
		return fmt.Errorf("%s: %w", method, &framework.ShapeError{What: "batch", Want: fmt.Sprintf("n×%d", d), Got: fmt.Sprintf("%d×%d", n, c)})
	}
	if len(theta) != p {
		return fmt.Errorf("%s: %w", method, &framework.ShapeError{What: "θ", Want: fmt.Sprint(p), Got: fmt.Sprint(len(theta))})
	}
	if grad != nil && len(grad) != p {
		return fmt.Errorf("%s: %w", method, &framework.ShapeError{What: "gradient", Want: fmt.Sprint(p), Got: fmt.Sprint(len(grad))})
	}
	return nil
}

// fill sets every element of s to v and returns s.
func fill(s []float64, v float64) []float64 {
	for i := range s {
		s[i] = v
	}
	return s
}
