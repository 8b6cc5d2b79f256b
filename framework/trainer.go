package framework

import (
	"context"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// TrainContext is what a trainer sees once, before the first step.
type TrainContext struct {
	Eval    *Evaluator
	Train   *mat.Dense // the whole training set, n×d
	Streams Streams    // the run's random streams
	Sampler Sampler    // the run's [sampler], nil when none is configured
}

// StepContext is what a trainer sees at each step.
type StepContext struct {
	Eval *Evaluator
	RNG  *rand.Rand // the trainer's own stream; draw from it in a fixed order
	Step int        // 0-based step number
	// Context, when set, is cancelled when the run is interrupted and the training loop can
	// undo the step (it has kept the state from before it). A trainer whose step can run for
	// long (many noise levels, draws, projections or sampler steps) checks Err between its
	// parts and returns that error, so that an interrupted run stops within a second; the
	// loop then puts everything back as it was before the step.
	Context context.Context
}

// Err returns the error of Context (nil when it is not set or not cancelled).
func (c *StepContext) Err() error {
	if c == nil || c.Context == nil {
		return nil
	}
	return c.Context.Err()
}

// Trainer is an estimator: a loss on a batch and its gradient in θ.
type Trainer interface {
	// Init checks that the trainer supports the energy (its domain and capabilities) and
	// prepares any state. Errors wrap ErrUnsupportedDomain where the domain is the problem.
	Init(ctx *TrainContext) error
	// Step returns the loss on batch at θ and, when grad is not nil, writes its gradient in
	// θ into grad (same length as θ). It does not change θ.
	Step(ctx *StepContext, batch *mat.Dense, theta, grad []float64) (loss float64, err error)
}

// ClosedFormer is implemented by trainers that can solve their loss directly. The training
// loop calls Solve instead of taking gradient steps when ClosedForm reports true.
type ClosedFormer interface {
	ClosedForm() bool
	// Solve writes the minimiser of the loss over the whole training set into theta and
	// returns the loss there.
	Solve(ctx *TrainContext, theta []float64) (loss float64, err error)
}

// Extender is implemented by trainers that learn parameters of their own beside the
// energy's (NCE's log Z). They are appended to θ after the energy's blocks; the energy sees
// only its own prefix, the trainer and optimizer see all of θ.
type Extender interface {
	ExtraBlocks() []Block
	InitExtra(dst []float64)
}

// PathReporter is implemented by trainers that derive some quantities by finite differences
// themselves (outside the Evaluator). Paths returns, for each such quantity, "exact" or
// "finite-difference"; run folders record it beside the Evaluator's own paths, so that a
// study never mixes the two silently.
type PathReporter interface {
	Paths() map[string]string
}

// Proximal is implemented by trainers with a non-smooth penalty handled by a proximal step
// after each optimizer update (an L1 penalty's soft threshold).
type Proximal interface {
	Prox(theta []float64, lr float64)
}

// Optimizer moves θ against a gradient.
type Optimizer interface {
	// Update takes one step on theta in place given grad.
	Update(theta, grad []float64)
	// LR returns the current learning rate; SetLR changes it (used when a run backs off).
	LR() float64
	SetLR(lr float64)
}

// Chains is a set of Markov chains, one per row of X, that a Sampler advances.
type Chains struct {
	X     *mat.Dense   // current states, one row per chain
	Theta []float64    // energy parameters
	Eval  *Evaluator   // the energy
	RNG   []*rand.Rand // one stream per chain
	// Adapt lets the sampler tune its step size (warm-up only; off while collecting samples).
	Adapt bool

	Proposed, Accepted int64     // transitions proposed and accepted, over all chains
	Energy             []float64 // E of each chain's current state, when the sampler knows it
}

// Sampler advances chains on an energy.
type Sampler interface {
	// Supports returns nil if the sampler can run on energies of this spec, or an error
	// (wrapping ErrUnsupportedDomain) saying why not.
	Supports(spec Spec) error
	// Run advances every chain by steps transitions.
	Run(c *Chains, steps int) error
}
