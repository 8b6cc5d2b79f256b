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

// Guard is the divergence guard. A step diverges when it produces a NaN or Inf (in the loss,
// the gradient, its norm, the parameters, any energy output, or a figure of the metrics
// record) or a finite loss beyond the limits below. With MaxRollbacks > 0 the run then goes
// back to its last good state (a snapshot kept in memory every LogEvery steps, and confirmed
// good by the step after it), multiplies the learning rate by LRFactor and goes on; after
// MaxRollbacks rollbacks, or at once when MaxRollbacks is 0, it stops with the diagnostic.
// Snapshots are taken only when MaxRollbacks > 0. Checkpoints carry the last good state, so a
// resumed run rolls back exactly where the uninterrupted run would.
type Guard struct {
	MaxRollbacks int     // 0: stop at the first divergence (and keep no snapshots)
	LRFactor     float64 // learning-rate multiplier per rollback, in (0, 1)
	MaxLoss      float64 // |loss| above this is divergence (0: no absolute limit)
	// MaxLossRatio makes a loss divergent when |loss| exceeds MaxLossRatio times the loss's
	// scale: the smallest max(1, |loss|) of the run's steps so far (0: off). The scale never
	// rises, so a loss that grows step after step is caught however slowly it grows.
	MaxLossRatio float64
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
	// OnCheckpoint receives a checkpoint every Schedule.CheckpointEvery steps, when the run is
	// interrupted through its context, and once more after the last step, before Train
	// returns (so that outputs written after it can be redone from it); an error stops the run.
	OnCheckpoint func(*Checkpoint) error
	// OnStep, when set, is called after every step (for progress displays).
	OnStep func(step, total int, loss float64)

	started bool
	tctx    *TrainContext
	cf      ClosedFormer
	bo      BatchOptimizer
	loop    *loop
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
	// Averaged: θ at the end is the optimizer's average of the iterates (Averager).
	Averaged bool `json:"averaged,omitempty"`
}

// ErrInterrupted is wrapped by the error Train returns when its context is cancelled: the
// run stopped between two steps and handed a checkpoint to OnCheckpoint, or, when the
// cancellation stopped a request of a step (an energy that waits on another process gets
// the context in its framework.Env), abandoned that step without a checkpoint.
var ErrInterrupted = errors.New("interrupted")

// DivergedError is a finite loss beyond Guard.MaxLoss, or beyond Guard.MaxLossRatio times the
// loss's scale (then Scale is that scale and Limit the ratio times it).
type DivergedError struct {
	Value, Limit float64
	Scale        float64 // 0 for the absolute limit MaxLoss
	Step         int
}

