package framework

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// divergingRun is resumableRun (a trainer drawing from its stream every step, a stateful
// optimizer) with a learning rate at which momentum diverges, so that the guard rolls back;
// after one halving it converges. Snapshots are taken every 4 steps.
func divergingRun() *Run {
	r := resumableRun()
	r.Optimizer = &momentum{lr: 4.5}
	r.Schedule.LogEvery = 4
	r.Schedule.Steps = 60
	r.Schedule.Guard = Guard{MaxRollbacks: 3, LRFactor: 0.5, MaxLoss: 50}
	return r
}

// With the guard on and rollbacks in the run, a run interrupted at any step (right after a
// bad step included) and resumed from its checkpoint file ends with the uninterrupted run's
// parameters and rollbacks, bit for bit: the checkpoint holds the guard's last good state.
func TestGuardResumeBitIdentical(t *testing.T) {
	ref := divergingRun()
	var refRecords []Metrics
	ref.OnMetrics = func(m Metrics) error { refRecords = append(refRecords, m); return nil }
	out, err := Train(context.Background(), ref)
	require.NoError(t, err)
	require.NotEmpty(t, out.Rollbacks, "the run must roll back for the test to mean anything")
	// Interruption points around and after each rollback.
	for stop := 1; stop < 60; stop++ {
		path := filepath.Join(t.TempDir(), "checkpoint.json")
		r := divergingRun()
		ctx, cancel := context.WithCancel(context.Background())
		steps := 0
		r.OnStep = func(int, int, float64) {
			if steps++; steps == stop {
				cancel()
			}
		}
		r.OnCheckpoint = func(c *Checkpoint) error { return WriteJSONAtomic(path, c) }
		var records []Metrics
		r.OnMetrics = func(m Metrics) error { records = append(records, m); return nil }
		_, err := Train(ctx, r)
		if err == nil {
			continue // the step count never reached stop (rollbacks repeat steps)
		}
		require.ErrorIs(t, err, ErrInterrupted)
		cp, err := ReadCheckpoint(path)
		require.NoError(t, err)
		records = records[:cp.Records]

		r2 := divergingRun()
		r2.Resume = cp
		r2.OnMetrics = func(m Metrics) error { records = append(records, m); return nil }
		out2, err := Train(context.Background(), r2)
		require.NoError(t, err, "interrupted after %d steps", stop)
		assert.Equal(t, ref.Theta, r2.Theta, "interrupted after %d steps", stop)
		assert.Equal(t, out.Rollbacks, out2.Rollbacks, "interrupted after %d steps", stop)
		require.Len(t, records, len(refRecords), "interrupted after %d steps", stop)
		for i := range records {
			assert.Equal(t, refRecords[i].Step, records[i].Step)
			assert.Equal(t, refRecords[i].Loss, records[i].Loss)
		}
	}
}

// countingTrainer counts how often its state is saved.
type countingTrainer struct {
	noisyTrainer
	saves int
}

func (c *countingTrainer) MarshalBinary() ([]byte, error) {
	c.saves++
	return c.noisyTrainer.MarshalBinary()
}

// With max_rollbacks = 0 the guard keeps no snapshots: a fast run saves its trainer's state
// once (before its first step, whose length is not known yet), not every log_every steps.
func TestGuardOffTakesNoSnapshots(t *testing.T) {
	for _, rollbacks := range []int{0, 2} {
		r := resumableRun()
		tr := &countingTrainer{}
		r.Trainer = tr
		r.Schedule.LogEvery = 2
		r.Schedule.Guard = Guard{MaxRollbacks: rollbacks, LRFactor: 0.5}
		_, err := Train(context.Background(), r)
		require.NoError(t, err)
		if rollbacks == 0 {
			assert.LessOrEqual(t, tr.saves, 1, "guard off")
		} else {
			assert.GreaterOrEqual(t, tr.saves, 20, "guard on: a snapshot every 2 of 40 steps")
		}
	}
}

