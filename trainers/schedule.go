package trainers

// Learning-rate schedules and iterate averaging for the stepping optimizers (adam, sgd): the
// [optimizer.schedule] and [optimizer.average] tables.
//
// Schedule. At step t (0-based) the learning rate is lr·f(t), with
//
//	constant  f = 1
//	step      f = gamma^⌊t/step_size⌋
//	cosine    f = r + (1 − r)·½(1 + cos(π·min(t, T)/T)),  r = min_lr/lr, T = decay_steps (0: the
//	          run's total steps)
//
// times (t + 1)/warmup during the first warmup steps (a linear warm-up). The divergence guard's
// back-off scales the base lr, so the schedule's shape survives a rollback.
//
// Averaging (Polyak and Juditsky 1992; Ruppert 1988). "polyak" keeps the running mean of the
// iterates from step start on; "ema" an exponential moving average with factor decay. When the
// run ends the average replaces θ (framework.Averager), so params.json holds the averaged
// parameters; summary.json says "averaged": true. Both the schedule's step and the average are
// part of the optimizer's checkpointed state, so a resumed run continues bit for bit.

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/binstate"
)

// ScheduleOptions is the [optimizer.schedule] table.
type ScheduleOptions struct {
	Kind       string  `toml:"kind" help:"constant, step or cosine"`
	Warmup     int     `toml:"warmup" help:"steps of linear warm-up from lr/warmup to lr (0: none)"`
	StepSize   int     `toml:"step_size" help:"step: steps between decays"`
	Gamma      float64 `toml:"gamma" help:"step: factor of each decay"`
	DecaySteps int     `toml:"decay_steps" help:"cosine: steps from lr to min_lr (0: the run's total steps)"`
	MinLR      float64 `toml:"min_lr" help:"cosine: the final learning rate"`
}

// AverageOptions is the [optimizer.average] table.
type AverageOptions struct {
	Kind  string  `toml:"kind" help:"none, polyak (running mean of the iterates) or ema (exponential moving average)"`
	Start int     `toml:"start" help:"the step from which iterates are averaged"`
	Decay float64 `toml:"decay" help:"ema: weight of the old average at each step"`
}

// DefaultScheduleOptions returns a constant learning rate (step_size 1000 and gamma 0.1 for
// kind = "step").
func DefaultScheduleOptions() ScheduleOptions {
	return ScheduleOptions{Kind: "constant", StepSize: 1000, Gamma: 0.1}
}

// DefaultAverageOptions returns no averaging (decay 0.999 for kind = "ema").
func DefaultAverageOptions() AverageOptions { return AverageOptions{Kind: "none", Decay: 0.999} }

// withDefaults returns o with its zero values replaced by the defaults, so that a zero
// ScheduleOptions is a constant learning rate.
func (o ScheduleOptions) withDefaults() ScheduleOptions {
	d := DefaultScheduleOptions()
	if o.Kind == "" {
		o.Kind = d.Kind
	}
	if o.StepSize == 0 {
		o.StepSize = d.StepSize
	}
	if o.Gamma == 0 {
		o.Gamma = d.Gamma
	}
	return o
}

// withDefaults returns o with its zero values replaced by the defaults (no averaging).
func (o AverageOptions) withDefaults() AverageOptions {
	d := DefaultAverageOptions()
	if o.Kind == "" {
		o.Kind = d.Kind
	}
	if o.Decay == 0 {
		o.Decay = d.Decay
	}
	return o
}

// Validate checks the schedule (zero values stand for the defaults).
func (o *ScheduleOptions) Validate() error {
	v := o.withDefaults()
	o = &v
	switch {
	case o.Kind != "constant" && o.Kind != "step" && o.Kind != "cosine":
		return &framework.KeyError{Key: "schedule.kind", Msg: fmt.Sprintf("%q: want constant, step or cosine", o.Kind)}
	case o.Warmup < 0:
		return &framework.KeyError{Key: "schedule.warmup", Msg: fmt.Sprintf("must be ≥ 0, got %d", o.Warmup)}
	case o.StepSize < 1:
		return &framework.KeyError{Key: "schedule.step_size", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.StepSize)}
	case !(o.Gamma > 0 && o.Gamma <= 1):
		return &framework.KeyError{Key: "schedule.gamma", Msg: fmt.Sprintf("must be in (0, 1], got %v", o.Gamma)}
	case o.DecaySteps < 0:
		return &framework.KeyError{Key: "schedule.decay_steps", Msg: fmt.Sprintf("must be ≥ 0, got %d", o.DecaySteps)}
	case !(o.MinLR >= 0) || math.IsInf(o.MinLR, 0):
		return &framework.KeyError{Key: "schedule.min_lr", Msg: fmt.Sprintf("must be a finite number ≥ 0, got %v", o.MinLR)}
	}
	return nil
}