func (e *DivergedError) Error() string {
	if e.Scale > 0 {
		return fmt.Sprintf("loss %g beyond the divergence threshold %g (max_loss_ratio × the loss's scale %g so far) at step %d", e.Value, e.Limit, e.Scale, e.Step)
	}
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

// Init readies the run without training: it calls the trainer's Init (its checks of the
// energy's domain and capabilities, and of the sampler), sizes the loop and, when Resume is
// set, checks the checkpoint against the run and restores it into θ and every component.
// Train calls it when the caller has not. Call it first when nothing may be written before
// every check has passed (run folders do). It does nothing the second time.
func (r *Run) Init() error {
	if r.started {
		return nil
	}
	tctx := &TrainContext{Eval: r.Eval, Train: r.Train, Streams: r.Streams, Sampler: r.Sampler}
	if err := r.Trainer.Init(tctx); err != nil {
		return err
	}
	r.tctx = tctx
	if cf, ok := r.Trainer.(ClosedFormer); ok && cf.ClosedForm() {
		r.cf, r.started = cf, true
		return nil
	}
	if bo, ok := r.Optimizer.(BatchOptimizer); ok {
		if _, ok := r.Trainer.(NoiseFixer); !ok {
			return fmt.Errorf("train: the optimizer minimises the whole objective at once, which needs a trainer whose loss is a deterministic function of θ on the data (sm, pl, rm, mle, nce, dsm, ssm); %T draws samples from a sampler: use adam or sgd", r.Trainer)
		}
		if c := r.Resume; c != nil {
			n, _ := r.Train.Dims()
			if err := c.check(n, len(r.Theta), math.MaxInt); err != nil {
				return err
			}
		}
		r.bo, r.started = bo, true
		return nil
	}
	l, err := newLoop(r)
	if err != nil {
		return err
	}
	if r.Resume != nil {
		if err := l.restore(r.Resume, true); err != nil {
			return err
		}
	}
	if r.Schedule.Guard.MaxRollbacks > 0 && l.good == nil {
		l.good = l.snapshot()
	}
	r.loop, r.started = l, true
	return nil
}

// Train runs the training loop: it draws minibatches (shuffled per epoch from the "shuffle"
// stream), asks the trainer for the loss and its gradient, checks both are finite, clips,
// takes an optimizer step and a proximal step if the trainer has one, and records metrics.
// A trainer that solves its loss in closed form is solved once instead. A run resumed from a
// checkpoint ends with exactly the parameters of an uninterrupted one.
//
// When ctx is cancelled the run stops after the current step, or, when the trainer checks
// StepContext.Err and the loop has kept the state from before the step, within the step
// (the step is then undone); it hands a checkpoint to OnCheckpoint and returns an error
// wrapping ErrInterrupted.
func Train(ctx context.Context, r *Run) (*Outcome, error) {
	if err := r.Init(); err != nil {
		return nil, err
	}
	if r.cf != nil {
		return r.closedForm(r.cf, r.tctx)
	}
	if r.bo != nil {
		return r.batch(ctx, r.bo, r.tctx)
	}
	l := r.loop
	guard := r.Schedule.Guard.MaxRollbacks > 0
	snapEvery := max(r.Schedule.LogEvery, 1)
	for l.step < l.total {
		if err := ctx.Err(); err != nil {
			return l.interrupt(err)
		}
		if err := l.oneStep(ctx); err != nil {
			var ab *abandonedStep
			if errors.As(err, &ab) {
				// The step saw the interruption and gave up: put back the state from before it.
				if uerr := l.undo(); uerr != nil {
					return l.outcome(), uerr
				}
				return l.interrupt(ctx.Err())
			}
			if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
				// The interruption stopped a request in flight (a plugin's) in a step the loop
				// cannot undo (a stateful trainer's fast step): the step is abandoned half way,
				// which is no state to save, so the last checkpoint stands.
				return l.outcome(), fmt.Errorf("train: %w during step %d of %d, which was abandoned (no checkpoint of it): %w", ErrInterrupted, l.step+1, l.total, cerr)
			}
			q, v, step, ok := divergence(err)
			if !ok {
				return l.outcome(), err
			}
			if len(l.rollbacks) >= r.Schedule.Guard.MaxRollbacks {
				if len(l.rollbacks) > 0 {
					return l.outcome(), fmt.Errorf("train: diverged again after %d rollbacks (learning rate now %g): %w", len(l.rollbacks), r.Optimizer.LR(), err)
				}
				return l.outcome(), err
			}
			if step < 0 {
				step = l.step
			}
			lr := r.Optimizer.LR() * r.Schedule.Guard.LRFactor
			records := l.records
			if err := l.restore(l.good, false); err != nil {
				return l.outcome(), err
			}
			l.records = records
			r.Optimizer.SetLR(lr)
			rb := Rollback{Step: step, Quantity: q, Value: v, ToStep: l.step, LR: lr}
			l.rollbacks = append(l.rollbacks, rb)
			if err := l.emit(Metrics{Step: l.step, LR: lr, Rollback: &rb}); err != nil {
				return l.outcome(), err
			}
			l.good, l.pending = l.snapshot(), nil
			continue
		}
		if l.pending != nil && l.step > l.pending.Step {
			l.good, l.pending = l.pending, nil
		}
		if guard && l.step%snapEvery == 0 {
			l.pending = l.snapshot()
		}
		if ce := r.Schedule.CheckpointEvery; ce > 0 && l.step%ce == 0 && l.step < l.total && r.OnCheckpoint != nil {
			if err := r.OnCheckpoint(l.checkpoint()); err != nil {
				return l.outcome(), fmt.Errorf("train: checkpoint at step %d: %w", l.step, err)
			}
		}
	}
	if r.OnCheckpoint != nil {
		if err := r.OnCheckpoint(l.checkpoint()); err != nil {
			return l.outcome(), fmt.Errorf("train: final checkpoint at step %d: %w", l.step, err)
		}
	}
	l.average()
	return l.outcome(), nil
}

// abandonedStep is a trainer step that failed after the run was interrupted, with the state
// from before it kept: the loop undoes it.
type abandonedStep struct{ err error }

func (a *abandonedStep) Error() string { return "step abandoned: " + a.err.Error() }
func (a *abandonedStep) Unwrap() error { return a.err }

// interrupt hands the checkpoint of the current state to OnCheckpoint and returns the error
// of an interrupted run.
func (l *loop) interrupt(cause error) (*Outcome, error) {
	if l.r.OnCheckpoint != nil {
		if cerr := l.r.OnCheckpoint(l.checkpoint()); cerr != nil {
			return l.outcome(), fmt.Errorf("train: interrupted after step %d, and the checkpoint failed: %w", l.step, cerr)
		}
	}
	return l.outcome(), fmt.Errorf("train: %w after step %d of %d: %w", ErrInterrupted, l.step, l.total, cause)
}

