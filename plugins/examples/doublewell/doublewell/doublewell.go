// Package doublewell implements the energy of the example Go plugin: a parametric
// double well in every coordinate, an energy that goebm does not ship as a built-in,
// with every derivative computed exactly.
//
//	E(x; θ) = Σⱼ ¼ cⱼ (xⱼ² − mⱼ²)²,   cⱼ = exp(ℓⱼ),   θ = (ℓ, m)
//
// Each coordinate has wells at ±mⱼ whose depth and width cⱼ sets. The derivatives are
//
//	∂E/∂xⱼ  = cⱼ (xⱼ² − mⱼ²) xⱼ            ∂²E/∂xⱼ² = cⱼ (3xⱼ² − mⱼ²)
//	∂E/∂ℓⱼ  = ¼ cⱼ (xⱼ² − mⱼ²)²            ∂E/∂mⱼ   = −cⱼ (xⱼ² − mⱼ²) mⱼ
//
// and the Hessian in x is diagonal, so the mixed product, the Laplacian, its θ-gradient and
// Hessian-vector products all have closed forms.
package doublewell

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goebm/goebm/framework"
)

var _ framework.Energy = (*Energy)(nil)

// Options are the keys of the plugin's [energy.config] table.
type Options struct {
	Dim          int     `toml:"dim" help:"dimension; 0 takes it from the data"`
	InitLogScale float64 `toml:"init_log_scale" help:"initial ℓⱼ = log cⱼ of every coordinate"`
	InitCenter   float64 `toml:"init_center" help:"initial well position mⱼ of every coordinate"`
	Jitter       float64 `toml:"jitter" help:"standard deviation of the Gaussian noise added to the initial mⱼ"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	switch {
	case o.Dim < 0:
		return &framework.KeyError{Key: "dim", Msg: fmt.Sprintf("must be ≥ 0, got %d", o.Dim)}
	case !(o.Jitter >= 0) || math.IsInf(o.Jitter, 0):
		return &framework.KeyError{Key: "jitter", Msg: fmt.Sprintf("must be a number ≥ 0, got %v", o.Jitter)}
	case math.IsNaN(o.InitLogScale) || math.IsInf(o.InitLogScale, 0) || math.Abs(o.InitLogScale) > 50:
		return &framework.KeyError{Key: "init_log_scale", Msg: fmt.Sprintf("must be in [−50, 50], got %v", o.InitLogScale)}
	case math.IsNaN(o.InitCenter) || math.IsInf(o.InitCenter, 0):
		return &framework.KeyError{Key: "init_center", Msg: fmt.Sprintf("must be a finite number, got %v", o.InitCenter)}
	}
	return nil
}

// DefaultOptions returns the defaults: unit scale, wells at ±1, a little jitter.
func DefaultOptions() *Options { return &Options{InitCenter: 1, Jitter: 0.1} }

// Entry is the energy's registry entry, which the plugin serves.
func Entry() framework.Entry[framework.Energy] {
	return framework.Entry[framework.Energy]{
		Name:    "doublewell",
		Help:    "parametric double well Σⱼ ¼ exp(ℓⱼ)(xⱼ² − mⱼ²)² (example plugin)",
		Options: func() any { return DefaultOptions() },
		New: func(opts any, env framework.Env) (framework.Energy, error) {
			o := opts.(*Options)
			d := o.Dim
			if d == 0 {
				d = env.Dim
			}
			if d <= 0 {
				return nil, &framework.KeyError{Key: "dim", Msg: "unknown dimension: set dim or give data"}
			}
			if env.Domain != framework.Continuous {
				return nil, fmt.Errorf("double well is continuous; the data are %s: %w", env.Domain, framework.ErrUnsupportedDomain)
			}
			return New(d, *o), nil
		},
	}
}

// Energy is the double well in d dimensions.
type Energy struct {
	d    int
	opts Options
}

// New returns the double well in d dimensions.
func New(d int, o Options) *Energy { return &Energy{d: d, opts: o} }

// Spec implements framework.Energy.
func (e *Energy) Spec() framework.Spec {
	return framework.Spec{
		Name: "doublewell", Dim: e.d, Domain: framework.Continuous,
		Blocks: []framework.Block{{Name: "log_scale", Shape: []int{e.d}}, {Name: "center", Shape: []int{e.d}}},
		Caps:   framework.CapMixed | framework.CapLaplacian | framework.CapHVP,
	}
}

// InitParams sets ℓⱼ = init_log_scale and mⱼ = init_center + jitter·N(0, 1).
func (e *Energy) InitParams(dst []float64, rng *rand.Rand) error {
	for j := 0; j < e.d; j++ {
		dst[j] = e.opts.InitLogScale
		dst[e.d+j] = e.opts.InitCenter + e.opts.Jitter*rng.NormFloat64()
	}
	return nil
}

// Evaluate implements framework.Energy.
func (e *Energy) Evaluate(req *framework.Request, res *framework.Result) error {
	d := e.d
	n, cols := req.X.Dims()
	if cols != d || len(req.Theta) != 2*d {
		return &framework.ShapeError{What: "request", Want: fmt.Sprintf("n×%d and θ of %d", d, 2*d), Got: fmt.Sprintf("%d×%d and θ of %d", n, cols, len(req.Theta))}
	}
	ell, m := req.Theta[:d], req.Theta[d:]
	o := req.Outputs
	for i := 0; i < n; i++ {
		x := req.X.RawRowView(i)
		w, v := 1.0, 1.0
		if req.Weights != nil {
			w = req.Weights[i]
		}
		if req.LapWeights != nil {
			v = req.LapWeights[i]
		}
		var u, hv, gx, hout []float64
		if req.U != nil {
			u = req.U.RawRowView(i)
		}
		if o.Has(framework.OutHVP) {
			hv, hout = req.V.RawRowView(i), res.HVP.RawRowView(i)
		}
		if o.Has(framework.OutGradX) {
			gx = res.GradX.RawRowView(i)
		}
		energy, lap := 0.0, 0.0
		for j := 0; j < d; j++ {
			c := math.Exp(ell[j])
			r := x[j]*x[j] - m[j]*m[j] // xⱼ² − mⱼ²
			g := c * r * x[j]          // ∂E/∂xⱼ
			h := c * (3*x[j]*x[j] - m[j]*m[j])
			energy += 0.25 * c * r * r
			lap += h
			if gx != nil {
				gx[j] = g
			}
			if hout != nil {
				hout[j] = h * hv[j]
			}
			if o.Has(framework.OutParamVJP) {
				res.ParamVJP[j] += w * 0.25 * c * r * r
				res.ParamVJP[d+j] += w * (-c * r * m[j])
			}
			if o.Has(framework.OutMixed) {
				uj := 0.0 // the direction uᵢ (the SDK adds any MixedSelf·∇ₓE term for us)
				if u != nil {
					uj = u[j]
				}
				res.Mixed[j] += uj * g
				res.Mixed[d+j] += uj * c * (-2 * m[j]) * x[j]
			}
			if o.Has(framework.OutLaplacianVJP) {
				res.LaplacianVJP[j] += v * h
				res.LaplacianVJP[d+j] += v * c * (-2 * m[j])
			}
		}
		if o.Has(framework.OutEnergy) {
			res.Energy[i] = energy
		}
		if o.Has(framework.OutLaplacian) {
			res.Laplacian[i] = lap
		}
	}
	return nil
}