// explodingTrainer's loss is 10^step at θ (a run whose loss reaches 1e162 while finite).
type explodingTrainer struct{}

func (explodingTrainer) Init(*TrainContext) error { return nil }
func (explodingTrainer) Step(ctx *StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	for i := range grad {
		grad[i] = 0
	}
	return math.Pow(10, float64(ctx.Step)), nil
}

// The relative rule catches a loss that grows step after step, however slowly; the absolute
// rule and the rule being off let it reach 1e162.
func TestLossRatioCatchesAGrowingLoss(t *testing.T) {
	r := testRun(explodingTrainer{}, 163)
	r.Schedule.Guard = Guard{MaxLossRatio: 1e8}
	_, err := Train(context.Background(), r)
	var de *DivergedError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 9, de.Step, "10⁹ > 1e8 × the scale 1 of the first loss")
	assert.Contains(t, err.Error(), "at step 9")

	r = testRun(explodingTrainer{}, 163)
	out, err := Train(context.Background(), r)
	require.NoError(t, err, "without the rule the run ends 'well'")
	assert.Greater(t, out.TrainLoss, 1e150)
}

// spikeTrainer returns, the first time it reaches step `at`, a gradient whose norm overflows
// (entries of 1e200) or a loss whose sum with the next overflows.
type spikeTrainer struct {
	meanTrainer
	at    int
	what  string
	fired int
}

func (s *spikeTrainer) Step(ctx *StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	loss, err := s.meanTrainer.Step(ctx, batch, theta, grad)
	if grad == nil || ctx.Step < s.at || ctx.Step > s.at+1 || s.fired >= 2 {
		return loss, err
	}
	s.fired++
	switch s.what {
	case "grad":
		if ctx.Step == s.at {
			for i := range grad {
				grad[i] = 1e200
			}
		}
	case "loss":
		loss = math.MaxFloat64 / 1.5
	}
	return loss, err
}

// An overflow in a logged figure (the gradient's norm, the mean loss of a record) is a
// divergence the guard rolls back, naming the step; the record of the rollback, whose value
// is not finite, is written as JSON (null) without stopping the run.
func TestOverflowInLoggedFiguresRollsBack(t *testing.T) {
	for _, c := range []struct{ what, quantity string }{{"grad", "gradient norm"}, {"loss", "mean loss since the last record"}} {
		t.Run(c.what, func(t *testing.T) {
			r := testRun(&spikeTrainer{meanTrainer: meanTrainer{nanAt: -1}, at: 7, what: c.what}, 120)
			r.Schedule.LogEvery = 5
			r.Schedule.Guard = Guard{MaxRollbacks: 2, LRFactor: 0.5}
			var lines []string
			r.OnMetrics = func(m Metrics) error {
				b, err := MarshalJSON(m, false)
				if err == nil {
					lines = append(lines, string(b))
				}
				return err
			}
			out, err := Train(context.Background(), r)
			require.NoError(t, err)
			require.NotEmpty(t, out.Rollbacks)
			rb := out.Rollbacks[0]
			assert.Equal(t, c.quantity, rb.Quantity)
			want := 7
			if c.what == "loss" {
				want = 8 // the second huge loss makes the sum overflow
			}
			assert.Equal(t, want, rb.Step)
			assert.True(t, math.IsInf(rb.Value, 1))
			joined := strings.Join(lines, "\n")
			assert.Contains(t, joined, `"value":null`)
			assert.InDelta(t, 6.0, r.Theta[0], 1e-6, "the run recovers and converges")
		})
	}
	// With the guard off the same run stops with the step named.
	r := testRun(&spikeTrainer{meanTrainer: meanTrainer{nanAt: -1}, at: 7, what: "grad"}, 40)
	_, err := Train(context.Background(), r)
	var nf *NonFiniteError
	require.ErrorAs(t, err, &nf)
	assert.Equal(t, "gradient norm", nf.Quantity)
	assert.Equal(t, 7, nf.Step)
}