// divergence reports whether err is a divergence the guard may recover from, what went bad
// and at which step (−1 when the error does not say).
func divergence(err error) (quantity string, value float64, step int, ok bool) {
	var nf *NonFiniteError
	if errors.As(err, &nf) {
		return nf.Quantity, nf.Value, nf.Step, true
	}
	var de *DivergedError
	if errors.As(err, &de) {
		return "loss", de.Value, de.Step, true
	}
	return "", 0, -1, false
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
	averaged         bool // θ was replaced by the optimizer's average at the end
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
	scale            float64 // the loss's scale for Guard.MaxLossRatio (0 before the first step)
	records          int
	rollbacks        []Rollback
	start            time.Time
	before           float64 // seconds spent before a resume
	lastLoss, lastGN float64
	trainLoss        float64
	validLoss        *float64

	// The divergence guard (MaxRollbacks > 0 only): good is the last state whose loss has
	// been seen finite and in bounds; pending, a snapshot of the state at the current step,
	// becomes good once the step after it has checked its loss.
	good, pending *Checkpoint

	// The state from before the current step, to undo a step abandoned on interruption.
	undoable             bool
	prePos               int
	preRNG               []byte
	preCounts            Counts
	preTrainer, preSampl []byte
	slow                 bool // the last step took long enough to be worth saving the trainer's state
}

// slowStep is how long a step must take for the loop to save a stateful trainer's state
// before the next one, so that the next can be abandoned when the run is interrupted.
const slowStep = 50 * time.Millisecond

func newLoop(r *Run) (*loop, error) {
	n, d := r.Train.Dims()
	total := r.Schedule.TotalSteps(n)
	if total <= 0 {
		return nil, fmt.Errorf("train: the schedule runs no steps (steps = %d, epochs = %d)", r.Schedule.Steps, r.Schedule.Epochs)
	}
	l := &loop{r: r, total: total, n: n, d: d, b: min(max(r.Schedule.Batch, 1), n),
		grad: make([]float64, len(r.Theta)), perm: make([]int, n), pos: n,
		shufflePCG: r.Streams.PCG("shuffle", 0), trainPCG: r.Streams.PCG("trainer", 0),
		start: time.Now(), rollbacks: []Rollback{}, slow: true}
	l.batch = mat.NewDense(l.b, d, nil)
	for i := range l.perm {
		l.perm[i] = i
	}
	l.shuffle = rand.New(l.shufflePCG)
	l.sctx = StepContext{Eval: r.Eval, RNG: rand.New(l.trainPCG)}
	l.prox, _ = r.Trainer.(Proximal)
	if h, ok := r.Optimizer.(Horizoner); ok {
		h.SetHorizon(total)
	}
	return l, nil
}

// mark keeps what a step changes before it can fail or be abandoned: the position in the
// epoch, the trainer's stream, the work counts and the sampler's state (all small), and the
// trainer's own state when it has one and the last step was slow. It returns whether the
// step can be undone.
func (l *loop) mark() bool {
	r := l.r
	l.prePos, l.preRNG, l.preCounts = l.pos, pcgState(l.trainPCG), r.Eval.Counts()
	l.preTrainer, l.preSampl = nil, nil
	var err error
	if l.preSampl, err = marshalState(r.Sampler); err != nil {
		return false
	}
	if _, ok := r.Trainer.(Stateful); ok {
		if !l.slow {
			return false
		}
		if l.preTrainer, err = marshalState(r.Trainer); err != nil {
			return false
		}
	}
	return true
}

// undo puts back the state mark kept.
func (l *loop) undo() error {
	r := l.r
	l.pos = l.prePos
	if err := l.trainPCG.UnmarshalBinary(l.preRNG); err != nil {
		return fmt.Errorf("train: undo step %d: %w", l.step, err)
	}
	r.Eval.setCounts(l.preCounts)
	if l.preTrainer != nil {
		if err := unmarshalState(r.Trainer, l.preTrainer, "trainer"); err != nil {
			return err
		}
	}
	if l.preSampl != nil {
		if err := unmarshalState(r.Sampler, l.preSampl, "sampler"); err != nil {
			return err
		}
	}
	return nil
}

