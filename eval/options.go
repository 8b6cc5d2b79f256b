package eval

import (
	"errors"
	"fmt"

	"github.com/goebm/goebm/framework"
)

// Metric names, each lower-is-better:
//
//	nll          mean −log p(x; θ) over the data (nats), log Z by the method of [eval.nll]
//	pseudo_nll   −mean Σᵢ log p(xᵢ | x₋ᵢ), binary and spin energies
//	sm_loss      held-out score-matching loss mean(½‖∇ₓE‖² − ΔₓE), continuous energies
//	param_error  ‖θ − θ_ref‖/‖θ_ref‖ over the blocks of [eval.params]
//	fisher       ½ mean ‖∇ₓE − ∇ₓE_target‖² against [eval.target]
//	ksd          squared kernel Stein discrepancy (IMQ), from the score alone
//	mmd          squared MMD (Gaussian kernel) between model samples and the data
//	se           sandwich standard errors of θ̂ on the training data (se.go): se_mean, se_max,
//	             se_singular (1 when the Hessian is singular) and, with [eval.params], coverage
//	             (the fraction of free parameters whose Wald interval covers the reference)
//	graph        the estimate's graph against [eval.params]'s (graph.go): edge_precision,
//	             edge_recall, edge_f1 (higher is better) and n_edges
var Metrics = []string{"nll", "pseudo_nll", "sm_loss", "param_error", "fisher", "ksd", "mmd", "se", "graph"}

// Columns returns the values a metric reports, in order: nll also reports log_z and its
// standard error log_z_se (0 when exact), param_error also the largest absolute difference
// param_maxabs.
func Columns(metric string) []string {
	switch metric {
	case "nll":
		return []string{"nll", "log_z", "log_z_se"}
	case "param_error":
		return []string{"param_error", "param_maxabs"}
	case "se":
		return []string{"se_mean", "se_max", "se_singular", "coverage"}
	case "graph":
		return []string{"edge_precision", "edge_recall", "edge_f1", "n_edges"}
	}
	return []string{metric}
}

// Headline returns the columns of a metric that a study's summary shows: the metric itself,
// or for se the mean standard error and the coverage, for graph the F1 score and the number
// of edges.
func Headline(metric string) []string {
	switch metric {
	case "se":
		return []string{"se_mean", "coverage"}
	case "graph":
		return []string{"edge_f1", "n_edges"}
	}
	return []string{metric}
}

// CheckMetrics returns an error naming the first unknown metric.
func CheckMetrics(names []string) error {
	for _, n := range names {
		known := false
		for _, m := range Metrics {
			known = known || m == n
		}
		if !known {
			return fmt.Errorf("unknown metric %q (have: %v)", n, Metrics)
		}
	}
	return nil
}

// NLLOptions choose how log Z is computed for nll: the [eval.nll] table.
type NLLOptions struct {
	Method string `toml:"method" help:"log Z by \"auto\", \"enumerate\" (binary/spin, d ≤ 24), \"rbm\" (sum over ≤ 20 hidden units), \"quadrature\" (continuous, d ≤ 2) or \"ais\""`
}

// Options are the [eval] table of a run or study file.
type Options struct {
	Data       string            `toml:"data" help:"evaluation data CSV (default: the run's data.test, else data.valid, else data.train)"`
	NLL        NLLOptions        `toml:"nll"`
	Quadrature QuadratureOptions `toml:"quadrature"`
	AIS        AISOptions        `toml:"ais"`
	Samples    SampleOptions     `toml:"samples"`
	KSD        KSDOptions        `toml:"ksd"`
	MMD        MMDOptions        `toml:"mmd"`
	Params     ParamOptions      `toml:"params"`
	SE         SEOptions         `toml:"se"`
	Sampler    map[string]any    `toml:"sampler" help:"sampler of AIS and of model samples: method = NAME and its keys (ebm list samplers)"`
	Target     map[string]any    `toml:"target" help:"known target energy of fisher: builtin = NAME, params = FILE and a config table"`
}

// DefaultOptions returns the defaults of every [eval] key.
func DefaultOptions() *Options {
	return &Options{NLL: NLLOptions{Method: "auto"}, Quadrature: DefaultQuadratureOptions(), AIS: DefaultAISOptions(),
		Samples: DefaultSampleOptions(), KSD: DefaultKSDOptions(), MMD: DefaultMMDOptions(), SE: DefaultSEOptions()}
}

// Validate checks every table, naming the key of a bad value.
func (o *Options) Validate() error {
	switch o.NLL.Method {
	case "auto", "enumerate", "rbm", "quadrature", "ais":
	default:
		return &framework.KeyError{Key: "nll.method", Msg: fmt.Sprintf("%q: want auto, enumerate, rbm, quadrature or ais", o.NLL.Method)}
	}
	for _, sub := range []struct {
		key string
		v   interface{ Validate() error }
	}{{"quadrature", &o.Quadrature}, {"ais", &o.AIS}, {"samples", &o.Samples}, {"ksd", &o.KSD}, {"mmd", &o.MMD}, {"params", &o.Params}, {"se", &o.SE}} {
		if err := sub.v.Validate(); err != nil {
			var ke *framework.KeyError
			if errors.As(err, &ke) {
				return &framework.KeyError{Key: sub.key + "." + ke.Key, Msg: ke.Msg}
			}
			return &framework.KeyError{Key: sub.key, Msg: err.Error()}
		}
	}
	return nil
}
