package trainers

// Ratio matching (Hyvärinen 2007, §3) for binary {0,1}^d and spin {−1,+1}^d data. With
// x⁽ⁱ⁾ the point x with coordinate i flipped and g(u) = 1/(1+u), the sample objective is
//
//	J(θ) = (1/n) Σ_r Σᵢ g( p(x_r; θ) / p(x_r⁽ⁱ⁾; θ) )².
//
// Sign: with p ∝ exp(−E), p(x)/p(x⁽ⁱ⁾) = exp(E(x⁽ⁱ⁾) − E(x)), so
//
//	g = 1/(1 + exp(E(x⁽ⁱ⁾) − E(x))) = σ(E(x) − E(x⁽ⁱ⁾)) =: qᵢ,
//
// the model's conditional probability of the flipped value given x₋ᵢ. J is small when each
// data point has lower energy than its one-bit neighbours, as it should. Hyvärinen shows
// that J equals, up to a θ-free constant, the expected squared difference between the
// model's and the data's g-ratios (of both x and x⁽ⁱ⁾), so its minimiser is consistent;
// like pseudolikelihood it never needs log Z.
//
// Gradient: d(σ(z)²)/dz = 2q²(1−q), z = E(x) − E(x⁽ⁱ⁾), so with cᵢ = 2qᵢ²(1−qᵢ)/n
//
//	∇θJ = Σ_r [ (Σᵢ cᵢ) ∇θE(x_r) − Σᵢ cᵢ ∇θE(x_r⁽ⁱ⁾) ],
//
// one ParamVJP request on the stacked batch [x_r; x_r⁽¹⁾; …; x_r⁽ᵈ⁾] of n·(d+1) rows after one
// energy request on the same stack (two passes for the reason given in pl.go: the weights
// depend on the energies).
//
// Assumptions: the energy's domain is binary or spin and the data lie in it. Continuous
// data are refused; use a score-matching estimator (sm, dsm, ssm), nce, or pl with a
// quadrature grid there.
//
// Reference: A. Hyvärinen, "Some extensions of score matching", Computational Statistics &
// Data Analysis 51 (2007) 2499–2512; also B. Marlin et al., "Inductive principles for
// restricted Boltzmann machine learning", AISTATS 2010.

import (
	"fmt"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// RMOptions are the [trainer] keys of method "rm". It has none yet.
type RMOptions struct{}

func registerRM(r *framework.Registry) {
	r.Trainers["rm"] = framework.NewEntry("rm", "ratio matching (Hyvärinen 2007) for binary/spin data: mean Σᵢ σ(E(x) − E(x with bit i flipped))², exact over one-bit flips",
		func() RMOptions { return RMOptions{} }, func(RMOptions, framework.Env) (framework.Trainer, error) { return NewRatioMatching(), nil })
}

// RatioMatching is the rm trainer. It keeps its workspaces between steps, so it is not safe
// for concurrent use.
type RatioMatching struct {
	spec framework.Spec

	stack *mat.Dense
	req   framework.Request
	res   framework.Result
	w     []float64
}

// NewRatioMatching returns an rm trainer.
func NewRatioMatching() *RatioMatching { return &RatioMatching{} }

// Init checks that the energy is binary or spin and the training data lie in its domain.
func (t *RatioMatching) Init(ctx *framework.TrainContext) error {
	t.spec = ctx.Eval.Spec()
	if !t.spec.Domain.Discrete() {
		return fmt.Errorf("rm: energy %s has %v domain: %w: ratio matching needs binary or spin data; "+
			"for continuous data use sm, dsm or ssm (score matching), nce, or pl with a quadrature grid",
			t.spec.Name, t.spec.Domain, framework.ErrUnsupportedDomain)
	}
	if ctx.Train != nil {
		if err := plCheckDomain(ctx.Train, t.spec.Domain, "training data"); err != nil {
			return fmt.Errorf("rm: energy %s: %w", t.spec.Name, err)
		}
	}
	return nil
}

// Paths reports how the trainer computes its loss, for the run summary.
func (t *RatioMatching) Paths() map[string]string {
	return map[string]string{"rm_ratios": "exact (enumerated one-bit flips)"}
}

// Step returns the ratio-matching objective of batch at θ and, when grad is not nil, its
// gradient.
func (t *RatioMatching) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	p := t.spec.NumParams()
	if len(theta) < p {
		return 0, fmt.Errorf("rm: θ has %d parameters, energy %s needs %d", len(theta), t.spec.Name, p)
	}
	if grad != nil && len(grad) != len(theta) {
		return 0, fmt.Errorf("rm: gradient has length %d, θ has %d", len(grad), len(theta))
	}
	n, d := batch.Dims()
	if n == 0 {
		return 0, fmt.Errorf("rm: empty batch")
	}
	if err := plCheckDomain(batch, t.spec.Domain, "batch"); err != nil {
		return 0, fmt.Errorf("rm: energy %s: %w", t.spec.Name, err)
	}
	theta = theta[:p]
	t.stack = plFlipStack(t.stack, batch, t.spec.Domain)
	e, err := plStackEnergies(ctx.Eval, &t.req, &t.res, t.stack, theta)
	if err != nil {
		return 0, fmt.Errorf("rm: %w", err)
	}
	t.w = numeric.Resize(t.w, len(e))
	inv := 1 / float64(n)
	loss := 0.0
	for r := 0; r < n; r++ {
		base := r * (d + 1)
		e0 := e[base]
		sum := 0.0
		for i := 1; i <= d; i++ {
			q := numeric.Sigmoid(e0 - e[base+i])
			loss += q * q
			c := 2 * q * q * (1 - q) * inv
			sum += c
			t.w[base+i] = -c
		}
		t.w[base] = sum
	}
	loss *= inv
	if grad == nil {
		return loss, nil
	}
	if err := plStackVJP(ctx.Eval, &t.req, &t.res, t.stack, theta, t.w, grad); err != nil {
		return 0, fmt.Errorf("rm: %w", err)
	}
	return loss, nil
}
