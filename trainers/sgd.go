package trainers

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/binstate"
)

// SGD is stochastic gradient descent with optional heavy-ball or Nesterov momentum, with
// PyTorch's update rule (torch.optim.SGD, no dampening or weight decay):
//
//	b ← g on the first step, b ← μb + g after;  d = g + μb (Nesterov) or b;  θ ← θ − lr·d.
//
// With momentum 0 it is plain θ ← θ − lr·g. The momentum buffer is allocated on the first
// Update; later updates allocate nothing.
type SGD struct {
	lr, momentum float64
	nesterov     bool
	wd           float64   // weight decay: g + wd·θ
	g            []float64 // the decayed gradient, when wd ≠ 0

	started bool
	buf     []float64
}

// SGDOptions are the TOML keys of the sgd optimizer.
type SGDOptions struct {
	LR       float64 `toml:"lr" help:"learning rate"`
	Momentum float64 `toml:"momentum" help:"momentum factor μ in [0, 1); 0 is plain SGD"`
	Nesterov bool    `toml:"nesterov" help:"use Nesterov momentum (needs momentum > 0)"`
	// WeightDecay adds wd·θ to the gradient before the update (torch.optim.SGD's weight_decay).
	WeightDecay float64         `toml:"weight_decay" help:"L2 penalty (weight_decay/2)‖θ‖²: adds weight_decay·θ to the gradient, as torch.optim.SGD does"`
	Schedule    ScheduleOptions `toml:"schedule" help:"learning-rate schedule: the [optimizer.schedule] table (kind, warmup, step_size, gamma, decay_steps, min_lr)"`
	Average     AverageOptions  `toml:"average" help:"iterate averaging: the [optimizer.average] table (kind, start, decay)"`
}

// DefaultSGDOptions returns lr 0.01 without momentum.
func DefaultSGDOptions() SGDOptions {
	return SGDOptions{LR: 1e-2, Schedule: DefaultScheduleOptions(), Average: DefaultAverageOptions()}
}

// Validate checks the ranges of the options.
func (o *SGDOptions) Validate() error {
	switch {
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return &framework.KeyError{Key: "lr", Msg: fmt.Sprintf("must be positive and finite, got %v", o.LR)}
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return &framework.KeyError{Key: "momentum", Msg: fmt.Sprintf("must be in [0, 1), got %v", o.Momentum)}
	case o.Nesterov && o.Momentum == 0:
		return &framework.KeyError{Key: "nesterov", Msg: "Nesterov momentum needs momentum > 0"}
	}
	if err := o.Schedule.Validate(); err != nil {
		return err
	}
	if err := o.Average.Validate(); err != nil {
		return err
	}
	return validWeightDecay(o.WeightDecay)
}

// NewSGD returns an SGD optimizer with options o.
func NewSGD(o SGDOptions) (*SGD, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("sgd: %w", err)
	}
	return &SGD{lr: o.LR, momentum: o.Momentum, nesterov: o.Nesterov, wd: o.WeightDecay}, nil
}

// Update takes one SGD step on theta in place.
func (s *SGD) Update(theta, grad []float64) {
	grad = grad[:len(theta)]
	if s.wd != 0 {
		if len(s.g) != len(theta) {
			s.g = make([]float64, len(theta))
		}
		for i, g := range grad {
			s.g[i] = g + s.wd*theta[i] // grad.add(param, alpha=weight_decay)
		}
		grad = s.g
	}
	if s.momentum == 0 {
		for i, g := range grad {
			theta[i] += -s.lr * g
		}
		return
	}
	if !s.started || len(s.buf) != len(theta) {
		s.buf = make([]float64, len(theta))
		copy(s.buf, grad)
		s.started = true
	} else {
		for i, g := range grad {
			s.buf[i] = float64(s.buf[i]*s.momentum) + g // buf.mul_(μ).add_(g)
		}
	}
	for i, g := range grad {
		d := s.buf[i]
		if s.nesterov {
			d = g + float64(s.momentum*s.buf[i]) // g.add(buf, alpha=μ)
		}
		theta[i] += float64(-s.lr * d) // param.add_(d, alpha=−lr)
	}
}

// LR returns the learning rate.
func (s *SGD) LR() float64 { return s.lr }

// SetLR sets the learning rate; the momentum buffer is kept.
func (s *SGD) SetLR(lr float64) { s.lr = lr }

// MarshalBinary encodes the optimizer's state (learning rate and momentum buffer) in binary
// (package binstate).
func (s *SGD) MarshalBinary() ([]byte, error) {
	w := binstate.NewWriter("sgd/1")
	w.Float(s.lr)
	var buf []float64
	if s.started {
		buf = s.buf
		if buf == nil {
			buf = []float64{}
		}
	}
	w.Floats(buf)
	return w.Bytes(), nil
}

// UnmarshalBinary restores a state written by MarshalBinary.
func (s *SGD) UnmarshalBinary(b []byte) error {
	r := binstate.NewReader(b, "sgd/1")
	lr, buf := r.Float(), r.Floats()
	if err := r.Err(); err != nil {
		return fmt.Errorf("sgd state: %w", err)
	}
	if !(lr > 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("sgd state: learning rate %v", lr)
	}
	s.lr, s.buf, s.started = lr, buf, buf != nil
	return nil
}

func registerSGD(r *framework.Registry) {
	r.Optimizers["sgd"] = framework.NewEntry("sgd", "stochastic gradient descent with optional (Nesterov) momentum, PyTorch's rule", DefaultSGDOptions,
		func(o SGDOptions, _ framework.Env) (framework.Optimizer, error) {
			s, err := NewSGD(o)
			if err != nil {
				return nil, err
			}
			return withSchedule(s, o.Schedule, o.Average), nil
		})
}