// Validate checks the averaging (zero values stand for the defaults).
func (o *AverageOptions) Validate() error {
	v := o.withDefaults()
	o = &v
	switch {
	case o.Kind != "none" && o.Kind != "polyak" && o.Kind != "ema":
		return &framework.KeyError{Key: "average.kind", Msg: fmt.Sprintf("%q: want none, polyak or ema", o.Kind)}
	case o.Start < 0:
		return &framework.KeyError{Key: "average.start", Msg: fmt.Sprintf("must be ≥ 0, got %d", o.Start)}
	case !(o.Decay > 0 && o.Decay < 1):
		return &framework.KeyError{Key: "average.decay", Msg: fmt.Sprintf("must be in (0, 1), got %v", o.Decay)}
	}
	return nil
}

// stepper is an optimizer that the schedule drives: adam or sgd.
type stepper interface {
	framework.Optimizer
	framework.Stateful
}

// Scheduled is a stepping optimizer under a learning-rate schedule and with iterate averaging.
type Scheduled struct {
	inner   stepper
	sched   ScheduleOptions
	avg     AverageOptions
	base    float64 // the learning rate the schedule scales
	horizon int     // total steps of the run, for cosine without decay_steps

	t     int       // steps taken
	mean  []float64 // the average of the iterates
	count int       // iterates in it
}

// withSchedule wraps inner when a schedule or averaging is configured, and returns it as it is
// otherwise (so that a plain adam or sgd is exactly the optimizer it was).
func withSchedule(inner stepper, s ScheduleOptions, a AverageOptions) framework.Optimizer {
	s, a = s.withDefaults(), a.withDefaults()
	if s.Kind == "constant" && s.Warmup == 0 && a.Kind == "none" {
		return inner
	}
	return &Scheduled{inner: inner, sched: s, avg: a, base: inner.LR()}
}

// SetHorizon sets the run's total number of steps (framework.Horizoner).
func (s *Scheduled) SetHorizon(total int) { s.horizon = total }

// factor returns f(t).
func (s *Scheduled) factor(t int) float64 {
	f := 1.0
	switch s.sched.Kind {
	case "step":
		f = math.Pow(s.sched.Gamma, float64(t/s.sched.StepSize))
	case "cosine":
		T := s.sched.DecaySteps
		if T == 0 {
			T = s.horizon
		}
		if T > 0 {
			r := s.sched.MinLR / s.base
			f = r + (1-r)*0.5*(1+math.Cos(math.Pi*float64(min(t, T))/float64(T)))
		}
	}
	if w := s.sched.Warmup; w > 0 && t < w {
		f *= float64(t+1) / float64(w)
	}
	return f
}

// Update takes one step of the inner optimizer at the scheduled learning rate and updates the
// average.
func (s *Scheduled) Update(theta, grad []float64) {
	s.inner.SetLR(s.base * s.factor(s.t))
	s.inner.Update(theta, grad)
	s.t++
	if s.avg.Kind == "none" || s.t <= s.avg.Start {
		return
	}
	if len(s.mean) != len(theta) {
		s.mean = append(s.mean[:0], theta...)
		s.count = 1
		return
	}
	s.count++
	for i, v := range theta {
		if s.avg.Kind == "ema" {
			s.mean[i] = s.avg.Decay*s.mean[i] + (1-s.avg.Decay)*v
		} else {
			s.mean[i] += (v - s.mean[i]) / float64(s.count)
		}
	}
}

// LR returns the learning rate of the next step.
func (s *Scheduled) LR() float64 { return s.base * s.factor(s.t) }

// SetLR sets the learning rate of the next step by scaling the base (a guard's back-off).
func (s *Scheduled) SetLR(lr float64) {
	if f := s.factor(s.t); f > 0 {
		s.base = lr / f
	}
}

// Average writes the averaged iterate into dst and reports whether there is one
// (framework.Averager).
func (s *Scheduled) Average(dst []float64) bool {
	if s.avg.Kind == "none" || len(s.mean) != len(dst) {
		return false
	}
	copy(dst, s.mean)
	return true
}

// MarshalBinary saves the schedule's step and base rate, the average and the inner optimizer's
// state.
func (s *Scheduled) MarshalBinary() ([]byte, error) {
	inner, err := s.inner.MarshalBinary()
	if err != nil {
		return nil, err
	}
	w := binstate.NewWriter("scheduled/1")
	w.Int(s.t)
	w.Float(s.base)
	w.Int(s.count)
	w.Floats(s.mean)
	w.Blob(inner)
	return w.Bytes(), nil
}

// UnmarshalBinary restores a state written by MarshalBinary.
func (s *Scheduled) UnmarshalBinary(b []byte) error {
	r := binstate.NewReader(b, "scheduled/1")
	t, base, count, mean, inner := r.Int(), r.Float(), r.Int(), r.Floats(), r.Blob()
	if err := r.Err(); err != nil {
		return fmt.Errorf("scheduled optimizer state: %w", err)
	}
	if t < 0 || count < 0 || !(base > 0) {
		return fmt.Errorf("scheduled optimizer state: step %d, %d averaged iterates and base rate %v do not fit", t, count, base)
	}
	if err := s.inner.UnmarshalBinary(inner); err != nil {
		return err
	}
	s.t, s.base, s.count, s.mean = t, base, count, mean
	return nil
}
