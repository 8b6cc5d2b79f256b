package trainers

// Sliced score matching (Song, Garg, Shi and Ermon 2019).
//
// Loss. Project the score-matching objective onto random directions v with E[vvᵀ] = I
// (standard Gaussian or Rademacher): with s = −∇ₓE, per point and projection,
//
//	ℓ = vᵀ∇ₓ(vᵀs) + ½(vᵀs)² = −vᵀ∇²ₓE v + ½(vᵀ∇ₓE)²,
//
// averaged over points and projections. Its expectation over v is the exact score-matching
// loss of sm.go, so SSM is unbiased for it. The variance-reduced form SSM-VR replaces
// ½(vᵀ∇ₓE)² by its expectation ½‖∇ₓE‖².
//
// Value. One request for GradX | HVP at the points (V = the projections).
//
// Gradient. ∇θ ½(vᵀg)² = ∇θ uᵀ∇ₓE with u = (vᵀg)v held fixed (SSM-VR: u = g), a mixed
// product. The Hessian term has no first-class θ-gradient in the energy contract, so it is
// taken by a central difference of mixed products along v:
//
//	∇θ vᵀ∇²ₓE(x)v = d/dt ∇θ vᵀ∇ₓE(x + tv) |ₜ₌₀ ≈ [M(x + hv) − M(x − hv)] / 2h,
//
// M(y) = ∇θ vᵀ∇ₓE(y), with h = fd_step/‖v‖. The mixed product at x for the first term is
// taken as the mean of those at x ± hv, so both terms come from one request over the 2·n·M
// stacked points [x + hv; x − hv] with uᵣ = ∓w·v/2h + ½w·u (w = 1/(n·M)). All of this is
// exact for energies quadratic in x and O(h²) otherwise; Paths reports it as
// "finite-difference". A step costs two requests: GradX | HVP, then Mixed.
//
// Assumptions: x ∈ ℝ^d, E twice differentiable in x (three times for the gradient's finite
// difference to be O(h²)), and the regularity conditions of score matching.
//
// Randomness: ctx.RNG draws, for each point, for each projection, d coordinates of v
// (NormFloat64 for "gaussian", the top bit of Uint64 for "rademacher").
//
// Reference: Y. Song, S. Garg, J. Shi and S. Ermon, "Sliced score matching: a scalable approach
// to density and score estimation", UAI 2019.

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// SlicedScoreMatching is the sliced score-matching trainer (method "ssm").
type SlicedScoreMatching struct {
	fixedNoise

	projections int
	rademacher  bool
	vr          bool
	fdStep      float64

	xr, v, y, u *mat.Dense
	req         framework.Request
	res, res2   framework.Result
}

// SSMOptions are the TOML keys of the ssm trainer.
type SSMOptions struct {
	Projections     int     `toml:"projections" help:"random projections per point"`
	Projection      string  `toml:"projection" help:"distribution of the projections: gaussian or rademacher"`
	VarianceReduced bool    `toml:"variance_reduced" help:"SSM-VR: use ½‖∇ₓE‖² in place of ½(vᵀ∇ₓE)²"`
	FDStep          float64 `toml:"fd_step" help:"step of the finite difference for the θ-gradient of vᵀ∇²E v; 0 means the evaluator's"`
}

// DefaultSSMOptions returns one Gaussian projection per point.
func DefaultSSMOptions() SSMOptions { return SSMOptions{Projections: 1, Projection: "gaussian"} }

// Validate checks the ranges of the options.
func (o *SSMOptions) Validate() error {
	switch {
	case o.Projections < 1:
		return &framework.KeyError{Key: "projections", Msg: fmt.Sprintf("must be at least 1, got %d", o.Projections)}
	case o.Projection != "gaussian" && o.Projection != "rademacher":
		return &framework.KeyError{Key: "projection", Msg: fmt.Sprintf("must be \"gaussian\" or \"rademacher\", got %q", o.Projection)}
	case !(o.FDStep >= 0) || math.IsInf(o.FDStep, 0):
		return &framework.KeyError{Key: "fd_step", Msg: fmt.Sprintf("must be non-negative and finite, got %v", o.FDStep)}
	}
	return nil
}

// NewSlicedScoreMatching returns an SSM trainer.
func NewSlicedScoreMatching(o SSMOptions) (*SlicedScoreMatching, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("ssm: %w", err)
	}
	return &SlicedScoreMatching{
		projections: o.Projections, rademacher: o.Projection == "rademacher",
		vr: o.VarianceReduced, fdStep: o.FDStep,
	}, nil
}

// Init checks that the energy is continuous.
func (t *SlicedScoreMatching) Init(ctx *framework.TrainContext) error {
	return requireContinuous("ssm", ctx.Eval.Spec())
}

// Paths reports the derivative path the trainer takes itself: its θ-gradient comes from
// mixed products at x ± hv (a central difference for the Hessian term, a mean for the other).
func (t *SlicedScoreMatching) Paths() map[string]string {
	return map[string]string{"ssm_param_grad": "finite-difference"}
}

func (t *SlicedScoreMatching) step(ev *framework.Evaluator) float64 {
	switch {
	case t.fdStep > 0:
		return t.fdStep
	case ev.FDStep > 0:
		return ev.FDStep
	}
	return framework.DefaultFDStep
}

