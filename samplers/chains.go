package samplers

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// checkChains validates c for sampler name and returns its number of chains and dimension.
func checkChains(name string, s framework.Sampler, c *framework.Chains) (n, d int, err error) {
	if c == nil || c.X == nil || c.Eval == nil {
		return 0, 0, fmt.Errorf("%s: chains need states X and an Evaluator", name)
	}
	spec := c.Eval.Spec()
	if err := s.Supports(spec); err != nil {
		return 0, 0, err
	}
	n, d = c.X.Dims()
	if d != spec.Dim {
		return 0, 0, fmt.Errorf("%s: %w", name, &framework.ShapeError{What: "chain states X",
			Want: fmt.Sprintf("n×%d", spec.Dim), Got: fmt.Sprintf("%d×%d", n, d)})
	}
	if len(c.RNG) < n {
		return 0, 0, fmt.Errorf("%s: %d chains but %d random streams", name, n, len(c.RNG))
	}
	if len(c.Theta) != spec.NumParams() {
		return 0, 0, fmt.Errorf("%s: %w", name, &framework.ShapeError{What: "θ",
			Want: fmt.Sprint(spec.NumParams()), Got: fmt.Sprint(len(c.Theta))})
	}
	return n, d, nil
}

// continuousOnly is the Supports of the gradient-based samplers.
func continuousOnly(name string, spec framework.Spec) error {
	if spec.Domain != framework.Continuous {
		return fmt.Errorf("%s needs ∇ₓE, which a %s energy (%s) does not have; use method = \"gibbs\": %w",
			name, spec.Domain, spec.Name, framework.ErrUnsupportedDomain)
	}
	return nil
}

// dense returns an n×d matrix that reuses m's storage when it is large enough.
func dense(m *mat.Dense, n, d int) *mat.Dense {
	if m != nil {
		if r, c := m.Dims(); r == n && c == d {
			return m
		}
		if raw := m.RawMatrix().Data; cap(raw) >= n*d {
			return mat.NewDense(n, d, raw[:n*d])
		}
	}
	return mat.NewDense(n, d, nil)
}

// vec returns a slice of length n that reuses s's storage when it is large enough.
func vec(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// stateCache remembers the chain states and θ at which a sampler last knew E and ∇ₓE, so a
// Run that continues where the previous one stopped does not evaluate them again. It
// compares bits, so any change made between runs (a PCD re-initialisation, a new θ after an
// optimizer step) is noticed.
type stateCache struct {
	eval  *framework.Evaluator
	x     []float64
	theta []float64
	n, d  int
	valid bool
}

// matches reports whether c is at the cached state.
func (s *stateCache) matches(c *framework.Chains) bool {
	if !s.valid || s.eval != c.Eval || len(s.theta) != len(c.Theta) {
		return false
	}
	n, d := c.X.Dims()
	if n != s.n || d != s.d {
		return false
	}
	for i, v := range c.Theta {
		if math.Float64bits(v) != math.Float64bits(s.theta[i]) {
			return false
		}
	}
	raw := c.X.RawMatrix()
	for i := 0; i < n; i++ {
		row, cached := raw.Data[i*raw.Stride:i*raw.Stride+d], s.x[i*d:(i+1)*d]
		for j, v := range row {
			if math.Float64bits(v) != math.Float64bits(cached[j]) {
				return false
			}
		}
	}
	return true
}

// store records the current state of c.
func (s *stateCache) store(c *framework.Chains) {
	n, d := c.X.Dims()
	s.eval, s.n, s.d = c.Eval, n, d
	s.theta = append(s.theta[:0], c.Theta...)
	s.x = vec(s.x, n*d)
	raw := c.X.RawMatrix()
	for i := 0; i < n; i++ {
		copy(s.x[i*d:(i+1)*d], raw.Data[i*raw.Stride:i*raw.Stride+d])
	}
	s.valid = true
}

// setEnergy publishes the energies e of the current states in c.Energy.
func setEnergy(c *framework.Chains, e []float64) {
	c.Energy = vec(c.Energy, len(e))
	copy(c.Energy, e)
}

// forgetEnergy marks c.Energy as unknown (length zero, storage kept).
func forgetEnergy(c *framework.Chains) { c.Energy = c.Energy[:0] }

// acceptProb returns min(1, exp(logR)), with 0 for NaN.
func acceptProb(logR float64) float64 {
	switch {
	case math.IsNaN(logR):
		return 0
	case logR >= 0:
		return 1
	}
	return math.Exp(logR)
}

// wrap sets m to the n×d matrix over data (contiguous rows) without allocating.
func wrap(m *mat.Dense, data []float64, n, d int) *mat.Dense {
	m.SetRawMatrix(blas64.General{Rows: n, Cols: d, Stride: d, Data: data[:n*d]})
	return m
}
