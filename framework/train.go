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
	Batch           int     // rows per step; a batch larger than the data is the whole data
	Steps           int     // optimizer steps; when 0, Epochs passes over the data
	Epochs          int     // passes over the data, used when Steps is 0
	Shuffle         bool    // reshuffle the rows at every epoch
	LogEvery        int     // steps between metrics records (the last step is always logged)
	ValidEvery      int     // steps between validation losses (0: only at the end)
	ClipNorm        float64 // clip the gradient to this Euclidean norm (0: off)
	CheckpointEvery int     // steps between checkpoints handed to Run.OnCheckpoint (0: none)
	Guard           Guard
}

// Guard is the divergence guard. When a step produces a NaN or Inf (in the loss, the
// gradient, the parameters or any energy output) or a loss beyond MaxLoss, the run goes back
// to its last good state (kept in memory every LogEvery steps), multiplies the learning rate
// by LRFactor and goes on; after MaxRollbacks rollbacks it stops with the diagnostic.
type Guard struct {
	MaxRollbacks int     // 0: stop at the first divergence
	LRFactor     float64 // learning-rate multiplier per rollback, in (0, 1)
	MaxLoss      float64 // |loss| above this is divergence (0: only NaN and Inf)
}

// Metrics is one record of metrics.jsonl.
type Metrics struct {
	Step      int       `json:"step"`
	Epoch     float64   `json:"epoch"`
	Loss      float64   `json:"loss"`                 // mean training loss since the last record
	ValidLoss *float64  `json:"valid_loss,omitempty"` // when computed at this step
	GradNorm  float64   `json:"grad_norm"`            // before clipping, last step
	LR        float64   `json:"lr"`
	Seconds   float64   `json:"seconds"`
	Counts    Counts    `json:"counts"`
	Rollback  *Rollback `json:"rollback,omitempty"` // set on the record of a rollback
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

	// Resume, when set, is the checkpoint the run continues from.
	Resume *Checkpoint
	// OnMetrics receives every metrics record; an error stops the run.
	OnMetrics func(Metrics) error
	// OnCheckpoint receives a checkpoint every Schedule.CheckpointEvery steps and when the
	// run is interrupted through its context; an error stops the run.
	OnCheckpoint func(*Checkpoint) error
	// OnStep, when set, is called after every step (for progress displays).
	OnStep func(step, total int, loss float64)
}

// Outcome is what a finished run reports.
type Outcome struct {
	Steps       int        `json:"steps"`
	ClosedForm  bool       `json:"closed_form"`
	Seconds     float64    `json:"wall_seconds"`
	StepsPerSec float64    `json:"steps_per_second"`
	TrainLoss   float64    `json:"final_train_loss"`
	ValidLoss   *float64   `json:"final_valid_loss,omitempty"`
	Counts      Counts     `json:"counts"`
	Rollbacks   []Rollback `json:"rollbacks"`
	// Solver reports a BatchOptimizer's solve (its reason for stopping); nil otherwise.
	Solver *SolverReport `json:"solver,omitempty"`
}

// ErrInterrupted is wrapped by the error Train returns when its context is cancelled: the
// run stopped between two steps and handed a checkpoint to OnCheckpoint, or, when the
// cancellation stopped a request of a step (an energy that waits on another process gets
// the context in its framework.Env), abandoned that step without a checkpoint.
var ErrInterrupted = errors.New("interrupted")

