package trainers

// Denoising score matching (Vincent 2011; multi-σ as in Song and Ermon 2019).
//
// Loss. Corrupt each point x with Gaussian noise, x̃ = x + σε, ε ~ N(0, I). The score of the
// corruption kernel is ∇ log q(x̃|x) = −ε/σ, and DSM regresses the model score s = −∇ₓE on it:
//
//	ℓ(σ) = mean over points and draws of ½‖s(x̃) + ε/σ‖² = ½‖∇ₓE(x̃) − ε/σ‖²,
//
// the convention of the PyTorch peer (no σ² factor). With a list of levels σ₁..σ_L (option
// sigmas, or sigma_max, sigma_min and levels for a geometric list from σ_max down to σ_min)
// the loss is Σₗ σₗ² ℓ(σₗ): each level weighted by σ² so that the levels contribute on the
// same scale (Song and Ermon's λ(σ) = σ², summed rather than averaged over levels). The same
// energy serves every level; it takes no σ input.
//
// Gradient. ∇θ ½‖gᵣ − εᵣ/σ‖² with gᵣ = ∇ₓE(x̃ᵣ) is the mixed product with uᵣ = gᵣ − εᵣ/σ held
// fixed: per level, one request for GradX | Mixed with MixedSelf = c and U = −c·ε/σ, where
// c = λ/(n·draws).
//
// Assumptions: x ∈ ℝ^d, E differentiable in x. DSM estimates the score of the noisy data
// distribution, so its optimum is biased by σ (for a Gaussian model: the precision of
// N(μ̂, Σ̂ + σ²I)).
//
// Randomness: ctx.RNG draws, for each level in order, for each point, for each draw, d
// standard normals.
//
// References: P. Vincent, "A connection between score matching and denoising autoencoders",
// Neural Computation 23 (2011) 1661–1674. Y. Song and S. Ermon, "Generative modeling by
// estimating gradients of the data distribution", NeurIPS 2019.

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// DenoisingScoreMatching is the denoising score-matching trainer (method "dsm").
type DenoisingScoreMatching struct {
	fixedNoise

	sigmas  []float64
	weights []float64
	draws   int

	xt, eps, u *mat.Dense
	req        framework.Request
	res        framework.Result
}

// DSMOptions are the TOML keys of the dsm trainer.
type DSMOptions struct {
	Sigma    float64   `toml:"sigma" help:"noise scale σ (single level; unweighted loss)"`
	Draws    int       `toml:"draws" help:"noise draws per point and level"`
	Sigmas   []float64 `toml:"sigmas" help:"explicit noise levels; each weighted by σ², summed (overrides sigma)"`
	SigmaMax float64   `toml:"sigma_max" help:"largest σ of a geometric list (with sigma_min and levels)"`
	SigmaMin float64   `toml:"sigma_min" help:"smallest σ of a geometric list (with sigma_max and levels)"`
	Levels   int       `toml:"levels" help:"number of levels of a geometric list from sigma_max to sigma_min; 0 means none"`
}

// DefaultDSMOptions returns σ = 0.1 with one draw per point.
func DefaultDSMOptions() DSMOptions { return DSMOptions{Sigma: 0.1, Draws: 1} }

func positiveFinite(v float64) bool { return v > 0 && !math.IsInf(v, 0) }

// Validate checks the ranges and the combination of the options.
func (o *DSMOptions) Validate() error {
	if !positiveFinite(o.Sigma) {
		return &framework.KeyError{Key: "sigma", Msg: fmt.Sprintf("must be positive and finite, got %v", o.Sigma)}
	}
	if o.Draws < 1 {
		return &framework.KeyError{Key: "draws", Msg: fmt.Sprintf("must be at least 1, got %d", o.Draws)}
	}
	for _, s := range o.Sigmas {
		if !positiveFinite(s) {
			return &framework.KeyError{Key: "sigmas", Msg: fmt.Sprintf("every level must be positive and finite, got %v", s)}
		}
	}
	geometric := o.Levels != 0 || o.SigmaMax != 0 || o.SigmaMin != 0
	if !geometric {
		return nil
	}
	switch {
	case len(o.Sigmas) > 0:
		return &framework.KeyError{Key: "sigmas", Msg: "give either sigmas or sigma_max, sigma_min and levels, not both"}
	case o.Levels < 2:
		return &framework.KeyError{Key: "levels", Msg: fmt.Sprintf("a geometric list needs levels ≥ 2 (with sigma_max and sigma_min), got %d", o.Levels)}
	case !positiveFinite(o.SigmaMin):
		return &framework.KeyError{Key: "sigma_min", Msg: fmt.Sprintf("must be positive and finite, got %v", o.SigmaMin)}
	case !positiveFinite(o.SigmaMax) || o.SigmaMax <= o.SigmaMin:
		return &framework.KeyError{Key: "sigma_max", Msg: fmt.Sprintf("must be finite and greater than sigma_min = %v, got %v", o.SigmaMin, o.SigmaMax)}
	}
	return nil
}

