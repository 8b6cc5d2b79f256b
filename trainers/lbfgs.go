package trainers

// Full-batch deterministic optimisers, methods "lbfgs" and "newton", through gonum/optimize.
//
// They implement framework.BatchOptimizer: the training loop hands them the trainer's loss
// over the whole training set, f(θ) = L(θ; data) + (weight_decay/2)‖θ‖², and they minimise it
// to convergence instead of taking minibatch steps. Convergence is by the gradient: the solve
// stops with status "GradientThreshold" when max |∂f/∂θₖ| < grad_tol; otherwise with the
// reason gonum gives ("IterationLimit" after [train] steps iterations, "FunctionConvergence"
// when f has not changed by 1e-12·(1+|f|) for 50 iterations, "Failure" when the line search
// can make no progress). summary.json records it under "solver".
//
// The loss must be a deterministic function of θ on the data: sm, pl, rm and mle are; nce,
// dsm and ssm are made so by holding their noise fixed during a solve (framework.NoiseFixer),
// drawn from the run's "trainer-noise" stream. With noise_rounds = k > 1 the noise is drawn
// afresh k times, each solve warm-started from the last ("noise fixed per epoch", an epoch
// being one solve). Contrastive divergence, whose negatives come from a sampler, is refused.
//
// newton takes Newton steps with gonum's Hessian modification (H + τI until positive
// definite) and a line search; the Hessian is the trainer's exact one where it has it
// (framework.Hessianer: sm, pl and rm with an energy linear in θ) and central differences
// of the gradient otherwise (2p gradient evaluations per iteration: use it when p is small).
//
// A resumed run restarts the solve from the checkpoint's θ: the L-BFGS memory is not saved,
// so the iterates differ from an uninterrupted run's but converge to the same minimiser.

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"

	"github.com/goebm/goebm/framework"
)

// BatchOptions are the [optimizer] keys of methods "lbfgs" and "newton".
type BatchOptions struct {
	GradTol     float64 `toml:"grad_tol" help:"stop when max |∂f/∂θₖ| falls below this (status GradientThreshold)"`
	Memory      int     `toml:"memory" help:"lbfgs: number of correction pairs kept"`
	NoiseRounds int     `toml:"noise_rounds" help:"trainers that draw noise (nce, dsm, ssm): solves, each with a fresh draw held fixed during it"`
	WeightDecay float64 `toml:"weight_decay" help:"adds (weight_decay/2)‖θ‖² to the loss (L2 penalty)"`
}

// DefaultBatchOptions returns grad_tol 1e-9, memory 10, one noise round and no weight decay.
func DefaultBatchOptions() BatchOptions {
	return BatchOptions{GradTol: 1e-9, Memory: 10, NoiseRounds: 1}
}

// Validate checks the ranges of the options.
func (o *BatchOptions) Validate() error {
	switch {
	case !positiveFinite(o.GradTol):
		return &framework.KeyError{Key: "grad_tol", Msg: fmt.Sprintf("must be positive and finite, got %v", o.GradTol)}
	case o.Memory < 1:
		return &framework.KeyError{Key: "memory", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Memory)}
	case o.NoiseRounds < 1:
		return &framework.KeyError{Key: "noise_rounds", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.NoiseRounds)}
	}
	return validWeightDecay(o.WeightDecay)
}

// BatchMinimizer is the lbfgs or newton optimizer. Its Update, LR and SetLR exist only to
// satisfy framework.Optimizer: the training loop calls Minimize instead.
type BatchMinimizer struct {
	method string
	opts   BatchOptions
}

// NewLBFGS returns the lbfgs optimizer.
func NewLBFGS(o BatchOptions) (*BatchMinimizer, error) { return newBatch("lbfgs", o) }

// NewNewton returns the newton optimizer.
func NewNewton(o BatchOptions) (*BatchMinimizer, error) { return newBatch("newton", o) }

func newBatch(method string, o BatchOptions) (*BatchMinimizer, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return &BatchMinimizer{method: method, opts: o}, nil
}

// NoiseRounds returns the number of solves with fresh noise.
func (b *BatchMinimizer) NoiseRounds() int { return b.opts.NoiseRounds }

// Update does nothing: a batch optimizer takes no minibatch steps.
func (b *BatchMinimizer) Update(theta, grad []float64) {}

// LR returns 0: a batch optimizer has no learning rate.
func (b *BatchMinimizer) LR() float64 { return 0 }

// SetLR does nothing.
func (b *BatchMinimizer) SetLR(float64) {}

