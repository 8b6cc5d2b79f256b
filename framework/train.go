package framework

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Schedule is the training budget and the loop's settings. Its zero value is not usable;
// config fills the documented defaults.
type Schedule struct {
	Batch      int     // rows per step; a batch larger than the data is the whole data
	Steps      int     // optimizer steps; when 0, Epochs passes over the data
	Epochs     int     // passes over the data, used when Steps is 0
	Shuffle    bool    // reshuffle the rows at every epoch
	LogEvery   int     // steps between metrics records (the last step is always logged)
	ValidEvery int     // steps between validation losses (0: only at the end)
	ClipNorm   float64 // clip the gradient to this Euclidean norm (0: off)
}

// Metrics is one record of metrics.jsonl.
type Metrics struct {
	Step      int      `json:"step"`
	Epoch     float64  `json:"epoch"`
	Loss      float64  `json:"loss"`                 // mean training loss since the last record
	ValidLoss *float64 `json:"valid_loss,omitempty"` // when computed at this step
	GradNorm  float64  `json:"grad_norm"`            // before clipping, last step
	LR        float64  `json:"lr"`
	Seconds   float64  `json:"seconds"`
	Counts    Counts   `json:"counts"`
}

// Run is everything the training loop needs. Theta holds the energy's parameters followed by
// any trainer-owned blocks (see Extender); it is updated in place.
type Run struct {
	Eval      *Evaluator
	Trainer   Trainer
	Optimizer Optimizer
	Sampler   Sampler
	Train     *mat.Dense
	Valid     *mat.Dense // may be nil
	Theta     []float64
	Streams   Streams
	Schedule  Schedule

	// OnMetrics receives every metrics record; an error stops the run.
	OnMetrics func(Metrics) error
	// OnStep, when set, is called after every step (for progress displays).
	OnStep func(step, total int, loss float64)
}

// Outcome is what a finished run reports.
type Outcome struct {
	Steps       int      `json:"steps"`
	ClosedForm  bool     `json:"closed_form"`
	Seconds     float64  `json:"wall_seconds"`
	StepsPerSec float64  `json:"steps_per_second"`
	TrainLoss   float64  `json:"final_train_loss"`
	ValidLoss   *float64 `json:"final_valid_loss,omitempty"`
	Counts      Counts   `json:"counts"`
}

// TotalSteps returns the number of steps the schedule runs on n rows.
func (s Schedule) TotalSteps(n int) int {
	if s.Steps > 0 {
		return s.Steps
	}
	b := min(max(s.Batch, 1), n)
	return s.Epochs * ((n + b - 1) / b)
}