// Levels returns the noise levels and their weights that the options describe.
func (o *DSMOptions) levels() (sigmas, weights []float64) {
	switch {
	case len(o.Sigmas) > 0:
		sigmas = append(sigmas, o.Sigmas...)
	case o.Levels >= 2:
		r := o.SigmaMin / o.SigmaMax
		for l := 0; l < o.Levels; l++ {
			sigmas = append(sigmas, o.SigmaMax*math.Pow(r, float64(l)/float64(o.Levels-1)))
		}
	default:
		return []float64{o.Sigma}, []float64{1}
	}
	for _, s := range sigmas {
		weights = append(weights, s*s)
	}
	return sigmas, weights
}

// NewDenoisingScoreMatching returns a DSM trainer.
func NewDenoisingScoreMatching(o DSMOptions) (*DenoisingScoreMatching, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("dsm: %w", err)
	}
	s, w := o.levels()
	return &DenoisingScoreMatching{sigmas: s, weights: w, draws: o.Draws}, nil
}

// Sigmas returns the noise levels and their loss weights.
func (t *DenoisingScoreMatching) Sigmas() (sigmas, weights []float64) {
	return append([]float64(nil), t.sigmas...), append([]float64(nil), t.weights...)
}

// Init checks that the energy is continuous.
func (t *DenoisingScoreMatching) Init(ctx *framework.TrainContext) error {
	return requireContinuous("dsm", ctx.Eval.Spec())
}

// Step returns the DSM loss on batch at θ with fresh noise from ctx.RNG, and writes its
// gradient into grad if it is not nil: one request per noise level.
func (t *DenoisingScoreMatching) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	spec := ctx.Eval.Spec()
	d := spec.Dim
	if err := checkStep("dsm", batch, d, theta, grad, spec.NumParams()); err != nil {
		return 0, err
	}
	n, _ := batch.Dims()
	m := n * t.draws
	rng := t.source(ctx.RNG)
	t.xt = numeric.ResizeDense(t.xt, m, d)
	t.eps = numeric.ResizeDense(t.eps, m, d)
	t.u = numeric.ResizeDense(t.u, m, d)
	if grad != nil {
		fill(grad, 0)
	}
	loss := 0.0
	for l, sigma := range t.sigmas {
		if err := ctx.Err(); err != nil { // interrupted: the loop undoes the step
			return 0, fmt.Errorf("dsm: level %d of %d: %w", l+1, len(t.sigmas), err)
		}
		c := t.weights[l] / float64(m)
		for r := 0; r < m; r++ {
			x := batch.RawRowView(r / t.draws)
			xt, e, u := t.xt.RawRowView(r), t.eps.RawRowView(r), t.u.RawRowView(r)
			for j := range x {
				e[j] = rng.NormFloat64()
				xt[j] = x[j] + sigma*e[j]
				u[j] = -c * e[j] / sigma
			}
		}
		t.req = framework.Request{Outputs: framework.OutGradX, X: t.xt, Theta: theta}
		if grad != nil {
			t.req.Outputs |= framework.OutMixed
			t.req.U = t.u
			t.req.MixedSelf = c
		}
		if err := ctx.Eval.Evaluate(&t.req, &t.res); err != nil {
			return 0, fmt.Errorf("dsm: σ = %v: %w", sigma, err)
		}
		sum := 0.0
		for r := 0; r < m; r++ {
			g, e := t.res.GradX.RawRowView(r), t.eps.RawRowView(r)
			for j, gj := range g {
				v := gj - e[j]/sigma
				sum += v * v
			}
		}
		loss += 0.5 * c * sum
		if grad != nil {
			for j, v := range t.res.Mixed {
				grad[j] += v
			}
		}
	}
	return loss, nil
}

func registerDSM(r *framework.Registry) {
	r.Trainers["dsm"] = framework.NewEntry("dsm", "denoising score matching: mean ½‖∇ₓE(x+σε) − ε/σ‖²; multi-σ levels weighted by σ²", DefaultDSMOptions,
		func(o DSMOptions, _ framework.Env) (framework.Trainer, error) { return NewDenoisingScoreMatching(o) })
}