// slowTrainer's step runs in parts, drawing from its stream, and gives up between parts when
// its context is cancelled (StepContext.Err), as dsm does between noise levels.
type slowTrainer struct {
	meanTrainer
	parts   int
	started chan struct{}
	sleep   bool // make step 3 slow (2 s): results do not depend on it
}

func (s *slowTrainer) Step(ctx *StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	if s.started != nil && ctx.Step == 3 {
		close(s.started)
		s.started = nil
	}
	sum := 0.0
	for p := 0; p < s.parts; p++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		sum += ctx.RNG.NormFloat64()
		if s.sleep && ctx.Step == 3 && grad != nil {
			time.Sleep(time.Millisecond)
		}
	}
	loss, err := s.meanTrainer.Step(ctx, batch, theta, grad)
	for i := range grad {
		grad[i] += 1e-3 * sum
	}
	return loss, err
}

// A long step stops soon after the run's context is cancelled; the loop puts back the state
// from before it (the trainer's stream included), checkpoints it, and the resumed run ends
// with the uninterrupted one's parameters bit for bit.
func TestLongStepIsInterruptible(t *testing.T) {
	mk := func() *Run { return testRun(&slowTrainer{meanTrainer: meanTrainer{nanAt: -1}, parts: 2000}, 8) }
	ref := mk()
	_, err := Train(context.Background(), ref)
	require.NoError(t, err)

	r := mk()
	st := r.Trainer.(*slowTrainer)
	st.started, st.sleep = make(chan struct{}), true
	started := st.started
	ctx, cancel := context.WithCancel(context.Background())
	var cp *Checkpoint
	r.OnCheckpoint = func(c *Checkpoint) error {
		b, err := MarshalJSON(c, false)
		if err != nil {
			return err
		}
		cp, err = ParseCheckpoint("cp", b)
		return err
	}
	go func() { <-started; time.Sleep(20 * time.Millisecond); cancel() }()
	begin := time.Now()
	_, err = Train(ctx, r)
	require.ErrorIs(t, err, ErrInterrupted)
	assert.Less(t, time.Since(begin), 1500*time.Millisecond, "step 3 alone takes 2 s uninterrupted")
	require.NotNil(t, cp)
	assert.Equal(t, 3, cp.Step, "the checkpoint is the state before the abandoned step")

	r2 := mk()
	r2.Resume = cp
	_, err = Train(context.Background(), r2)
	require.NoError(t, err)
	assert.Equal(t, ref.Theta, r2.Theta)
}

