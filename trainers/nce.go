package trainers

// Noise-contrastive estimation (Gutmann and Hyvärinen 2010).
//
// Model. log p_m(x) = −E(x; θ) − c, where c = log Z is learned as one extra parameter (block
// "log_z", appended to θ through framework.Extender, initialised to 0).
//
// Loss. NCE trains a logistic classifier between the n data points xᵢ and m = round(ν·n) noise
// points yⱼ drawn fresh at each step from a noise density q fitted to the training data at
// Init (noise.go). With the log-odds G(u) = log p_m(u) − log q(u) − log ν (ν taken as m/n,
// the ratio actually drawn),
//
//	J(θ, c) = (1/n) [ Σᵢ softplus(−G(xᵢ)) + Σⱼ softplus(G(yⱼ)) ],
//
// the negated objective J_T of Gutmann and Hyvärinen (softplus(a) = log(1 + eᵃ)). Its
// minimiser is consistent for the data density, including its normaliser: at the optimum c is
// the log-partition function of exp(−E).
//
// Gradient. ∂J/∂G is −σ(−G)/n on data and σ(G)/n on noise, and ∂G/∂θ = −∇θE, ∂G/∂c = −1.
// So with row weights w = σ(−G)/n on data and −σ(G)/n on noise, ∇θJ = Σᵣ wᵣ ∇θE(uᵣ), one
// parameter VJP over the stacked batch [data; noise], and ∂J/∂c = Σᵣ wᵣ. The weights depend
// on the energies, so a step is two requests: Energy, then ParamVJP.
//
// Binary and spin data: the noise is a product of independent Bernoullis fitted to the data's
// marginals, q(x) = Πⱼ πⱼ^[xⱼ high] (1 − πⱼ)^[xⱼ low], πⱼ = (count of the high value + 1)/(n + 2)
// (Laplace's rule, so that no state has probability 0).
//
// Assumptions: x ∈ ℝ^d, or binary or spin data; q positive wherever the data are and easy to sample; p_m normalisable
// for the learned θ (NCE does not enforce it). The closer q is to the data, the harder the
// classification and the more statistically efficient the estimate.
//
// Start: log Z starts at 0. An optimizer like Adam moves it by about its learning rate per
// step, so when the initial energy's log-normaliser is far from 0 (the Gaussian energy at
// W = I has (d/2) log 2π) the first steps are spent bringing it there.
//
// Randomness: ctx.RNG draws the noise points in order; for each, "gaussian" draws d standard
// normals, "gmm" one uniform (the component) and then d standard normals.
//
// Reference: M. Gutmann and A. Hyvärinen, "Noise-contrastive estimation: a new estimation
// principle for unnormalized statistical models", AISTATS 2010.

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// NoiseContrastive is the NCE trainer (method "nce").
type NoiseContrastive struct {
	fixedNoise

	opts  NCEOptions
	noise noiseDist
	p     int // number of energy parameters; θ has p+1 entries

	z       *mat.Dense
	logq, w []float64
	req     framework.Request
	res     framework.Result
}

// NCEOptions are the TOML keys of the nce trainer.
type NCEOptions struct {
	Noise      string  `toml:"noise" help:"noise distribution fitted to the data: auto (gaussian for continuous data, bernoulli for binary or spin data), gaussian, gmm or bernoulli"`
	Components int     `toml:"noise_components" help:"components of the gmm noise"`
	EMSteps    int     `toml:"noise_em_steps" help:"EM iterations when fitting the gmm noise"`
	Nu         float64 `toml:"nu" help:"noise points per data point (ν)"`
}

// DefaultNCEOptions returns noise "auto" (a Gaussian for continuous data, a product of
// Bernoullis for binary or spin data) with ν = 1.
func DefaultNCEOptions() NCEOptions {
	return NCEOptions{Noise: "auto", Components: 4, EMSteps: 50, Nu: 1}
}

// Validate checks the ranges of the options.
func (o *NCEOptions) Validate() error {
	switch {
	case o.Noise != "auto" && o.Noise != "gaussian" && o.Noise != "gmm" && o.Noise != "bernoulli":
		return &framework.KeyError{Key: "noise", Msg: fmt.Sprintf("must be \"auto\", \"gaussian\", \"gmm\" or \"bernoulli\", got %q", o.Noise)}
	case o.Components < 1:
		return &framework.KeyError{Key: "noise_components", Msg: fmt.Sprintf("must be at least 1, got %d", o.Components)}
	case o.EMSteps < 0:
		return &framework.KeyError{Key: "noise_em_steps", Msg: fmt.Sprintf("must be non-negative, got %d", o.EMSteps)}
	case !positiveFinite(o.Nu):
		return &framework.KeyError{Key: "nu", Msg: fmt.Sprintf("must be positive and finite, got %v", o.Nu)}
	}
	return nil
}

// NewNoiseContrastive returns an NCE trainer.
func NewNoiseContrastive(o NCEOptions) (*NoiseContrastive, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("nce: %w", err)
	}
	return &NoiseContrastive{opts: o}, nil
}