// oneStep takes one optimizer step and records metrics when due. The trainer sees ctx only
// when the step can be undone.
func (l *loop) oneStep(ctx context.Context) error {
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
	began := time.Now()
	l.undoable = l.mark()
	l.sctx.Context = nil
	if l.undoable {
		l.sctx.Context = ctx
	}
	defer func() { l.slow = time.Since(began) >= slowStep }()

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
		if l.undoable && ctx.Err() != nil {
			return &abandonedStep{err}
		}
		return atStep(err, step)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return &NonFiniteError{Quantity: "loss", Source: "trainer", Index: -1, Value: loss, Step: step}
	}
	g := r.Schedule.Guard
	if g.MaxLoss > 0 && math.Abs(loss) > g.MaxLoss {
		return &DivergedError{Value: loss, Limit: g.MaxLoss, Step: step}
	}
	if g.MaxLossRatio > 0 && l.scale > 0 && math.Abs(loss) > g.MaxLossRatio*l.scale {
		return &DivergedError{Value: loss, Limit: g.MaxLossRatio * l.scale, Scale: l.scale, Step: step}
	}
	if err := FiniteVec("gradient", "trainer", l.grad); err != nil {
		return atStep(err, step)
	}
	gnorm := norm(l.grad)
	if math.IsInf(gnorm, 0) {
		return &NonFiniteError{Quantity: "gradient norm", Source: "trainer", Index: -1, Value: gnorm, Step: step}
	}
	if math.IsInf(l.sum+loss, 0) {
		return &NonFiniteError{Quantity: "mean loss since the last record", Source: "trainer", Index: -1, Value: l.sum + loss, Step: step}
	}
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
	if s := max(1, math.Abs(loss)); l.scale == 0 || s < l.scale {
		l.scale = s
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
		Counts: l.r.Eval.Counts(), Rollbacks: l.rollbacks, Averaged: l.averaged}
	if sec > 0 {
		out.StepsPerSec = float64(l.step) / sec
	}
	return out
}

// snapshot captures the loop's state in memory: θ, the position in the data, the random
// streams and each component's state (framework.Stateful, in the component's own binary
// form). It is what the guard rolls back to, and the body of a checkpoint.
func (l *loop) snapshot() *Checkpoint {
	r := l.r
	c := &Checkpoint{Version: CheckpointVersion, Step: l.step, Epochs: l.epochs, Pos: l.pos,
		Perm: append([]int(nil), l.perm...), Theta: append([]float64(nil), r.Theta...),
		LR: r.Optimizer.LR(), Shuffle: pcgState(l.shufflePCG), TrainRNG: pcgState(l.trainPCG),
		Counts: r.Eval.Counts(), Records: l.records, LossSum: l.sum, LossCount: l.count, LossScale: l.scale,
		TrainLoss: l.trainLoss, ValidLoss: l.validLoss,
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

// checkpoint is snapshot plus the guard's last good state, for OnCheckpoint.
func (l *loop) checkpoint() *Checkpoint {
	c := l.snapshot()
	if l.r.Schedule.Guard.MaxRollbacks > 0 {
		c.Good = l.good
		c.Pending = l.pending != nil
	}
	return c
}

// restore puts the loop back to c, after checking that c fits the run. full also restores
// the wall-clock and metrics offsets, the rollbacks and the guard's state (a resume); a
// rollback keeps them.
func (l *loop) restore(c *Checkpoint, full bool) error {
	r := l.r
	if err := c.check(l.n, len(r.Theta), l.total); err != nil {
		return err
	}
	if full && c.Good != nil {
		if err := c.Good.check(l.n, len(r.Theta), l.total); err != nil {
			return fmt.Errorf("the guard's last good state: %w", err)
		}
		if c.Good.Good != nil || c.Good.Step > c.Step {
			return fmt.Errorf("%w: the guard's last good state is at step %d, after the checkpoint's %d", ErrBadCheckpoint, c.Good.Step, c.Step)
		}
	}
	copy(r.Theta, c.Theta)
	copy(l.perm, c.Perm)
	l.step, l.epochs, l.pos = c.Step, c.Epochs, c.Pos
	l.sum, l.count, l.scale = c.LossSum, c.LossCount, c.LossScale
	if err := l.shufflePCG.UnmarshalBinary(c.Shuffle); err != nil {
		return fmt.Errorf("%w: shuffle stream: %w", ErrBadCheckpoint, err)
	}
	if err := l.trainPCG.UnmarshalBinary(c.TrainRNG); err != nil {
		return fmt.Errorf("%w: trainer stream: %w", ErrBadCheckpoint, err)
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
		l.trainLoss, l.validLoss = c.TrainLoss, c.ValidLoss
		l.good, l.pending = nil, nil
		if r.Schedule.Guard.MaxRollbacks > 0 {
			l.good = c.Good
			if c.Pending {
				l.pending = l.snapshot()
			}
		}
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
