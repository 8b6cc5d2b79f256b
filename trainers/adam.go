package trainers

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/binstate"
)

// Adam is the optimizer of Kingma and Ba (2015) with PyTorch's update rule
// (torch.optim.Adam, amsgrad off, no weight decay), operation for operation, so that a run
// follows the same trajectory as a PyTorch peer given the same gradients:
//
//	m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
//	θ ← θ − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε).
//
// Its moment buffers are allocated on the first Update (or when len(θ) changes); later
// updates allocate nothing.
type Adam struct {
	lr, beta1, beta2, eps float64
	wd                    float64 // weight decay: g + wd·θ (torch.optim.Adam's weight_decay)

	t    int
	m, v []float64
}

// AdamOptions are the TOML keys of the adam optimizer.
type AdamOptions struct {
	LR    float64 `toml:"lr" help:"learning rate"`
	Beta1 float64 `toml:"beta1" help:"decay of the first-moment average"`
	Beta2 float64 `toml:"beta2" help:"decay of the second-moment average"`
	Eps   float64 `toml:"eps" help:"added to the denominator √v̂ for stability"`
	// WeightDecay adds wd·θ to the gradient before the update: the gradient of the L2 penalty
	// (wd/2)‖θ‖², PyTorch's weight_decay for Adam (not AdamW's decoupled decay).
	WeightDecay float64         `toml:"weight_decay" help:"L2 penalty (weight_decay/2)‖θ‖²: adds weight_decay·θ to the gradient, as torch.optim.Adam does"`
	Schedule    ScheduleOptions `toml:"schedule" help:"learning-rate schedule: the [optimizer.schedule] table (kind, warmup, step_size, gamma, decay_steps, min_lr)"`
	Average     AverageOptions  `toml:"average" help:"iterate averaging: the [optimizer.average] table (kind, start, decay)"`
}

// DefaultAdamOptions returns PyTorch's defaults.
func DefaultAdamOptions() AdamOptions {
	return AdamOptions{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Schedule: DefaultScheduleOptions(), Average: DefaultAverageOptions()}
}

// Validate checks the ranges of the options.
func (o *AdamOptions) Validate() error {
	switch {
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return &framework.KeyError{Key: "lr", Msg: fmt.Sprintf("must be positive and finite, got %v", o.LR)}
	case !(o.Beta1 >= 0 && o.Beta1 < 1):
		return &framework.KeyError{Key: "beta1", Msg: fmt.Sprintf("must be in [0, 1), got %v", o.Beta1)}
	case !(o.Beta2 >= 0 && o.Beta2 < 1):
		return &framework.KeyError{Key: "beta2", Msg: fmt.Sprintf("must be in [0, 1), got %v", o.Beta2)}
	case !(o.Eps >= 0) || math.IsInf(o.Eps, 0):
		return &framework.KeyError{Key: "eps", Msg: fmt.Sprintf("must be non-negative and finite, got %v", o.Eps)}
	}
	if err := o.Schedule.Validate(); err != nil {
		return err
	}
	if err := o.Average.Validate(); err != nil {
		return err
	}
	return validWeightDecay(o.WeightDecay)
}

// NewAdam returns an Adam optimizer with options o.
func NewAdam(o AdamOptions) (*Adam, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("adam: %w", err)
	}
	return &Adam{lr: o.LR, beta1: o.Beta1, beta2: o.Beta2, eps: o.Eps, wd: o.WeightDecay}, nil
}

// Update takes one Adam step on theta in place.
func (a *Adam) Update(theta, grad []float64) {
	if len(a.m) != len(theta) {
		a.m = make([]float64, len(theta))
		a.v = make([]float64, len(theta))
		a.t = 0
	}
	a.t++
	step := float64(a.t)
	bc1 := 1 - math.Pow(a.beta1, step)
	bc2 := 1 - math.Pow(a.beta2, step)
	stepSize := a.lr / bc1
	bc2Sqrt := math.Sqrt(bc2)
	c1, c2 := 1-a.beta1, 1-a.beta2
	m, v := a.m[:len(theta)], a.v[:len(theta)]
	grad = grad[:len(theta)]
	// The explicit conversions round each product, as PyTorch's kernels do, and keep the
	// compiler from fusing them into FMAs.
	for i, g := range grad {
		if a.wd != 0 {
			g += a.wd * theta[i] // grad.add(param, alpha=weight_decay)
		}
		m[i] = float64(m[i]*a.beta1) + float64(c1*g)            // exp_avg.mul_(β₁).add_(g, alpha=1−β₁)
		v[i] = float64(v[i]*a.beta2) + float64(float64(c2*g)*g) // exp_avg_sq.mul_(β₂).addcmul_(g, g, value=1−β₂)
		denom := float64(math.Sqrt(v[i])/bc2Sqrt) + a.eps
		theta[i] += float64(-stepSize*m[i]) / denom // param.addcdiv_(exp_avg, denom, value=−step_size)
	}
}

// LR returns the learning rate.
func (a *Adam) LR() float64 { return a.lr }

// SetLR sets the learning rate; the moment estimates are kept.
func (a *Adam) SetLR(lr float64) { a.lr = lr }

// MarshalBinary encodes the optimizer's state (learning rate, step count and moments) so a
// run can resume exactly, in binary (package binstate): NaN and ±Inf moments round-trip.
func (a *Adam) MarshalBinary() ([]byte, error) {
	w := binstate.NewWriter("adam/1")
	w.Float(a.lr)
	w.Int(a.t)
	w.Floats(a.m)
	w.Floats(a.v)
	return w.Bytes(), nil
}

// UnmarshalBinary restores a state written by MarshalBinary.
func (a *Adam) UnmarshalBinary(b []byte) error {
	r := binstate.NewReader(b, "adam/1")
	lr, t, m, v := r.Float(), r.Int(), r.Floats(), r.Floats()
	if err := r.Err(); err != nil {
		return fmt.Errorf("adam state: %w", err)
	}
	if len(m) != len(v) || t < 0 || !(lr > 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("adam state: step %d, learning rate %v and moments of lengths %d and %d do not fit", t, lr, len(m), len(v))
	}
	a.lr, a.t, a.m, a.v = lr, t, m, v
	return nil
}

func registerAdam(r *framework.Registry) {
	r.Optimizers["adam"] = framework.NewEntry("adam", "Adam with PyTorch's update rule (bias-corrected moments)", DefaultAdamOptions,
		func(o AdamOptions, _ framework.Env) (framework.Optimizer, error) {
			a, err := NewAdam(o)
			if err != nil {
				return nil, err
			}
			return withSchedule(a, o.Schedule, o.Average), nil
		})
}