// Train runs the training loop: it draws minibatches (shuffled per epoch from the "shuffle"
// stream), asks the trainer for the loss and its gradient, checks both are finite, clips,
// takes an optimizer step and a proximal step if the trainer has one, and records metrics.
// A trainer that solves its loss in closed form is solved once instead. Train stops at the
// first error; a non-finite value is reported as a *NonFiniteError naming the step.
func Train(ctx context.Context, r *Run) (*Outcome, error) {
	start := time.Now()
	tctx := &TrainContext{Eval: r.Eval, Train: r.Train, Streams: r.Streams, Sampler: r.Sampler}
	if err := r.Trainer.Init(tctx); err != nil {
		return nil, err
	}
	out := &Outcome{}
	if cf, ok := r.Trainer.(ClosedFormer); ok && cf.ClosedForm() {
		loss, err := cf.Solve(tctx, r.Theta)
		if err != nil {
			return nil, err
		}
		if err := finiteTheta(r.Theta, 0); err != nil {
			return nil, err
		}
		out.ClosedForm, out.TrainLoss = true, loss
		if err := r.finish(out, start, loss); err != nil {
			return nil, err
		}
		return out, nil
	}

	n, d := r.Train.Dims()
	b := min(max(r.Schedule.Batch, 1), n)
	total := r.Schedule.TotalSteps(n)
	if total <= 0 {
		return nil, fmt.Errorf("train: the schedule runs no steps (steps = %d, epochs = %d)", r.Schedule.Steps, r.Schedule.Epochs)
	}
	batch := mat.NewDense(b, d, nil)
	grad := make([]float64, len(r.Theta))
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	shuffle := r.Streams.Rand("shuffle", 0)
	sctx := &StepContext{Eval: r.Eval, RNG: r.Streams.Rand("trainer", 0)}
	prox, _ := r.Trainer.(Proximal)
	logEvery := max(r.Schedule.LogEvery, 1)
	pos := n // position in the current epoch; n forces a (re)shuffle at the first step
	epochs := 0
	sum, count := 0.0, 0
	for step := 0; step < total; step++ {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("train: stopped at step %d: %w", step, err)
		}
		if pos >= n {
			if r.Schedule.Shuffle {
				shuffle.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			}
			pos = 0
			if step > 0 {
				epochs++
			}
		}
		m := min(b, n-pos)
		cur := batch
		if m != b {
			cur = batch.Slice(0, m, 0, d).(*mat.Dense)
		}
		for i := 0; i < m; i++ {
			copy(cur.RawRowView(i), r.Train.RawRowView(perm[pos+i]))
		}
		pos += m

		sctx.Step = step
		loss, err := r.Trainer.Step(sctx, cur, r.Theta, grad)
		if err != nil {
			return out, atStep(err, step)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return out, &NonFiniteError{Quantity: "loss", Source: "trainer", Index: -1, Value: loss, Step: step}
		}
		if err := FiniteVec("gradient", "trainer", grad); err != nil {
			return out, atStep(err, step)
		}
		gnorm := norm(grad)
		if c := r.Schedule.ClipNorm; c > 0 && gnorm > c {
			for i := range grad {
				grad[i] *= c / gnorm
			}
		}
		r.Optimizer.Update(r.Theta, grad)
		if prox != nil {
			prox.Prox(r.Theta, r.Optimizer.LR())
		}
		if err := finiteTheta(r.Theta, step); err != nil {
			return out, err
		}
		sum += loss
		count++
		out.Steps = step + 1
		if r.OnStep != nil {
			r.OnStep(step+1, total, loss)
		}
		last := step == total-1
		valid := r.Valid != nil && (last || (r.Schedule.ValidEvery > 0 && (step+1)%r.Schedule.ValidEvery == 0))
		if (step+1)%logEvery == 0 || last || valid {
			rec := Metrics{Step: step + 1, Epoch: float64(epochs) + float64(pos)/float64(n),
				Loss: sum / float64(count), GradNorm: gnorm, LR: r.Optimizer.LR(),
				Seconds: time.Since(start).Seconds(), Counts: r.Eval.Counts()}
			if valid {
				vl, err := r.validLoss(step)
				if err != nil {
					return out, err
				}
				rec.ValidLoss = &vl
				out.ValidLoss = &vl
			}
			if r.OnMetrics != nil {
				if err := r.OnMetrics(rec); err != nil {
					return out, err
				}
			}
			if last {
				out.TrainLoss = sum / float64(count)
			}
			sum, count = 0, 0
		}
	}
	out.Seconds = time.Since(start).Seconds()
	out.StepsPerSec = float64(out.Steps) / out.Seconds
	out.Counts = r.Eval.Counts()
	return out, nil
}

// finish completes the outcome of a closed-form run.
func (r *Run) finish(out *Outcome, start time.Time, loss float64) error {
	if r.Valid != nil {
		vl, err := r.validLoss(0)
		if err != nil {
			return err
		}
		out.ValidLoss = &vl
	}
	out.Seconds = time.Since(start).Seconds()
	out.Counts = r.Eval.Counts()
	if r.OnMetrics != nil {
		return r.OnMetrics(Metrics{Step: 0, Loss: loss, ValidLoss: out.ValidLoss, Seconds: out.Seconds, Counts: out.Counts})
	}
	return nil
}

// validLoss is the trainer's loss on the whole validation set, with randomness from its own
// stream (re-seeded each time) so that validating never changes the training trajectory.
func (r *Run) validLoss(step int) (float64, error) {
	ctx := &StepContext{Eval: r.Eval, RNG: rand.New(r.Streams.PCG("valid", 0)), Step: step}
	loss, err := r.Trainer.Step(ctx, r.Valid, r.Theta, nil)
	if err != nil {
		return 0, fmt.Errorf("validation loss: %w", atStep(err, step))
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, &NonFiniteError{Quantity: "validation loss", Source: "trainer", Index: -1, Value: loss, Step: step}
	}
	return loss, nil
}

func atStep(err error, step int) error {
	var nf *NonFiniteError
	if errors.As(err, &nf) && nf.Step < 0 {
		nf.Step = step
		return err
	}
	if nf != nil {
		return err
	}
	return fmt.Errorf("step %d: %w", step, err)
}

func finiteTheta(theta []float64, step int) error {
	if err := FiniteVec("parameters", "optimizer update", theta); err != nil {
		err.(*NonFiniteError).Step = step
		return err
	}
	return nil
}

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