// ExtraBlocks returns the block of log Z, appended to the energy's parameters.
func (t *NoiseContrastive) ExtraBlocks() []framework.Block {
	return []framework.Block{{Name: "log_z", Shape: []int{1}}}
}

// InitExtra sets log Z = 0.
func (t *NoiseContrastive) InitExtra(dst []float64) { fill(dst, 0) }

// Init checks that the energy is continuous and fits the noise distribution to ctx.Train.
func (t *NoiseContrastive) Init(ctx *framework.TrainContext) error {
	spec := ctx.Eval.Spec()
	noise := t.opts.Noise
	if noise == "auto" {
		noise = "gaussian"
		if spec.Domain.Discrete() {
			noise = "bernoulli"
		}
	}
	if (noise == "bernoulli") != spec.Domain.Discrete() {
		return fmt.Errorf("nce: noise %q does not fit energy %s's %s domain (bernoulli is for binary and spin data, gaussian and gmm for continuous; auto picks): %w",
			noise, spec.Name, spec.Domain, framework.ErrUnsupportedDomain)
	}
	if ctx.Train == nil {
		return fmt.Errorf("nce: the noise distribution is fitted to the training data, but there is none")
	}
	if n, d := ctx.Train.Dims(); n < 2 || d != spec.Dim {
		return fmt.Errorf("nce: %w", &framework.ShapeError{What: "training data", Want: fmt.Sprintf("n×%d, n ≥ 2", spec.Dim), Got: fmt.Sprintf("%d×%d", n, d)})
	}
	t.p = spec.NumParams()
	var err error
	switch noise {
	case "gmm":
		t.noise, err = fitGMMNoise(ctx.Train, t.opts.Components, t.opts.EMSteps)
	case "bernoulli":
		if err = plCheckDomain(ctx.Train, spec.Domain, "training data"); err == nil {
			t.noise = fitBernoulliNoise(ctx.Train, spec.Domain)
		}
	default:
		t.noise, err = fitGaussNoise(ctx.Train)
	}
	if err != nil {
		return fmt.Errorf("nce: fitting the %s noise: %w", noise, err)
	}
	return nil
}

// Step returns the NCE loss on batch at θ = (energy parameters, log Z) with fresh noise from
// ctx.RNG, and writes its gradient into grad if it is not nil.
func (t *NoiseContrastive) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	if t.noise == nil {
		return 0, fmt.Errorf("nce: Step before Init")
	}
	spec := ctx.Eval.Spec()
	d := spec.Dim
	if err := checkStep("nce", batch, d, theta, grad, t.p+1); err != nil {
		return 0, err
	}
	n, _ := batch.Dims()
	m := max(1, int(math.Round(t.opts.Nu*float64(n))))
	logNu := math.Log(float64(m) / float64(n))
	rng := t.source(ctx.RNG)
	t.z = numeric.ResizeDense(t.z, n+m, d)
	t.logq = numeric.Resize(t.logq, n+m)
	for i := 0; i < n; i++ {
		row := t.z.RawRowView(i)
		copy(row, batch.RawRowView(i))
		t.logq[i] = t.noise.logProb(row)
	}
	for r := n; r < n+m; r++ {
		t.logq[r] = t.noise.sample(t.z.RawRowView(r), rng)
	}
	thetaE, logZ := theta[:t.p], theta[t.p]
	t.req = framework.Request{Outputs: framework.OutEnergy, X: t.z, Theta: thetaE}
	if err := ctx.Eval.Evaluate(&t.req, &t.res); err != nil {
		return 0, fmt.Errorf("nce: %w", err)
	}
	inv := 1 / float64(n)
	t.w = numeric.Resize(t.w, n+m)
	loss, sumW := 0.0, 0.0
	for r, e := range t.res.Energy[:n+m] {
		g := -e - logZ - t.logq[r] - logNu
		if r < n {
			loss += numeric.Softplus(-g)
			t.w[r] = inv * numeric.Sigmoid(-g)
		} else {
			loss += numeric.Softplus(g)
			t.w[r] = -inv * numeric.Sigmoid(g)
		}
		sumW += t.w[r]
	}
	loss *= inv
	if grad == nil {
		return loss, nil
	}
	t.req = framework.Request{Outputs: framework.OutParamVJP, X: t.z, Theta: thetaE, Weights: t.w}
	if err := ctx.Eval.Evaluate(&t.req, &t.res); err != nil {
		return 0, fmt.Errorf("nce: %w", err)
	}
	copy(grad, t.res.ParamVJP)
	grad[t.p] = sumW
	return loss, nil
}

func registerNCE(r *framework.Registry) {
	r.Trainers["nce"] = framework.NewEntry("nce", "noise-contrastive estimation against a Gaussian or GMM fitted to the data; log Z learned (block log_z)", DefaultNCEOptions,
		func(o NCEOptions, _ framework.Env) (framework.Trainer, error) { return NewNoiseContrastive(o) })
}