// Step returns the SSM loss on batch at θ with fresh projections from ctx.RNG, and writes
// its gradient into grad if it is not nil.
func (t *SlicedScoreMatching) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	spec := ctx.Eval.Spec()
	d := spec.Dim
	if err := checkStep("ssm", batch, d, theta, grad, spec.NumParams()); err != nil {
		return 0, err
	}
	n, _ := batch.Dims()
	k := t.projections
	m := n * k
	w := 1 / float64(m)
	rng := t.source(ctx.RNG)
	t.xr = numeric.ResizeDense(t.xr, m, d)
	t.v = numeric.ResizeDense(t.v, m, d)
	for r := 0; r < m; r++ {
		copy(t.xr.RawRowView(r), batch.RawRowView(r/k))
		v := t.v.RawRowView(r)
		for j := range v {
			if t.rademacher {
				v[j] = float64(int64(rng.Uint64()>>63)*2 - 1)
			} else {
				v[j] = rng.NormFloat64()
			}
		}
	}

	// With a gradient to compute, the second request's ∇ₓE at x ± h·v/‖v‖ gives vᵀ∇²ₓE v by
	// the same central difference the gradient takes (so the first request needs no HVP);
	// without one, the HVP is exact.
	out := framework.OutGradX
	if grad == nil {
		out |= framework.OutHVP
	}
	t.req = framework.Request{Outputs: out, X: t.xr, V: t.v, Theta: theta}
	if err := ctx.Eval.Evaluate(&t.req, &t.res); err != nil {
		return 0, fmt.Errorf("ssm: %w", err)
	}
	if grad == nil {
		loss := 0.0
		for r := 0; r < m; r++ {
			v, g, hv := t.v.RawRowView(r), t.res.GradX.RawRowView(r), t.res.HVP.RawRowView(r)
			vhv := 0.0
			for j := range v {
				vhv += v[j] * hv[j]
			}
			loss += t.rowLoss(v, g, vhv)
		}
		return loss * w, nil
	}

	// Mixed products at [x + hv; x − hv] with u = ∓w·v/2h + ½w·(vᵀg)v (SSM-VR: ∓w·v/2h + ½w·g).
	t.y = numeric.ResizeDense(t.y, 2*m, d)
	t.u = numeric.ResizeDense(t.u, 2*m, d)
	h := t.step(ctx.Eval)
	for r := 0; r < m; r++ {
		x, v, g := t.xr.RawRowView(r), t.v.RawRowView(r), t.res.GradX.RawRowView(r)
		norm, vg := 0.0, 0.0
		for j, vj := range v {
			norm += vj * vj
			vg += vj * g[j]
		}
		norm = math.Sqrt(norm)
		yp, ym := t.y.RawRowView(r), t.y.RawRowView(m+r)
		up, um := t.u.RawRowView(r), t.u.RawRowView(m+r)
		c := 0.0
		hr := 0.0
		if norm > 0 {
			hr = h / norm
			c = w / (2 * hr)
		}
		for j, vj := range v {
			yp[j] = x[j] + hr*vj
			ym[j] = x[j] - hr*vj
			e := 0.5 * w * vg * vj
			if t.vr {
				e = 0.5 * w * g[j]
			}
			up[j] = -c*vj + e
			um[j] = c*vj + e
		}
	}
	t.req = framework.Request{Outputs: framework.OutMixed | framework.OutGradX, X: t.y, U: t.u, Theta: theta}
	if err := ctx.Eval.Evaluate(&t.req, &t.res2); err != nil {
		return 0, fmt.Errorf("ssm: finite difference of mixed products: %w", err)
	}
	copy(grad, t.res2.Mixed)
	loss := 0.0
	for r := 0; r < m; r++ {
		v, g := t.v.RawRowView(r), t.res.GradX.RawRowView(r)
		gp, gm := t.res2.GradX.RawRowView(r), t.res2.GradX.RawRowView(m+r)
		norm, dv := 0.0, 0.0
		for j, vj := range v {
			norm += vj * vj
			dv += vj * (gp[j] - gm[j])
		}
		vhv := 0.0
		if norm > 0 {
			vhv = dv / (2 * h / math.Sqrt(norm))
		}
		loss += t.rowLoss(v, g, vhv)
	}
	return loss * w, nil
}

// rowLoss is one projection's term: −vᵀ∇²ₓE v + ½(vᵀ∇ₓE)², or + ½‖∇ₓE‖² for SSM-VR.
func (t *SlicedScoreMatching) rowLoss(v, g []float64, vhv float64) float64 {
	vg, gg := 0.0, 0.0
	for j := range v {
		vg += v[j] * g[j]
		gg += g[j] * g[j]
	}
	if t.vr {
		return -vhv + 0.5*gg
	}
	return -vhv + 0.5*vg*vg
}

func registerSSM(r *framework.Registry) {
	r.Trainers["ssm"] = framework.NewEntry("ssm", "sliced score matching: mean −vᵀ∇²ₓE v + ½(vᵀ∇ₓE)² over random projections v; SSM-VR option", DefaultSSMOptions,
		func(o SSMOptions, _ framework.Env) (framework.Trainer, error) { return NewSlicedScoreMatching(o) })
}
