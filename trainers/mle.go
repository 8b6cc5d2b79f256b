package trainers

// Exact maximum likelihood (method "mle") for energies whose log-partition function is
// tractable: the baseline every other estimator is compared with.
//
// Loss: the mean negative log-likelihood L(θ) = (1/n) Σᵣ E(xᵣ; θ) + log Z(θ), with gradient
// (1/n) Σᵣ ∇θE(xᵣ) − E_θ[∇θE]. log Z and E_θ[∇θE] come from
//
//   - the energy itself when it implements framework.Partitioner: the Gaussian in closed form,
//     an RBM with at most 20 hidden units by summing them out;
//   - otherwise, for binary and spin energies of dimension d ≤ 20, enumeration of the 2^d
//     states through the Evaluator: one energy pass over the states gives log Z and the model
//     probabilities, one parameter VJP with weights −p(s) gives −E_θ[∇θE].
//
// For the Gaussian energy the minimiser is also solved in closed form (ClosedForm: W = S⁻¹,
// b = W x̄ with S the 1/n sample covariance), so "mle" trains it in one step.
//
// The loss is a deterministic function of θ: use it with lbfgs or newton (framework.NoiseFixer
// is a no-op) or with adam. Its per-observation terms ψᵣ = (∇θE(xᵣ) − E_θ[∇θE])/n give the
// standard errors (framework.RowGrader), which at the MLE are the inverse Fisher information
// up to the sandwich's robustness to misspecification.

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// MaxEnumerateMLE is the largest dimension whose 2^d states the mle trainer enumerates.
const MaxEnumerateMLE = 20

// MLEOptions are the [trainer] keys of method "mle". It has none.
type MLEOptions struct{}

// MaximumLikelihood is the mle trainer. It keeps workspaces between steps, so it is not safe
// for concurrent use.
type MaximumLikelihood struct {
	spec   framework.Spec
	part   framework.Partitioner // nil: enumeration
	states *mat.Dense
	gauss  bool

	gz  []float64
	req framework.Request
	res framework.Result
	w   []float64
}

// NewMaximumLikelihood returns the mle trainer.
func NewMaximumLikelihood() *MaximumLikelihood { return &MaximumLikelihood{} }

func registerMLE(r *framework.Registry) {
	r.Trainers["mle"] = framework.NewEntry("mle", "exact maximum likelihood: mean E + log Z with log Z tractable (gaussian in closed form, rbm with ≤ 20 hidden units, binary/spin energies with d ≤ 20 by enumeration)",
		func() MLEOptions { return MLEOptions{} }, func(MLEOptions, framework.Env) (framework.Trainer, error) { return NewMaximumLikelihood(), nil })
}

// Init picks how log Z is computed, or says why it cannot be.
func (t *MaximumLikelihood) Init(ctx *framework.TrainContext) error {
	t.spec = ctx.Eval.Spec()
	if p, ok := ctx.Eval.Energy().(framework.Partitioner); ok {
		t.part = p
		b := t.spec.Blocks
		t.gauss = t.spec.Domain == framework.Continuous && t.spec.Caps.Has(framework.CapLinear) && len(b) == 2 &&
			(b[0].Name == "W" || b[0].Name == "w") && b[1].Name == "b"
		return nil
	}
	d := t.spec.Dim
	if !t.spec.Domain.Discrete() || d > MaxEnumerateMLE {
		return fmt.Errorf("mle: energy %s (%s, dimension %d) has no tractable log Z: mle needs an energy that computes it (gaussian, rbm with ≤ %d hidden units) or a binary or spin energy of dimension ≤ %d; use pl, rm, sm or nce instead: %w",
			t.spec.Name, t.spec.Domain, d, 20, MaxEnumerateMLE, framework.ErrUnsupportedDomain)
	}
	t.states = mat.NewDense(1<<d, d, nil)
	for k := 0; k < 1<<d; k++ {
		t.spec.Domain.State(t.states.RawRowView(k), uint64(k))
	}
	return nil
}

// FixNoise does nothing: the likelihood draws no noise.
func (t *MaximumLikelihood) FixNoise(uint64) {}

