package study

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/samplers"
)

// Run is a finished run folder opened for evaluation: its config.toml built (data loaded,
// energy started) and θ read from its params.json.
type Run struct {
	Dir    string
	Config *run.Config
	Built  *run.Built
	Theta  []float64 // the energy's blocks, then any trainer blocks
}

// OpenRun opens the finished run in dir. Close it when done.
func OpenRun(dir string, reg *framework.Registry) (*Run, error) {
	if !run.Finished(dir) {
		return nil, fmt.Errorf("%s holds no finished run (no %s)", dir, run.SummaryFile)
	}
	src, err := run.Load(filepath.Join(dir, run.ConfigFile), nil)
	if err != nil {
		return nil, err
	}
	cfg, err := run.Decode(src, reg)
	if err != nil {
		return nil, err
	}
	return openWith(dir, cfg, reg)
}

// openCell opens the finished run of cell c in dir with the cell's configuration as the study
// builds it here, so that its files are found where they are now even when the study folder
// was made at another path.
func (s *Study) openCell(c *Cell, dir string) (*Run, error) {
	if !run.Finished(dir) {
		return nil, fmt.Errorf("%s holds no finished run (no %s)", dir, run.SummaryFile)
	}
	return openWith(dir, c.cfg, s.reg)
}

func openWith(dir string, cfg *run.Config, reg *framework.Registry) (*Run, error) {
	built, err := run.Build(cfg, reg)
	if err != nil {
		return nil, err
	}
	theta := make([]float64, len(built.Run.Theta))
	if err := framework.ReadParams(filepath.Join(dir, run.ParamsFile), built.Blocks, theta); err != nil {
		built.Close()
		return nil, err
	}
	return &Run{Dir: dir, Config: cfg, Built: built, Theta: theta}, nil
}

// Close releases the run's energy.
func (r *Run) Close() error { return r.Built.Close() }

// EvalRequest says what to evaluate on an open run.
type EvalRequest struct {
	// Source holds the [eval] table (a run or study file, or a cell's merged run file); nil
	// means the defaults of every key.
	Source  *run.Source
	Metrics []string
	// Data overrides [eval] data; empty: [eval] data, else the run's data.test, data.valid or
	// data.train, the first that is set.
	Data string
	// KeepDensity and KeepSamples ask for the quadrature density and model samples (plots).
	KeepDensity, KeepSamples bool
}

// DataPath returns the evaluation data file of a request on this run.
func (r *Run) DataPath(req EvalRequest, o *eval.Options) string {
	switch {
	case req.Data != "":
		return req.Data
	case o.Data != "":
		return req.Source.Path("eval.data", o.Data)
	}
	d := r.Config.Data
	for _, p := range []struct{ key, v string }{{"data.test", d.Test}, {"data.valid", d.Valid}, {"data.train", d.Train}} {
		if p.v != "" {
			return r.Config.Path(p.key, p.v)
		}
	}
	return ""
}

// Evaluate computes the metrics of req on the run, with the randomness of the run's seed.
func (r *Run) Evaluate(ctx context.Context, req EvalRequest, reg *framework.Registry) (*eval.Report, error) {
	src := req.Source
	if src == nil {
		var err error
		if src, err = run.Parse("(defaults)", nil, nil); err != nil {
			return nil, err
		}
		req.Source = src
	}
	o := eval.DefaultOptions()
	if err := src.DecodeSection("eval", []string{"sampler", "target"}, o); err != nil {
		return nil, err
	}
	path := r.DataPath(req, o)
	ds, err := framework.ReadCSV(path)
	if err != nil {
		return nil, err
	}
	spec := r.Built.Spec
	if _, d := ds.X.Dims(); d != spec.Dim {
		return nil, fmt.Errorf("evaluation data %s has %d columns, the energy %s has dimension %d", path, d, spec.Name, spec.Dim)
	}
	env := framework.Env{Dim: spec.Dim, Dir: src.Dir, Domain: spec.Domain}
	in := eval.Input{Eval: r.Built.Run.Eval, Theta: r.Theta, Data: ds.X, Streams: framework.Streams{Seed: r.Config.Seed},
		KeepDensity: req.KeepDensity, KeepSamples: req.KeepSamples,
		Trainer: r.Built.Run.Trainer, Train: r.Built.Run.Train, Blocks: r.Built.Blocks}
	if in.NewSampler, err = evalSampler(src, r.Config, reg, spec); err != nil {
		return nil, err
	}
	if o.Params.Reference != "" {
		if in.Reference, err = eval.ReadReference(src.Path("eval.params.reference", o.Params.Reference), spec, o.Params); err != nil {
			return nil, err
		}
	}
	if in.Target, err = buildTarget(src, reg, env); err != nil {
		return nil, err
	}
	rep, err := eval.Compute(ctx, in, o, req.Metrics)
	if err != nil {
		return nil, err
	}
	rep.Details["data"] = path
	return rep, nil
}

