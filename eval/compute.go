package eval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// Target is a known energy at fixed parameters, for the Fisher divergence.
type Target struct {
	Eval  *framework.Evaluator
	Theta []float64
}

// Input is what Compute evaluates: a model at θ, the data, and what some metrics need.
type Input struct {
	Eval    *framework.Evaluator
	Theta   []float64 // the energy's θ; a longer slice (trainer blocks after it) is cut
	Data    *mat.Dense
	Streams framework.Streams // randomness of AIS, model samples and subsets
	// NewSampler returns a fresh sampler for AIS or model samples; nil when none is configured.
	NewSampler func() (framework.Sampler, error)
	Target     *Target    // for fisher
	Reference  *Reference // for param_error
	// KeepDensity asks quadrature for the log density on its grid (Report.Quadrature).
	KeepDensity bool
	// KeepSamples asks for model samples even when mmd is not computed (for plots).
	KeepSamples bool
	// Trainer, Train and Blocks are the run's estimator (not yet initialised), its training
	// data and the blocks of Theta (the energy's, then the trainer's): for se.
	Trainer framework.Trainer
	Train   *mat.Dense
	Blocks  []framework.Block
}

// Report holds the values of the metrics computed, keyed by the names of Columns, with
// details (the log Z method, its boundary mass or effective sample size, the MMD bandwidth)
// and the error of each metric that failed. A failed metric has no value.
type Report struct {
	Values  map[string]float64 `json:"metrics"`
	Details map[string]any     `json:"details,omitempty"`
	Errors  map[string]string  `json:"errors,omitempty"`
	Rows    int                `json:"rows"`
	Seconds float64            `json:"seconds"`
	// Counts is the Evaluator work of the evaluation.
	Counts framework.Counts `json:"counts"`

	Quadrature *Quadrature `json:"-"`
	Samples    *mat.Dense  `json:"-"`
}