// An edited or damaged checkpoint gives an error wrapping ErrBadCheckpoint, never a panic:
// each field out of its range, component state that does not decode.
func TestCheckpointRangeChecked(t *testing.T) {
	good := func() *Checkpoint {
		r := resumableRun()
		var cp *Checkpoint
		r.OnCheckpoint = func(c *Checkpoint) error { cp = c; return nil }
		_, err := Train(cancelAt(r, 10), r)
		require.ErrorIs(t, err, ErrInterrupted)
		b, err := MarshalJSON(cp, false)
		require.NoError(t, err)
		c, err := ParseCheckpoint("cp", b)
		require.NoError(t, err)
		return c
	}
	for _, c := range []struct {
		name string
		edit func(c *Checkpoint)
		want string
	}{
		{"perm out of range", func(c *Checkpoint) { c.Perm[3] = 50 }, "not a permutation"},
		{"perm negative", func(c *Checkpoint) { c.Perm[0] = -1 }, "not a permutation"},
		{"perm repeats a row", func(c *Checkpoint) { c.Perm[1] = c.Perm[0] }, "not a permutation"},
		{"pos = -5", func(c *Checkpoint) { c.Pos = -5 }, "position -5"},
		{"pos beyond the rows", func(c *Checkpoint) { c.Pos = 51 }, "position 51"},
		{"step beyond the run", func(c *Checkpoint) { c.Step = 1 << 30 }, "outside this run's"}, // int is 32 bits on 386
		{"negative step", func(c *Checkpoint) { c.Step = -1 }, "outside this run's"},
		{"negative epochs", func(c *Checkpoint) { c.Epochs = -3 }, "epochs"},
		{"negative records", func(c *Checkpoint) { c.Records = -1 }, "metrics records"},
		{"theta too short", func(c *Checkpoint) { c.Theta = c.Theta[:1] }, "parameters"},
		{"perm too long", func(c *Checkpoint) { c.Perm = append(c.Perm, 50) }, "rows"},
		{"negative learning rate", func(c *Checkpoint) { c.LR = -1 }, "learning rate"},
		{"loss scale below 1", func(c *Checkpoint) { c.LossScale = 0.5 }, "loss scale"},
		{"negative counts", func(c *Checkpoint) { c.Counts.Rows = -4 }, "work counts"},
		{"rollback forward", func(c *Checkpoint) { c.Rollbacks = []Rollback{{Step: 2, ToStep: 5, LR: 1}} }, "rollback 0"},
		{"shuffle stream", func(c *Checkpoint) { c.Shuffle = []byte("x") }, "shuffle stream"},
		{"optimizer state", func(c *Checkpoint) { c.Optimizer = []byte("{") }, "optimizer state"},
		{"trainer state missing", func(c *Checkpoint) { c.Trainer = nil }, "trainer state"},
		{"good state after the checkpoint", func(c *Checkpoint) { g := *c; g.Step = c.Step + 1; c.Good = &g }, "good state"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cp := good()
			c.edit(cp)
			r := resumableRun()
			r.Schedule.Guard = Guard{MaxRollbacks: 1, LRFactor: 0.5}
			r.Resume = cp
			var err error
			require.NotPanics(t, func() { _, err = Train(context.Background(), r) })
			require.ErrorIs(t, err, ErrBadCheckpoint)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	_, err := ParseCheckpoint("cp.json", []byte(`{"version": 2, "perm": "x"}`))
	require.ErrorIs(t, err, ErrBadCheckpoint)
	assert.Contains(t, err.Error(), "cp.json is damaged")
	_, err = ParseCheckpoint("cp.json", []byte(`{"version": 1}`))
	require.ErrorIs(t, err, ErrBadCheckpoint)
	assert.Contains(t, err.Error(), "format version 1")
}

// FuzzRestore: any checkpoint.json either restores into the run (which then trains to the
// end with finite parameters) or gives an error, never a panic.
func FuzzRestore(f *testing.F) {
	r := resumableRun()
	var cp *Checkpoint
	r.OnCheckpoint = func(c *Checkpoint) error { cp = c; return nil }
	if _, err := Train(cancelAt(r, 10), r); !errors.Is(err, ErrInterrupted) {
		f.Fatal(err)
	}
	good, err := MarshalJSON(cp, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, edit := range []func(c map[string]any){
		func(c map[string]any) { c["perm"].([]any)[0] = 99 },
		func(c map[string]any) { c["pos"] = -5 },
		func(c map[string]any) { c["step"] = 1e12 },
		func(c map[string]any) { c["good"] = map[string]any{"version": 2, "step": 3} },
	} {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			f.Fatal(err)
		}
		edit(m)
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCheckpoint("fuzz.json", in)
		if err != nil {
			return
		}
		r := resumableRun()
		r.Schedule.Guard = Guard{MaxRollbacks: 1, LRFactor: 0.5}
		r.Resume = c
		if _, err := Train(context.Background(), r); err != nil {
			return
		}
		if err := FiniteVec("theta", "fuzz", r.Theta); err != nil {
			t.Fatal(err)
		}
	})
}
