package framework

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
)

// BatchOptimizer is implemented by optimizers that minimise the whole training objective
// themselves: deterministic, full-batch methods such as L-BFGS and Newton. Train hands them
// the objective over all the training data (a BatchProblem) in place of the minibatch loop.
//
// Minimize starts at theta, leaves the solution in it and reports how and why it stopped.
// It must return promptly, with the error of p, when a function of p fails (an energy error,
// a cancelled context).
type BatchOptimizer interface {
	Minimize(p *BatchProblem, theta []float64) (*SolverReport, error)
}

// BatchProblem is a training objective f(θ) over a fixed data set, as a BatchOptimizer sees
// it.
type BatchProblem struct {
	// Func returns f(θ) and, when grad is not nil, writes ∇f(θ) into it.
	Func func(theta, grad []float64) (float64, error)
	// Hess writes ∇²f(θ) into dst: exactly where the trainer offers it (Hessianer), else by
	// central differences of ∇f (HessianByDifferences).
	Hess func(theta []float64, dst *mat.SymDense) error
	// MaxIterations limits the major iterations of one solve; 0 means no limit.
	MaxIterations int
	// Iteration is called after every major iteration with its number (from 1), f and the
	// largest absolute gradient component; an error stops the solve.
	Iteration func(iter int, f, gradMax float64) error
}

// SolverReport says how a BatchOptimizer's solve ended. Train records it in Outcome.Solver
// (summary.json's "solver").
type SolverReport struct {
	Method string `json:"method"`
	// Status is the reason for stopping, as gonum/optimize names it: "GradientThreshold"
	// (converged: max |∂f/∂θₖ| below grad_tol), "FunctionConvergence" (f stopped changing),
	// "IterationLimit", "Failure" (the line search could make no progress), ...
	Status     string `json:"status"`
	Converged  bool   `json:"converged"`
	Iterations int    `json:"iterations"`
	// Evaluations counts full passes over the data: one per (f, ∇f) pair the trainer computed.
	Evaluations int     `json:"evaluations"`
	HessEvals   int     `json:"hessian_evaluations"`
	GradMax     float64 `json:"grad_max"` // max |∂f/∂θₖ| at the solution
	Loss        float64 `json:"loss"`
	// NoiseRounds is the number of solves, each with the trainer's noise drawn afresh and held
	// fixed during it (nce, dsm, ssm); 1 for trainers that draw no noise.
	NoiseRounds int    `json:"noise_rounds"`
	Message     string `json:"message,omitempty"` // what went wrong, when not converged
}

// NoiseFixer is implemented by trainers whose loss over a fixed batch is a deterministic
// function of θ, or can be made one: FixNoise(seed) makes every later Step draw the noise it
// needs (NCE's noise sample, DSM's corruptions, SSM's projections) from a fresh stream of
// seed, so that Step on the same batch and θ gives the same loss and gradient. Trainers that
// draw no noise implement it as a no-op. A BatchOptimizer runs only trainers that implement
// it (contrastive divergence, whose negatives come from a sampler, does not).
type NoiseFixer interface {
	FixNoise(seed uint64)
}

// Hessianer is implemented by trainers that compute the Hessian of their loss in θ on a batch
// (exactly where they can: sm, pl and rm with an energy linear in θ).
type Hessianer interface {
	Hessian(ctx *StepContext, batch *mat.Dense, theta []float64, dst *mat.SymDense) error
}

// BatchIterations is the iteration limit a BatchOptimizer gets from a schedule: [train]
// steps, or epochs when steps is 0.
func (s Schedule) BatchIterations() int {
	if s.Steps > 0 {
		return s.Steps
	}
	return s.Epochs
}

// HessianByDifferences writes into dst the Hessian of f at θ by central differences of its
// gradient, column k from ∇f(θ ± hₖeₖ) with hₖ = step·max(1, |θₖ|), symmetrised. It costs 2p
// gradient evaluations; its error is O(h²) (zero for quadratic f) plus rounding
// O(ε|∇f|/h).
func HessianByDifferences(f func(theta, grad []float64) (float64, error), theta []float64, step float64, dst *mat.SymDense) error {
	p := len(theta)
	th := append([]float64(nil), theta...)
	gp, gm := make([]float64, p), make([]float64, p)
	cols := make([]float64, p*p)
	for k := 0; k < p; k++ {
		h := step * math.Max(1, math.Abs(theta[k]))
		h = (theta[k] + h) - theta[k]
		th[k] = theta[k] + h
		if _, err := f(th, gp); err != nil {
			return err
		}
		th[k] = theta[k] - h
		if _, err := f(th, gm); err != nil {
			return err
		}
		th[k] = theta[k]
		for j := 0; j < p; j++ {
			cols[j*p+k] = (gp[j] - gm[j]) / (2 * h)
		}
	}
	for i := 0; i < p; i++ {
		for j := i; j < p; j++ {
			dst.SetSym(i, j, 0.5*(cols[i*p+j]+cols[j*p+i]))
		}
	}
	return nil
}

// proxActive reports whether a trainer's proximal step changes a vector of ones: whether it
// has a non-smooth penalty switched on.
func proxActive(px Proximal, p int) bool {
	v := make([]float64, p)
	for i := range v {
		v[i] = 1
	}
	px.Prox(v, 1)
	for _, x := range v {
		if x != 1 {
			return true
		}
	}
	return false
}

// batchHessStep is the central-difference step of HessianByDifferences in batch solves.
const batchHessStep = 1e-5