// logZ returns log Z at θ and, when grad is not nil, writes ∇θ log Z into it.
func (t *MaximumLikelihood) logZ(ev *framework.Evaluator, theta, grad []float64) (float64, error) {
	if t.part != nil {
		return t.part.LogPartition(theta, grad)
	}
	t.req = framework.Request{Outputs: framework.OutEnergy, X: t.states, Theta: theta}
	if err := ev.Evaluate(&t.req, &t.res); err != nil {
		return 0, err
	}
	t.w = resizeFloats(t.w, len(t.res.Energy))
	for k, e := range t.res.Energy {
		t.w[k] = -e
	}
	lz := floats.LogSumExp(t.w)
	if grad == nil {
		return lz, nil
	}
	for k, v := range t.w {
		t.w[k] = -math.Exp(v - lz) // −p(s): ∇ log Z = −Σ p(s)∇θE(s)
	}
	t.req = framework.Request{Outputs: framework.OutParamVJP, X: t.states, Theta: theta, Weights: t.w}
	if err := ev.Evaluate(&t.req, &t.res); err != nil {
		return 0, err
	}
	copy(grad, t.res.ParamVJP)
	return lz, nil
}

// Step returns the mean negative log-likelihood of batch and, when grad is not nil, its gradient.
func (t *MaximumLikelihood) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	p := t.spec.NumParams()
	if err := checkStep("mle", batch, t.spec.Dim, theta, grad, p); err != nil {
		return 0, err
	}
	n, _ := batch.Dims()
	t.gz = resizeFloats(t.gz, p)
	var gz []float64
	if grad != nil {
		gz = t.gz
	}
	lz, err := t.logZ(ctx.Eval, theta, gz)
	if err != nil {
		return 0, fmt.Errorf("mle: %w", err)
	}
	out := framework.OutEnergy
	if grad != nil {
		out |= framework.OutParamVJP
	}
	t.w = resizeFloats(t.w, n)
	fill(t.w, 1/float64(n))
	t.req = framework.Request{Outputs: out, X: batch, Theta: theta, Weights: t.w}
	if err := ctx.Eval.Evaluate(&t.req, &t.res); err != nil {
		return 0, fmt.Errorf("mle: %w", err)
	}
	loss := lz
	for _, e := range t.res.Energy {
		loss += e / float64(n)
	}
	for k := range grad {
		grad[k] = t.res.ParamVJP[k] + gz[k]
	}
	return loss, nil
}

// RowGrads returns ψᵣ = (∇θE(xᵣ) + ∇θ log Z)/n.
func (t *MaximumLikelihood) RowGrads(ctx *framework.StepContext, batch *mat.Dense, theta []float64) (*framework.RowGrads, error) {
	p := t.spec.NumParams()
	gz := make([]float64, p)
	if _, err := t.logZ(ctx.Eval, theta, gz); err != nil {
		return nil, fmt.Errorf("mle: %w", err)
	}
	pj, err := paramJac(ctx.Eval, batch, theta)
	if err != nil {
		return nil, fmt.Errorf("mle: %w", err)
	}
	n, _ := batch.Dims()
	g := mat.NewDense(n, p, nil)
	for r := 0; r < n; r++ {
		row := g.RawRowView(r)
		for k, v := range pj.RawRowView(r) {
			row[k] = (v + gz[k]) / float64(n)
		}
	}
	return &framework.RowGrads{G: g, Groups: []int{n}}, nil
}

// ClosedForm reports whether the energy is the Gaussian, whose MLE is solved directly.
func (t *MaximumLikelihood) ClosedForm() bool { return t.gauss }

// Solve writes the Gaussian MLE, W = S⁻¹ (stored as A = W) and b = W x̄, into theta.
func (t *MaximumLikelihood) Solve(ctx *framework.TrainContext, theta []float64) (float64, error) {
	if !t.gauss {
		return 0, errors.New("mle: no closed form for this energy")
	}
	mu, cov := weightedMoments(ctx.Train, nil)
	var chol mat.Cholesky
	if !chol.Factorize(cov) {
		return 0, fmt.Errorf("mle: the sample covariance is singular (fewer rows than dimensions, or collinear columns): %w", framework.ErrNotNormalisable)
	}
	var w mat.SymDense
	if err := chol.InverseTo(&w); err != nil {
		return 0, fmt.Errorf("mle: %w", err)
	}
	d := t.spec.Dim
	woff, boff := 0, t.spec.Blocks[0].Size()
	diag := t.spec.Blocks[0].Size() == d
	for k := 0; k < d; k++ {
		bk := 0.0
		for l := 0; l < d; l++ {
			bk += w.At(k, l) * mu[l]
			if !diag {
				theta[woff+k*d+l] = w.At(k, l)
			}
		}
		if diag {
			theta[woff+k] = 1 / cov.At(k, k)
			bk = mu[k] / cov.At(k, k)
		}
		theta[boff+k] = bk
	}
	return t.Step(&framework.StepContext{Eval: ctx.Eval}, ctx.Train, theta, nil)
}

func resizeFloats(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
