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
// Regularised score matching (Lin, Drton and Shojaie 2016): with l1 > 0 the loss is
// J(θ) + l1·Σ |θ_B| over the block B = l1_block, its off-diagonal entries when B is square (the
// Gaussian's W: the diagonal is never penalised), handled by a proximal soft threshold after
// each optimizer step (adam or sgd); Step returns the penalised loss and the gradient of J. The
// full path over the penalty with its selection is the trainer "graph".
//
// Reference: A. Hyvärinen, "Estimation of non-normalized statistical models by score
// matching", JMLR 6 (2005) 695–709.

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// ScoreMatching is the exact score-matching trainer (method "sm").
type ScoreMatching struct {
	closedForm bool
	l1         float64
	l1Block    string
	l1Off, l1D int // the penalised block's offset and side (0: not square)
	l1Size     int

	spec framework.Spec
	req  framework.Request
	res  framework.Result
	lapW []float64
}

// SMOptions are the TOML keys of the sm trainer.
type SMOptions struct {
	ClosedForm bool    `toml:"closed_form" help:"solve the normal equations in one step (energies linear in θ only)"`
	L1         float64 `toml:"l1" help:"L1 penalty weight on l1_block (its off-diagonal entries when square), by proximal steps (0 = off)"`
	L1Block    string  `toml:"l1_block" help:"the parameter block the L1 penalty acts on"`
}

// DefaultSMOptions returns the defaults: gradient steps, no penalty (on block W when l1 is set).
func DefaultSMOptions() SMOptions { return SMOptions{L1Block: "W"} }

// Validate checks the options.
func (o *SMOptions) Validate() error {
	switch {
	case !(o.L1 >= 0) || math.IsInf(o.L1, 0):
		return &framework.KeyError{Key: "l1", Msg: fmt.Sprintf("must be a finite number ≥ 0, got %v", o.L1)}
	case o.L1 > 0 && o.ClosedForm:
		return &framework.KeyError{Key: "l1", Msg: "the closed form has no L1 penalty: set closed_form = false (proximal steps with adam or sgd), or use method = \"graph\" for a path over the penalty"}
	}
	return nil
}

// NewScoreMatching returns an exact score-matching trainer.
func NewScoreMatching(o SMOptions) *ScoreMatching {
	return &ScoreMatching{closedForm: o.ClosedForm, l1: o.L1, l1Block: o.L1Block}
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
	if t.l1 > 0 {
		off, size, ok := t.spec.BlockOffset(t.l1Block)
		if !ok {
			return fmt.Errorf("sm: %w", &framework.KeyError{Key: "l1_block", Msg: fmt.Sprintf(
				"energy %s has no parameter block %q; its blocks are %s", t.spec.Name, t.l1Block, plBlockNames(t.spec))})
		}
		t.l1Off, t.l1Size, t.l1D = off, size, 0
		if d := int(math.Round(math.Sqrt(float64(size)))); d*d == size {
			t.l1D = d
		}
	}
	return nil
}

// penalty returns l1·Σ|θ_B| over the penalised entries.
func (t *ScoreMatching) penalty(theta []float64) float64 {
	if t.l1 <= 0 {
		return 0
	}
	s := 0.0
	for k, v := range theta[t.l1Off : t.l1Off+t.l1Size] {
		if t.l1D > 0 && k/t.l1D == k%t.l1D {
			continue
		}
		s += math.Abs(v)
	}
	return t.l1 * s
}

// Prox soft-thresholds the penalised entries by lr·l1; it does nothing without a penalty.
func (t *ScoreMatching) Prox(theta []float64, lr float64) {
	if t.l1 <= 0 {
		return
	}
	b := theta[t.l1Off : t.l1Off+t.l1Size]
	for k := range b {
		if t.l1D > 0 && k/t.l1D == k%t.l1D {
			continue
		}
		b[k] = softThreshold1(b[k], lr*t.l1)
	}
}

// softThreshold1 returns sign(x)·max(|x| − c, 0).
func softThreshold1(x, c float64) float64 {
	switch {
	case x > c:
		return x - c
	case x < -c:
		return x + c
	}
	return 0
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
	return loss + t.penalty(theta), nil
}

// ClosedForm reports whether the trainer was configured to solve the loss directly.
func (t *ScoreMatching) ClosedForm() bool { return t.closedForm }

func registerSM(r *framework.Registry) {
	r.Trainers["sm"] = framework.NewEntry("sm", "exact score matching (Hyvärinen 2005): mean ½‖∇ₓE‖² − ΔₓE; closed form for energies linear in θ",
		DefaultSMOptions, func(o SMOptions, _ framework.Env) (framework.Trainer, error) { return NewScoreMatching(o), nil })
}