// evalSampler returns the constructor of the sampler of AIS and model samples: [eval.sampler]
// when the source has one, else the run's [sampler], else (when spec is known, Dim > 0) the
// energy's default, samplers.ForEnergy. It returns nil when there is none.
func evalSampler(src *run.Source, cfg *run.Config, reg *framework.Registry, spec framework.Spec) (func() (framework.Sampler, error), error) {
	_, explicit := src.Lookup("eval.sampler")
	switch {
	case explicit:
	case cfg != nil && cfg.Sampler != nil:
		return samplerFactory(reg, cfg.Sampler.Method, cfg.Sampler.Options, src.Dir, spec), nil
	case spec.Dim > 0:
		method, opts := samplers.ForEnergy(spec)
		return samplerFactory(reg, method, opts, src.Dir, spec), nil
	default:
		return nil, nil
	}
	v, _ := src.Lookup("eval.sampler")
	m, _ := v.(map[string]any)
	name, ok := m["method"].(string)
	if !ok {
		return nil, src.Locate(&run.Error{Key: "eval.sampler.method", Msg: "missing: the sampler of AIS and model samples, e.g. method = \"mala\""})
	}
	entry, ok := reg.Samplers[name]
	if !ok {
		return nil, src.Locate(&run.Error{Key: "eval.sampler.method", Msg: fmt.Sprintf("unknown sampler %q (have: %s)", name, strings.Join(framework.Names(reg.Samplers), ", "))})
	}
	opts := entry.Options()
	if err := src.DecodeSection("eval.sampler", []string{"method"}, opts); err != nil {
		return nil, err
	}
	return samplerFactory(reg, name, opts, src.Dir, spec), nil
}

// samplerFactory returns a constructor of fresh samplers of one method and options.
func samplerFactory(reg *framework.Registry, method string, opts any, dir string, spec framework.Spec) func() (framework.Sampler, error) {
	entry := reg.Samplers[method]
	env := framework.Env{Dim: spec.Dim, Dir: dir, Domain: spec.Domain}
	return func() (framework.Sampler, error) {
		s, err := entry.New(opts, env)
		if err != nil {
			return nil, fmt.Errorf("eval sampler %s: %w", method, err)
		}
		return s, nil
	}
}

// targetKeys are the keys of [eval.target].
type targetKeys struct {
	Builtin string         `toml:"builtin" help:"name of the built-in target energy"`
	Params  string         `toml:"params" help:"params.json of the target (default: its initialiser, e.g. a gmm preset)"`
	Config  map[string]any `toml:"config" help:"the target energy's options"`
}

func targetOptions(src *run.Source, reg *framework.Registry) (*targetKeys, any, error) {
	if _, ok := src.Lookup("eval.target"); !ok {
		return nil, nil, nil
	}
	var t targetKeys
	if err := src.DecodeSection("eval.target", nil, &t); err != nil {
		return nil, nil, err
	}
	entry, ok := reg.Energies[t.Builtin]
	if !ok {
		return nil, nil, src.Locate(&run.Error{Key: "eval.target.builtin", Msg: fmt.Sprintf("no built-in energy %q (have: %s)", t.Builtin, strings.Join(framework.Names(reg.Energies), ", "))})
	}
	var opts any = &struct{}{}
	if entry.Options != nil {
		opts = entry.Options()
	}
	if err := src.DecodeSection("eval.target.config", nil, opts); err != nil {
		return nil, nil, err
	}
	return &t, opts, nil
}

func checkTarget(src *run.Source, reg *framework.Registry) error {
	_, _, err := targetOptions(src, reg)
	return err
}

// buildTarget builds the [eval.target] energy at its parameters, or returns nil without one.
func buildTarget(src *run.Source, reg *framework.Registry, env framework.Env) (*eval.Target, error) {
	t, opts, err := targetOptions(src, reg)
	if err != nil || t == nil {
		return nil, err
	}
	e, err := reg.Energies[t.Builtin].New(opts, env)
	if err != nil {
		return nil, src.Locate(&run.Error{Key: "eval.target", Msg: err.Error()})
	}
	spec := e.Spec()
	theta := make([]float64, spec.NumParams())
	if t.Params != "" {
		if err := framework.ReadParams(src.Path("eval.target.params", t.Params), spec.Blocks, theta); err != nil {
			return nil, err
		}
	} else {
		if err := e.InitParams(theta, framework.Streams{Seed: 0}.Rand("eval-target", 0)); err != nil {
			return nil, fmt.Errorf("eval.target: initial parameters: %w", err)
		}
	}
	ev := framework.NewEvaluator(e)
	ev.Workers = 1
	return &eval.Target{Eval: ev, Theta: theta}, nil
}