// DivergedError is a finite loss beyond Guard.MaxLoss.
type DivergedError struct {
	Value, Limit float64
	Step         int
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("loss %g beyond the divergence threshold %g at step %d", e.Value, e.Limit, e.Step)
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
// A trainer that solves its loss in closed form is solved once instead. A run resumed from a
// checkpoint ends with exactly the parameters of an uninterrupted one.
func Train(ctx context.Context, r *Run) (*Outcome, error) {
	tctx := &TrainContext{Eval: r.Eval, Train: r.Train, Streams: r.Streams, Sampler: r.Sampler}
	if err := r.Trainer.Init(tctx); err != nil {
		return nil, err
	}
	if cf, ok := r.Trainer.(ClosedFormer); ok && cf.ClosedForm() {
		return r.closedForm(cf, tctx)
	}
	if bo, ok := r.Optimizer.(BatchOptimizer); ok {
		return r.batch(ctx, bo, tctx)
	}
	l, err := newLoop(r)
	if err != nil {
		return nil, err
	}
	if r.Resume != nil {
		if err := l.restore(r.Resume, true); err != nil {
			return nil, err
		}
	}
	// good is the last state whose loss has been seen finite and in bounds; pending becomes
	// good once the step after it has checked its loss.
	good := l.checkpoint()
	var pending *Checkpoint
	snapEvery := max(r.Schedule.LogEvery, 1)
	for l.step < l.total {
		if err := ctx.Err(); err != nil {
			if r.OnCheckpoint != nil {
				if cerr := r.OnCheckpoint(l.checkpoint()); cerr != nil {
					return l.outcome(), fmt.Errorf("train: interrupted after step %d, and the checkpoint failed: %w", l.step, cerr)
				}
			}
			return l.outcome(), fmt.Errorf("train: %w after step %d of %d: %w", ErrInterrupted, l.step, l.total, err)
		}
		if err := l.oneStep(); err != nil {
			if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
				// The interruption stopped a request in flight (a plugin's): the step is
				// abandoned half way, which is no state to save, so the last checkpoint stands.
				return l.outcome(), fmt.Errorf("train: %w during step %d of %d, which was abandoned (no checkpoint of it): %w", ErrInterrupted, l.step+1, l.total, cerr)
			}
			q, v, ok := divergence(err)
			if !ok {
				return l.outcome(), err
			}
			if len(l.rollbacks) >= r.Schedule.Guard.MaxRollbacks {
				if len(l.rollbacks) > 0 {
					return l.outcome(), fmt.Errorf("train: diverged again after %d rollbacks (learning rate now %g): %w", len(l.rollbacks), r.Optimizer.LR(), err)
				}
				return l.outcome(), err
			}
			bad := l.step
			lr := r.Optimizer.LR() * r.Schedule.Guard.LRFactor
			records := l.records
			if err := l.restore(good, false); err != nil {
				return l.outcome(), err
			}
			l.records = records
			r.Optimizer.SetLR(lr)
			rb := Rollback{Step: bad, Quantity: q, Value: v, ToStep: l.step, LR: lr}
			l.rollbacks = append(l.rollbacks, rb)
			if err := l.emit(Metrics{Step: l.step, LR: lr, Rollback: &rb}); err != nil {
				return l.outcome(), err
			}
			good, pending = l.checkpoint(), nil
			continue
		}
		if pending != nil && l.step > pending.Step {
			good, pending = pending, nil
		}
		if l.step%snapEvery == 0 {
			pending = l.checkpoint()
		}
		if ce := r.Schedule.CheckpointEvery; ce > 0 && l.step%ce == 0 && l.step < l.total && r.OnCheckpoint != nil {
			if err := r.OnCheckpoint(l.checkpoint()); err != nil {
				return l.outcome(), fmt.Errorf("train: checkpoint at step %d: %w", l.step, err)
			}
		}
	}
	return l.outcome(), nil
}

// divergence reports whether err is a divergence the guard may recover from, and what went bad.
func divergence(err error) (quantity string, value float64, ok bool) {
	var nf *NonFiniteError
	if errors.As(err, &nf) {
		return nf.Quantity, nf.Value, true
	}
	var de *DivergedError
	if errors.As(err, &de) {
		return "loss", de.Value, true
	}
	return "", 0, false
}