// Compute evaluates the named metrics (see Metrics) in the given order. A metric that fails
// (a score-based metric on binary data, a boundary mass beyond tolerance, a missing reference)
// records its error in Report.Errors and the others go on; Compute itself fails only on an
// unknown metric name or a cancelled ctx.
func Compute(ctx context.Context, in Input, o *Options, metrics []string) (*Report, error) {
	if err := CheckMetrics(metrics); err != nil {
		return nil, err
	}
	if o == nil {
		o = DefaultOptions()
	}
	start := time.Now()
	c0 := in.Eval.Counts()
	spec := in.Eval.Spec()
	theta := in.Theta[:spec.NumParams()]
	rows, _ := in.Data.Dims()
	rep := &Report{Values: map[string]float64{}, Details: map[string]any{}, Errors: map[string]string{}, Rows: rows}
	var samples *mat.Dense
	draw := func() (*mat.Dense, error) {
		if samples != nil {
			return samples, nil
		}
		if in.NewSampler == nil {
			return nil, fmt.Errorf("model samples need a sampler: set [eval.sampler] method")
		}
		s, err := in.NewSampler()
		if err != nil {
			return nil, err
		}
		samples, err = Sample(ctx, in.Eval, theta, s, o.Samples, in.Streams, in.Data)
		return samples, err
	}
	for _, m := range metrics {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var err error
		switch m {
		case "nll":
			err = nll(ctx, in, theta, o, rep)
		case "pseudo_nll":
			var v float64
			if v, err = PseudoNLL(in.Eval, theta, in.Data); err == nil {
				rep.Values[m] = v
			}
		case "sm_loss":
			var v float64
			if v, err = ScoreMatchingLoss(in.Eval, theta, in.Data); err == nil {
				rep.Values[m] = v
			}
		case "param_error":
			if in.Reference == nil {
				err = fmt.Errorf("no reference parameters: set [eval.params] reference")
				break
			}
			var rel, mx float64
			if rel, mx, err = ParamError(spec, theta, in.Reference, o.Params.Symmetric); err == nil {
				rep.Values["param_error"], rep.Values["param_maxabs"] = rel, mx
			}
		case "fisher":
			if in.Target == nil {
				err = fmt.Errorf("no target energy: set [eval.target] builtin")
				break
			}
			var v float64
			if v, err = FisherDivergence(in.Eval, theta, in.Target.Eval, in.Target.Theta, in.Data); err == nil {
				rep.Values[m] = v
			}
		case "ksd":
			var v, sd float64
			if v, sd, err = KSD(in.Eval, theta, in.Data, o.KSD, in.Streams); err == nil {
				rep.Values[m] = v
				rep.Details["ksd_null_sd"] = sd
				rep.Details["ksd_kernel"] = fmt.Sprintf("imq c=%g beta=%g", o.KSD.C, o.KSD.Beta)
			}
		case "se":
			if in.Trainer == nil || in.Train == nil {
				err = fmt.Errorf("standard errors need the run's trainer and training data")
				break
			}
			var r *SE
			if r, err = StandardErrors(in.Eval, in.Trainer, in.Train, in.Theta, in.Blocks, in.Streams, o.SE); err == nil {
				for k, v := range r.Summary(in.Reference) {
					rep.Values[k] = v
				}
				rep.Details["se"] = r
			}
		case "graph":
			if in.Reference == nil {
				err = fmt.Errorf("no reference graph: set [eval.params] reference to the true parameters")
				break
			}
			var pr, rc, f1 float64
			var ne int
			if pr, rc, f1, ne, err = GraphRecovery(spec, theta, in.Reference); err == nil {
				rep.Values["edge_precision"], rep.Values["edge_recall"], rep.Values["edge_f1"] = pr, rc, f1
				rep.Values["n_edges"] = float64(ne)
			}
		case "mmd":
			var y *mat.Dense
			if y, err = draw(); err != nil {
				break
			}
			var v, sigma float64
			if v, sigma, err = MMD(in.Data, y, o.MMD, in.Streams); err == nil {
				rep.Values[m] = v
				rep.Details["mmd_bandwidth"] = sigma
				rep.Details["mmd_samples"] = y.RawMatrix().Rows
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Errors[m] = err.Error()
		}
	}
	if in.KeepSamples && samples == nil && in.NewSampler != nil {
		if _, err := draw(); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Errors["samples"] = err.Error()
		}
	}
	rep.Samples = samples
	c1 := in.Eval.Counts()
	rep.Counts = framework.Counts{Requests: c1.Requests - c0.Requests, Calls: c1.Calls - c0.Calls, Rows: c1.Rows - c0.Rows,
		EnergyRows: c1.EnergyRows - c0.EnergyRows, GradRows: c1.GradRows - c0.GradRows,
		SecondOrderRows: c1.SecondOrderRows - c0.SecondOrderRows, RoundTrips: c1.RoundTrips - c0.RoundTrips}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// nll computes log Z by the method of o.NLL (auto: the RBM sum over hidden units when there are
// fewer hidden than visible units and at most MaxHiddenEnumerate, enumeration for other binary
// and spin energies up to MaxEnumerateDim, quadrature for continuous energies of dimension 1
// and 2, AIS otherwise), then NLL = mean E + log Z.
func nll(ctx context.Context, in Input, theta []float64, o *Options, rep *Report) error {
	spec := in.Eval.Spec()
	method := o.NLL.Method
	rbm, isRBM := RBMOf(spec, theta)
	if isRBM {
		if err := VerifyRBM(in.Eval, theta, rbm, in.Data, in.Streams.Rand("eval-rbm-check", 0)); err != nil {
			if method == "rbm" {
				return err
			}
			isRBM = false
		}
	}
	if method == "auto" {
		switch {
		case isRBM && rbm.H <= MaxHiddenEnumerate && rbm.H < rbm.D:
			method = "rbm"
		case spec.Domain.Discrete() && spec.Dim <= MaxEnumerateDim:
			method = "enumerate"
		case spec.Domain == framework.Continuous && spec.Dim <= 2:
			method = "quadrature"
		default:
			method = "ais"
		}
	}
	rep.Details["nll_method"] = method
	var logZ, se float64
	switch method {
	case "rbm":
		if !isRBM {
			return fmt.Errorf("nll: method = \"rbm\" but energy %s has no RBM blocks W (H×D), b (D), c (H): %w", spec.Name, ErrUnsupported)
		}
		v, err := rbm.LogZ(in.Eval.Workers)
		if err != nil {
			return err
		}
		logZ = v
	case "enumerate":
		v, err := LogZEnumerate(in.Eval, theta)
		if err != nil {
			return err
		}
		logZ = v
	case "quadrature":
		q, err := LogZQuadrature(in.Eval, theta, o.Quadrature, in.KeepDensity)
		if q != nil {
			rep.Details["quadrature_boundary_mass"] = q.BoundaryMass
			rep.Details["quadrature_points"] = q.Grid.Size()
			rep.Quadrature = q
		}
		if err != nil {
			var be *BoundaryMassError
			if errors.As(err, &be) {
				rep.Quadrature = q
			}
			return err
		}
		logZ = q.LogZ
	case "ais":
		if in.NewSampler == nil {
			return fmt.Errorf("nll by AIS needs a sampler for its transitions: set [eval.sampler] method")
		}
		s, err := in.NewSampler()
		if err != nil {
			return err
		}
		a, err := AIS(ctx, in.Eval, theta, s, o.AIS, in.Streams)
		if err != nil {
			return err
		}
		logZ, se = a.LogZ, a.SE
		rep.Details["ais_ess"] = a.ESS
		rep.Details["ais_path"] = a.Path
	}
	mean, err := MeanEnergy(in.Eval, theta, in.Data)
	if err != nil {
		return fmt.Errorf("nll: %w", err)
	}
	rep.Values["nll"] = mean + logZ
	rep.Values["log_z"] = logZ
	rep.Values["log_z_se"] = se
	return nil
}