// batch runs a BatchOptimizer on the whole training set. A resumed run restarts the solve
// from the checkpoint's θ (the optimizer's memory is not kept); an interrupted one hands
// OnCheckpoint the iterate it had reached.
func (r *Run) batch(ctx context.Context, bo BatchOptimizer, tctx *TrainContext) (*Outcome, error) {
	nf, ok := r.Trainer.(NoiseFixer)
	if !ok {
		return nil, fmt.Errorf("train: the optimizer minimises the whole objective at once, which needs a trainer whose loss is a deterministic function of θ on the data (sm, pl, rm, mle, nce, dsm, ssm); %T draws samples from a sampler: use adam or sgd", r.Trainer)
	}
	if px, ok := r.Trainer.(Proximal); ok && proxActive(px, len(r.Theta)) {
		return nil, fmt.Errorf("train: the trainer has an L1 penalty, which the full-batch optimizer cannot minimise (it is not smooth): use adam or sgd, whose steps are followed by the penalty's proximal step, or the trainer \"graph\" for a path over the penalty")
	}
	start := time.Now()
	var before float64
	records, iters := 0, 0
	if c := r.Resume; c != nil { // checked by Init
		copy(r.Theta, c.Theta)
		r.Eval.setCounts(c.Counts)
		records, iters, before = c.Records, c.Step, c.Seconds
		if c.Final {
			// The solve had finished; only the outputs were left to write.
			return &Outcome{Steps: c.Step, TrainLoss: c.TrainLoss, ValidLoss: c.ValidLoss, Rollbacks: []Rollback{},
				Solver: c.Solver, Seconds: c.Seconds, Counts: c.Counts}, nil
		}
	}
	n, _ := r.Train.Dims()
	checkpoint := func(step int) *Checkpoint {
		perm := make([]int, n)
		for i := range perm {
			perm[i] = i
		}
		return &Checkpoint{Version: CheckpointVersion, Step: step, Theta: append([]float64(nil), r.Theta...),
			Perm: perm, LR: r.Optimizer.LR(), Counts: r.Eval.Counts(), Records: records, Rollbacks: []Rollback{},
			Seconds: before + time.Since(start).Seconds()}
	}
	sctx := &StepContext{Eval: r.Eval}
	evals := 0
	f := func(theta, grad []float64) (float64, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		loss, err := r.Trainer.Step(sctx, r.Train, theta, grad)
		if err != nil {
			return 0, err
		}
		if grad != nil {
			evals++
			if err := FiniteVec("gradient", "trainer", grad); err != nil {
				return 0, err
			}
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return 0, &NonFiniteError{Quantity: "loss", Source: "trainer", Index: -1, Value: loss, Step: iters}
		}
		return loss, nil
	}
	emit := func(m Metrics) error {
		m.Seconds = before + time.Since(start).Seconds()
		m.Counts = r.Eval.Counts()
		records++
		if r.OnMetrics != nil {
			return r.OnMetrics(m)
		}
		return nil
	}
	hs, _ := r.Trainer.(Hessianer)
	prob := &BatchProblem{
		Func:          f,
		MaxIterations: r.Schedule.BatchIterations(),
		Hess: func(theta []float64, dst *mat.SymDense) error {
			if hs != nil {
				return hs.Hessian(sctx, r.Train, theta, dst)
			}
			return HessianByDifferences(f, theta, batchHessStep, dst)
		},
		Iteration: func(it int, loss, gmax float64) error {
			iters++
			if r.OnStep != nil {
				r.OnStep(iters, r.Schedule.BatchIterations(), loss)
			}
			if iters%max(r.Schedule.LogEvery, 1) != 0 {
				return nil
			}
			return emit(Metrics{Step: iters, Epoch: float64(iters), Loss: loss, GradNorm: gmax})
		},
	}
	rounds := 1
	if nr, ok := r.Optimizer.(interface{ NoiseRounds() int }); ok {
		rounds = max(1, nr.NoiseRounds())
	}
	var rep *SolverReport
	steps := iters
	for round := 0; round < rounds; round++ {
		nf.FixNoise(r.Streams.PCG("trainer-noise", uint64(round)).Uint64())
		var err error
		rep, err = bo.Minimize(prob, r.Theta)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
				if r.OnCheckpoint != nil {
					if cperr := r.OnCheckpoint(checkpoint(iters)); cperr != nil {
						return nil, fmt.Errorf("train: interrupted at iteration %d, and the checkpoint failed: %w", iters, cperr)
					}
				}
				return nil, fmt.Errorf("train: %w at iteration %d of the solve: %w", ErrInterrupted, iters, cerr)
			}
			return nil, fmt.Errorf("train: %w", err)
		}
		steps += rep.Iterations
	}
	rep.NoiseRounds = rounds
	rep.Evaluations = evals
	if err := FiniteVec("parameters", "solver", r.Theta); err != nil {
		return nil, err
	}
	out := &Outcome{Steps: steps, TrainLoss: rep.Loss, Rollbacks: []Rollback{}, Solver: rep}
	if r.Valid != nil {
		vl, err := r.validLoss(steps)
		if err != nil {
			return nil, err
		}
		out.ValidLoss = &vl
	}
	if err := emit(Metrics{Step: steps, Epoch: float64(steps), Loss: rep.Loss, ValidLoss: out.ValidLoss, GradNorm: rep.GradMax}); err != nil {
		return nil, err
	}
	out.Seconds = before + time.Since(start).Seconds()
	if out.Seconds > 0 {
		out.StepsPerSec = float64(steps) / out.Seconds
	}
	out.Counts = r.Eval.Counts()
	if r.OnCheckpoint != nil {
		// The final checkpoint, before the caller writes its outputs (see Run.OnCheckpoint).
		c := checkpoint(steps)
		c.Final, c.Solver, c.TrainLoss, c.ValidLoss = true, rep, rep.Loss, out.ValidLoss
		if err := r.OnCheckpoint(c); err != nil {
			return nil, fmt.Errorf("train: final checkpoint: %w", err)
		}
	}
	return out, nil
}
