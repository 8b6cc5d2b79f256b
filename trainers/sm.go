package trainers

// Exact score matching (Hyvärinen 2005).
//
// Loss. For a model p(x; θ) ∝ exp(−E(x; θ)) with score s = −∇ₓE, the Fisher divergence to
// the data distribution equals, up to a constant independent of θ, the expectation over the
// data of ½‖s‖² + tr ∇ₓs. In terms of the energy, on a batch of n rows,
//
//	J(θ) = (1/n) Σᵢ [ ½‖∇ₓE(xᵢ)‖² − ΔₓE(xᵢ) ].
//
// Gradient. ∇θ ½‖∇ₓE(xᵢ)‖² = ∇θ uᵢᵀ∇ₓE(xᵢ) with uᵢ = ∇ₓE(xᵢ) held fixed: the mixed product
// with MixedSelf = 1/n. ∇θ ΔₓE(xᵢ) is the Laplacian VJP, here with weights −1/n. So one
// request asks for GradX | Laplacian | Mixed | LaplacianVJP and the gradient is Mixed +
// LaplacianVJP.
//
// Assumptions: x ∈ ℝ^d, E twice differentiable in x, and the data density vanishing fast
// enough at infinity for the integration by parts (Hyvärinen's regularity conditions).
//
// Closed form. When E(x; θ) = θᵀT(x) + c(x) (framework.LinearEnergy), ∇ₓE = Jᵀθ + ∇ₓc with
// J = ∇ₓT(x) (p×d) and ΔₓE = θᵀΔₓT + Δₓc, so
//
//	J(θ) = ½ θᵀAθ + θᵀb + const,  A = mean J Jᵀ,  b = mean [J ∇ₓc − ΔₓT],
//
// minimised by A θ = −b (sm_closed.go).
//
// Reference: A. Hyvärinen, "Estimation of non-normalized statistical models by score
// matching", JMLR 6 (2005) 695–709.

import (
	"fmt"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// ScoreMatching is the exact score-matching trainer (method "sm").
type ScoreMatching struct {
	closedForm bool

	spec framework.Spec
	req  framework.Request
	res  framework.Result
	lapW []float64
}

// SMOptions are the TOML keys of the sm trainer.
type SMOptions struct {
	ClosedForm bool `toml:"closed_form" help:"solve the normal equations in one step (energies linear in θ only)"`
}

// NewScoreMatching returns an exact score-matching trainer.
func NewScoreMatching(o SMOptions) *ScoreMatching {
	return &ScoreMatching{closedForm: o.ClosedForm}
}

// Init checks that the energy is continuous and, for the closed form, linear in θ.
func (t *ScoreMatching) Init(ctx *framework.TrainContext) error {
	t.spec = ctx.Eval.Spec()
	if err := requireContinuous("sm", t.spec); err != nil {
		return err
	}
	if t.closedForm {
		if _, err := linearEnergy(ctx.Eval); err != nil {
			return err
		}
	}
	return nil
}

// Step returns the score-matching loss J on batch at θ and writes ∇θJ into grad if it is not
// nil, from one request to the energy.
func (t *ScoreMatching) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	spec := ctx.Eval.Spec()
	if err := checkStep("sm", batch, spec.Dim, theta, grad, spec.NumParams()); err != nil {
		return 0, err
	}
	n, _ := batch.Dims()
	inv := 1 / float64(n)
	t.req = framework.Request{Outputs: framework.OutGradX | framework.OutLaplacian, X: batch, Theta: theta}
	if grad != nil {
		t.lapW = fill(numeric.Resize(t.lapW, n), -inv)
		t.req.Outputs |= framework.OutMixed | framework.OutLaplacianVJP
		t.req.MixedSelf = inv
		t.req.LapWeights = t.lapW
	}
	if err := ctx.Eval.Evaluate(&t.req, &t.res); err != nil {
		return 0, fmt.Errorf("sm: %w", err)
	}
	loss := 0.0
	for i := 0; i < n; i++ {
		g := t.res.GradX.RawRowView(i)
		sq := 0.0
		for _, v := range g {
			sq += v * v
		}
		loss += 0.5*sq - t.res.Laplacian[i]
	}
	loss *= inv
	for j := range grad {
		grad[j] = t.res.Mixed[j] + t.res.LaplacianVJP[j]
	}
	return loss, nil
}

// ClosedForm reports whether the trainer was configured to solve the loss directly.
func (t *ScoreMatching) ClosedForm() bool { return t.closedForm }

func registerSM(r *framework.Registry) {
	r.Trainers["sm"] = framework.NewEntry("sm", "exact score matching (Hyvärinen 2005): mean ½‖∇ₓE‖² − ΔₓE; closed form for energies linear in θ",
		func() SMOptions { return SMOptions{} }, func(o SMOptions, _ framework.Env) (framework.Trainer, error) { return NewScoreMatching(o), nil })
}