func (r *Run) closedForm(cf ClosedFormer, tctx *TrainContext) (*Outcome, error) {
	start := time.Now()
	loss, err := cf.Solve(tctx, r.Theta)
	if err != nil {
		return nil, err
	}
	if err := FiniteVec("parameters", "closed-form solution", r.Theta); err != nil {
		return nil, err
	}
	out := &Outcome{ClosedForm: true, TrainLoss: loss, Rollbacks: []Rollback{}}
	if r.Valid != nil {
		vl, err := r.validLoss(0)
		if err != nil {
			return nil, err
		}
		out.ValidLoss = &vl
	}
	out.Seconds = time.Since(start).Seconds()
	out.Counts = r.Eval.Counts()
	if r.OnMetrics != nil {
		if err := r.OnMetrics(Metrics{Loss: loss, ValidLoss: out.ValidLoss, Seconds: out.Seconds, Counts: out.Counts}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loop is the state of a training run between steps: everything a checkpoint holds.
type loop struct {
	r                *Run
	total, n, d, b   int
	batch            *mat.Dense
	grad             []float64
	perm             []int
	pos, epochs      int
	step             int
	shufflePCG       *rand.PCG
	trainPCG         *rand.PCG
	shuffle          *rand.Rand
	sctx             StepContext
	prox             Proximal
	sum              float64
	count            int
	records          int
	rollbacks        []Rollback
	start            time.Time
	before           float64 // seconds spent before a resume
	lastLoss, lastGN float64
	trainLoss        float64
	validLoss        *float64
}

func newLoop(r *Run) (*loop, error) {
	n, d := r.Train.Dims()
	total := r.Schedule.TotalSteps(n)
	if total <= 0 {
		return nil, fmt.Errorf("train: the schedule runs no steps (steps = %d, epochs = %d)", r.Schedule.Steps, r.Schedule.Epochs)
	}
	l := &loop{r: r, total: total, n: n, d: d, b: min(max(r.Schedule.Batch, 1), n),
		grad: make([]float64, len(r.Theta)), perm: make([]int, n), pos: n,
		shufflePCG: r.Streams.PCG("shuffle", 0), trainPCG: r.Streams.PCG("trainer", 0),
		start: time.Now(), rollbacks: []Rollback{}}
	l.batch = mat.NewDense(l.b, d, nil)
	for i := range l.perm {
		l.perm[i] = i
	}
	l.shuffle = rand.New(l.shufflePCG)
	l.sctx = StepContext{Eval: r.Eval, RNG: rand.New(l.trainPCG)}
	l.prox, _ = r.Trainer.(Proximal)
	return l, nil
}

// oneStep takes one optimizer step and records metrics when due.
func (l *loop) oneStep() error {
	r := l.r
	if l.pos >= l.n {
		if r.Schedule.Shuffle {
			l.shuffle.Shuffle(l.n, func(i, j int) { l.perm[i], l.perm[j] = l.perm[j], l.perm[i] })
		}
		l.pos = 0
		if l.step > 0 {
			l.epochs++
		}
	}
	m := min(l.b, l.n-l.pos)
	cur := l.batch
	if m != l.b {
		cur = l.batch.Slice(0, m, 0, l.d).(*mat.Dense)
	}
	for i := 0; i < m; i++ {
		copy(cur.RawRowView(i), r.Train.RawRowView(l.perm[l.pos+i]))
	}
	l.pos += m

	step := l.step
	l.sctx.Step = step
	loss, err := r.Trainer.Step(&l.sctx, cur, r.Theta, l.grad)
	if err != nil {
		return atStep(err, step)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return &NonFiniteError{Quantity: "loss", Source: "trainer", Index: -1, Value: loss, Step: step}
	}
	if g := r.Schedule.Guard.MaxLoss; g > 0 && math.Abs(loss) > g {
		return &DivergedError{Value: loss, Limit: g, Step: step}
	}
	if err := FiniteVec("gradient", "trainer", l.grad); err != nil {
		return atStep(err, step)
	}
	gnorm := norm(l.grad)
	if c := r.Schedule.ClipNorm; c > 0 && gnorm > c {
		for i := range l.grad {
			l.grad[i] *= c / gnorm
		}
	}
	r.Optimizer.Update(r.Theta, l.grad)
	if l.prox != nil {
		l.prox.Prox(r.Theta, r.Optimizer.LR())
	}
	if err := FiniteVec("parameters", "optimizer update", r.Theta); err != nil {
		return atStep(err, step)
	}
	l.sum += loss
	l.count++
	l.step++
	l.lastLoss, l.lastGN = loss, gnorm
	if r.OnStep != nil {
		r.OnStep(l.step, l.total, loss)
	}
	last := l.step == l.total
	valid := r.Valid != nil && (last || (r.Schedule.ValidEvery > 0 && l.step%r.Schedule.ValidEvery == 0))
	if l.step%max(r.Schedule.LogEvery, 1) != 0 && !last && !valid {
		return nil
	}
	rec := Metrics{Step: l.step, Epoch: float64(l.epochs) + float64(l.pos)/float64(l.n),
		Loss: l.sum / float64(l.count), GradNorm: gnorm, LR: r.Optimizer.LR()}
	if valid {
		vl, err := r.validLoss(step)
		if err != nil {
			return err
		}
		rec.ValidLoss = &vl
		l.validLoss = &vl
	}
	l.trainLoss = rec.Loss
	l.sum, l.count = 0, 0
	return l.emit(rec)
}

func (l *loop) emit(m Metrics) error {
	m.Seconds = l.before + time.Since(l.start).Seconds()
	m.Counts = l.r.Eval.Counts()
	l.records++
	if l.r.OnMetrics != nil {
		return l.r.OnMetrics(m)
	}
	return nil
}

func (l *loop) outcome() *Outcome {
	sec := l.before + time.Since(l.start).Seconds()
	out := &Outcome{Steps: l.step, Seconds: sec, TrainLoss: l.trainLoss, ValidLoss: l.validLoss,
		Counts: l.r.Eval.Counts(), Rollbacks: l.rollbacks}
	if sec > 0 {
		out.StepsPerSec = float64(l.step) / sec
	}
	return out
}

// checkpoint captures the loop's state. Component state is marshalled by the components.
func (l *loop) checkpoint() *Checkpoint {
	r := l.r
	c := &Checkpoint{Version: CheckpointVersion, Step: l.step, Epochs: l.epochs, Pos: l.pos,
		Perm: append([]int(nil), l.perm...), Theta: append([]float64(nil), r.Theta...),
		LR: r.Optimizer.LR(), Shuffle: pcgState(l.shufflePCG), TrainRNG: pcgState(l.trainPCG),
		Counts: r.Eval.Counts(), Records: l.records, LossSum: l.sum, LossCount: l.count,
		Rollbacks: append([]Rollback(nil), l.rollbacks...), Seconds: l.before + time.Since(l.start).Seconds()}
	var err error
	if c.Optimizer, err = marshalState(r.Optimizer); err == nil {
		if c.Trainer, err = marshalState(r.Trainer); err == nil {
			c.Sampler, err = marshalState(r.Sampler)
		}
	}
	if err != nil {
		// A component that cannot save its state makes resuming impossible; the checkpoint
		// says so rather than pretending.
		c.Version = -1
	}
	return c
}

// restore puts the loop back to c. full also restores the wall-clock and metrics offsets
// (a resume); a rollback keeps them.
func (l *loop) restore(c *Checkpoint, full bool) error {
	r := l.r
	if c.Version != CheckpointVersion {
		return fmt.Errorf("checkpoint at step %d is incomplete: a component could not save its state", c.Step)
	}
	if len(c.Theta) != len(r.Theta) || len(c.Perm) != l.n {
		return fmt.Errorf("checkpoint does not fit this run: it has %d parameters and %d rows, the run %d and %d (was the config or the data changed?)",
			len(c.Theta), len(c.Perm), len(r.Theta), l.n)
	}
	if c.Step > l.total {
		return fmt.Errorf("checkpoint is at step %d, beyond this run's %d steps", c.Step, l.total)
	}
	copy(r.Theta, c.Theta)
	copy(l.perm, c.Perm)
	l.step, l.epochs, l.pos = c.Step, c.Epochs, c.Pos
	l.sum, l.count = c.LossSum, c.LossCount
	if err := l.shufflePCG.UnmarshalBinary(c.Shuffle); err != nil {
		return fmt.Errorf("checkpoint: shuffle stream: %w", err)
	}
	if err := l.trainPCG.UnmarshalBinary(c.TrainRNG); err != nil {
		return fmt.Errorf("checkpoint: trainer stream: %w", err)
	}
	r.Optimizer.SetLR(c.LR)
	if err := unmarshalState(r.Optimizer, c.Optimizer, "optimizer"); err != nil {
		return err
	}
	if err := unmarshalState(r.Trainer, c.Trainer, "trainer"); err != nil {
		return err
	}
	if err := unmarshalState(r.Sampler, c.Sampler, "sampler"); err != nil {
		return err
	}
	r.Eval.setCounts(c.Counts)
	if full {
		l.records = c.Records
		l.rollbacks = append([]Rollback{}, c.Rollbacks...)
		l.before = c.Seconds
		l.start = time.Now()
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
	if errors.As(err, &nf) {
		if nf.Step < 0 {
			nf.Step = step
		}
		return err
	}
	return fmt.Errorf("step %d: %w", step, err)
}

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