// Minimize runs L-BFGS or Newton from theta to convergence and leaves the solution in theta.
func (b *BatchMinimizer) Minimize(p *framework.BatchProblem, theta []float64) (*framework.SolverReport, error) {
	wd := b.opts.WeightDecay
	var failed error
	// f and ∇f come from one trainer step; gonum asks for them separately at the same point.
	var cx, cg []float64
	var cf float64
	eval := func(x []float64) bool {
		if failed != nil {
			return false
		}
		if cx != nil && equalFloats(cx, x) {
			return true
		}
		if cg == nil {
			cg = make([]float64, len(x))
		}
		f, err := p.Func(x, cg)
		if err != nil {
			failed = err
			return false
		}
		if wd > 0 {
			for k, v := range x {
				f += 0.5 * wd * v * v
				cg[k] += wd * v
			}
		}
		cx = append(cx[:0], x...)
		cf = f
		return true
	}
	iter := 0
	prob := optimize.Problem{
		Func: func(x []float64) float64 {
			if !eval(x) {
				return math.NaN()
			}
			return cf
		},
		Grad: func(grad, x []float64) {
			if !eval(x) {
				for k := range grad {
					grad[k] = math.NaN()
				}
				return
			}
			copy(grad, cg)
		},
		Status: func() (optimize.Status, error) {
			if failed != nil {
				return optimize.Failure, failed
			}
			return optimize.NotTerminated, nil
		},
	}
	var method optimize.Method
	switch b.method {
	case "newton":
		prob.Hess = func(dst *mat.SymDense, x []float64) {
			if failed != nil {
				return
			}
			if err := p.Hess(x, dst); err != nil {
				failed = err
				return
			}
			for k := range x {
				dst.SetSym(k, k, dst.At(k, k)+wd)
			}
		}
		method = &optimize.Newton{GradStopThreshold: b.opts.GradTol, Linesearcher: &wolfeSearch{}}
	default:
		method = &optimize.LBFGS{Store: b.opts.Memory, GradStopThreshold: b.opts.GradTol, Linesearcher: &wolfeSearch{}}
	}
	settings := &optimize.Settings{
		GradientThreshold: b.opts.GradTol,
		MajorIterations:   p.MaxIterations,
		Converger:         &optimize.FunctionConverge{Relative: 1e-12, Absolute: 1e-12, Iterations: 50},
		Recorder: recorderFunc(func(loc *optimize.Location, op optimize.Operation) error {
			if op != optimize.MajorIteration || p.Iteration == nil {
				return nil
			}
			iter++
			return p.Iteration(iter, loc.F, maxAbsSlice(loc.Gradient))
		}),
	}
	res, err := optimize.Minimize(prob, theta, settings, method)
	if failed != nil {
		return nil, failed
	}
	rep := &framework.SolverReport{Method: b.method}
	if res != nil {
		copy(theta, res.X)
		rep.Status = res.Status.String()
		rep.Iterations = res.Stats.MajorIterations
		rep.HessEvals = res.Stats.HessEvaluations
		rep.Loss = res.F
		rep.GradMax = maxAbsSlice(res.Gradient)
		rep.Converged = res.Status == optimize.GradientThreshold
	}
	if err != nil {
		// The line search could make no more progress: f has reached its rounding floor. The
		// iterate is kept and the report says so.
		rep.Message = err.Error()
	}
	return rep, nil
}

// recorderFunc adapts a function to optimize.Recorder.
type recorderFunc func(*optimize.Location, optimize.Operation) error

func (recorderFunc) Init() error { return nil }

func (f recorderFunc) Record(loc *optimize.Location, op optimize.Operation, _ *optimize.Stats) error {
	return f(loc, op)
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

func maxAbsSlice(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// validWeightDecay checks a weight_decay key.
func validWeightDecay(wd float64) error {
	if !(wd >= 0) || math.IsInf(wd, 0) {
		return &framework.KeyError{Key: "weight_decay", Msg: fmt.Sprintf("must be a finite number ≥ 0, got %v", wd)}
	}
	return nil
}

func registerBatch(r *framework.Registry) {
	r.Optimizers["lbfgs"] = framework.NewEntry("lbfgs", "full-batch L-BFGS (gonum/optimize) to max |∂f/∂θ| < grad_tol; deterministic trainers (sm, pl, rm, mle; nce, dsm, ssm with fixed noise)", DefaultBatchOptions,
		func(o BatchOptions, _ framework.Env) (framework.Optimizer, error) { return NewLBFGS(o) })
	r.Optimizers["newton"] = framework.NewEntry("newton", "full-batch Newton (gonum/optimize), exact Hessian where the trainer has one, else differences of the gradient", DefaultBatchOptions,
		func(o BatchOptions, _ framework.Env) (framework.Optimizer, error) { return NewNewton(o) })
}
