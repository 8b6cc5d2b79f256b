package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/BurntSushi/toml"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
)

// Built is a run ready to train: data loaded, energy started, components constructed and θ
// initialised. Close releases the energy (a plugin's processes).
type Built struct {
	Config  *Config
	Energy  framework.Energy
	Spec    framework.Spec
	Blocks  []framework.Block // the energy's blocks followed by the trainer's own
	Train   *framework.Dataset
	Valid   *mat.Dense // nil without validation data
	Test    *framework.Dataset
	Run     *framework.Run
	Streams framework.Streams
	// Inputs are the digests of the data files read, by key ("data.train" → "sha256:…"), as
	// checkpoints keep them; InputPaths are their paths.
	Inputs, InputPaths map[string]string
	closers            []func() error
}

// Close releases what Build started.
func (b *Built) Close() error {
	var first error
	for _, c := range b.closers {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	b.closers = nil
	return first
}

// Path returns the resolved path of a path-valued key.
func (r *Config) Path(key, value string) string { return r.Source.Path(key, value) }

// Build is BuildContext with a context that is never cancelled.
func Build(r *Config, reg *framework.Registry) (*Built, error) {
	return BuildContext(context.Background(), r, reg)
}

// BuildContext loads the data, constructs the energy, trainer, optimizer and sampler, and
// initialises θ (from [energy] params when given). On error everything started is closed,
// and the error is an *InputError.
// ctx is the run's: the components get it in their framework.Env, so that cancelling it
// stops a plugin's requests at once.
//
// Before it allocates, Build estimates the memory the configuration needs (data, θ and its
// copies, each component's workspace) and refuses, with an error naming the key that asks
// for the most, a run that would exceed the machine's memory or [compute] max_memory. Data
// files are read under the same bound.
func BuildContext(ctx context.Context, r *Config, reg *framework.Registry) (_ *Built, err error) {
	b := &Built{Config: r, Streams: framework.Streams{Seed: r.Seed}, Inputs: map[string]string{}, InputPaths: map[string]string{}}
	defer func() {
		if err != nil {
			b.Close()
			err = &InputError{Err: err}
		}
	}()
	budget, from := r.memoryBudget()
	mem := &memoryCheck{r: r, budget: budget, from: from}
	read := func(key, value string) (*framework.Dataset, error) {
		path := r.Path(key, value)
		ds, err := framework.ReadCSVLimit(path, budget)
		if err != nil {
			if errors.Is(err, framework.ErrDataTooLarge) {
				return nil, r.Source.Locate(&Error{Key: key, Msg: fmt.Sprintf("%v (the limit is %s)", err, from)})
			}
			return nil, err
		}
		n, d := ds.X.Dims()
		mem.needs = append(mem.needs, need{key, float64(n) * float64(d) * 8 * 2})
		b.Inputs[key], b.InputPaths[key] = "sha256:"+ds.SHA256, ds.Path
		return ds, nil
	}
	if b.Train, err = read("data.train", r.Data.Train); err != nil {
		return nil, err
	}
	n, d := b.Train.X.Dims()
	mem.dim = d
	if r.Energy.Dim != 0 && r.Energy.Dim != d {
		return nil, r.Source.Locate(&Error{Key: "energy.dim", Msg: fmt.Sprintf("is %d but %s has %d columns", r.Energy.Dim, r.Data.Train, d)})
	}
	train := b.Train.X
	switch {
	case r.Data.Valid != "":
		vd, err := read("data.valid", r.Data.Valid)
		if err != nil {
			return nil, err
		}
		if _, vdim := vd.X.Dims(); vdim != d {
			return nil, r.Source.Locate(&Error{Key: "data.valid", Msg: fmt.Sprintf("%s has %d columns, the training data %d", vd.Path, vdim, d)})
		}
		b.Valid = vd.X
	case r.Data.ValidFraction > 0:
		nv := int(float64(n) * r.Data.ValidFraction)
		if nv < 1 || nv >= n {
			return nil, r.Source.Locate(&Error{Key: "data.valid_fraction", Msg: fmt.Sprintf("holds out %d of %d rows; leave at least one row on each side", nv, n)})
		}
		perm := b.Streams.Rand("split", 0).Perm(n)
		b.Valid = mat.NewDense(nv, d, nil)
		train = mat.NewDense(n-nv, d, nil)
		for i, p := range perm {
			if i < nv {
				b.Valid.SetRow(i, b.Train.X.RawRowView(p))
			} else {
				train.SetRow(i-nv, b.Train.X.RawRowView(p))
			}
		}
	}
	if r.Data.Test != "" {
		if b.Test, err = read("data.test", r.Data.Test); err != nil {
			return nil, err
		}
		if _, tdim := b.Test.X.Dims(); tdim != d {
			return nil, r.Source.Locate(&Error{Key: "data.test", Msg: fmt.Sprintf("%s has %d columns, the training data %d", b.Test.Path, tdim, d)})
		}
	}
	env := framework.Env{Dim: d, Dir: r.Source.Dir, Domain: b.Train.Domain(), Context: ctx}
	rows, _ := train.Dims()
	shape := framework.Shape{Dim: d, Rows: rows, Batch: min(r.Train.Batch, rows), Chunk: r.Compute.Chunk, Workers: r.Compute.Workers}
	if shape.Workers == 0 {
		shape.Workers = runtime.GOMAXPROCS(0)
	}

	// The energy.
	if !r.IsPlugin() {
		mem.add("energy.config", r.EnergyOptions, shape)
		if err := mem.check(); err != nil {
			return nil, err
		}
		entry := reg.Energies[r.Energy.Builtin]
		if b.Energy, err = entry.New(r.EnergyOptions, env); err != nil {
			return nil, r.Source.Locate(&Error{Key: "energy.config", Msg: err.Error(), Err: err})
		}
	} else if b.Energy, err = reg.Energies[PluginEntry].New(r.EnergyOptions, env); err != nil {
		return nil, r.pluginError(err)
	}
	if c, ok := b.Energy.(framework.Closer); ok {
		b.closers = append(b.closers, c.Close)
	}
	b.Spec = b.Energy.Spec()
	if b.Spec.Dim != d {
		return nil, fmt.Errorf("energy %s has dimension %d but the data %s has %d columns", b.Spec.Name, b.Spec.Dim, b.Train.Path, d)
	}
	if b.Spec.Domain.Discrete() {
		for _, x := range []struct {
			key string
			ds  *framework.Dataset
		}{{"data.train", b.Train}, {"data.test", b.Test}} {
			if x.ds != nil && !framework.InDomain(x.ds.X, b.Spec.Domain) {
				return nil, fmt.Errorf("energy %s is over %s data but %s holds %s values", b.Spec.Name, b.Spec.Domain, x.ds.Path, x.ds.Domain())
			}
		}
		if b.Valid != nil && !framework.InDomain(b.Valid, b.Spec.Domain) {
			return nil, fmt.Errorf("energy %s is over %s data but the validation data hold %s values", b.Spec.Name, b.Spec.Domain, framework.DomainOf(b.Valid))
		}
		env.Domain = b.Spec.Domain
	}
	if r.Sampler != nil && r.Sampler.Method == "" {
		r.Sampler.Method, r.Sampler.Options = samplers.ForEnergy(b.Spec)
		r.Sampler.Chosen = true
	}
	ev := framework.NewEvaluator(b.Energy)
	ev.ChunkRows, ev.Workers, ev.FDStep = r.Compute.Chunk, r.Compute.Workers, r.Compute.FDStep

	// Components, once their memory is known to fit. Without a [trainer] (a file that only
	// samples) the run has none.
	shape.Params = b.Spec.NumParams()
	if r.IsPlugin() {
		mem.needs = append(mem.needs, need{"energy.plugin", float64(shape.Params) * 8 * framework.ParamCopies})
	}
	if r.Trainer.Method != "" {
		mem.add("trainer", r.Trainer.Options, shape)
	}
	mem.add("optimizer", r.Optimizer.Options, shape)
	if r.Sampler != nil {
		mem.add("sampler", r.Sampler.Options, shape)
		mem.add("sampler", r.Sampler.Shared, shape)
	}
	if err := mem.check(); err != nil {
		return nil, err
	}
	var trainer framework.Trainer
	if r.Trainer.Method != "" {
		if trainer, err = reg.Trainers[r.Trainer.Method].New(r.Trainer.Options, env); err != nil {
			return nil, r.Source.Locate(&Error{Key: "trainer", Msg: err.Error(), Err: err})
		}
	}
	opt, err := reg.Optimizers[r.Optimizer.Method].New(r.Optimizer.Options, env)
	if err != nil {
		return nil, r.Source.Locate(&Error{Key: "optimizer", Msg: err.Error(), Err: err})
	}
	var sampler framework.Sampler
	if r.Sampler != nil {
		if sampler, err = reg.Samplers[r.Sampler.Method].New(r.Sampler.Options, env); err != nil {
			return nil, r.Source.Locate(&Error{Key: "sampler", Msg: err.Error(), Err: err})
		}
		if err := sampler.Supports(b.Spec); err != nil {
			return nil, r.Source.Locate(&Error{Key: "sampler.method", Msg: err.Error(), Err: err})
		}
		if r.Energy.PluginSampling {
			ps, ok := b.Energy.(framework.SamplingEnergy)
			if !ok {
				return nil, r.Source.Locate(&Error{Key: "energy.plugin_sampling", Msg: "this energy cannot sample inside its process"})
			}
			if sampler, err = ps.Sampler(r.Sampler.Method, r.Sampler.Options, sampler); err != nil {
				return nil, r.Source.Locate(&Error{Key: "energy.plugin_sampling", Msg: err.Error(), Err: err})
			}
		}
	}

	// θ: the energy's blocks, then the trainer's own.
	p := b.Spec.NumParams()
	b.Blocks = append([]framework.Block(nil), b.Spec.Blocks...)
	var extra []framework.Block
	if x, ok := trainer.(framework.Extender); ok {
		extra = x.ExtraBlocks()
		b.Blocks = append(b.Blocks, extra...)
	}
	size := p
	for _, blk := range extra {
		size += blk.Size()
	}
	theta := make([]float64, size)
	if r.Energy.Params != "" {
		if err := framework.ReadParams(r.Path("energy.params", r.Energy.Params), b.Spec.Blocks, theta[:p]); err != nil {
			return nil, err
		}
	} else if err := b.Energy.InitParams(theta[:p], b.Streams.Rand("init", 0)); err != nil {
		return nil, fmt.Errorf("energy %s: initial parameters: %w", b.Spec.Name, err)
	}
	if x, ok := trainer.(framework.Extender); ok {
		x.InitExtra(theta[p:])
	}
	b.Run = &framework.Run{Eval: ev, Trainer: trainer, Optimizer: opt, Sampler: sampler,
		Train: train, Valid: b.Valid, Theta: theta, Streams: b.Streams,
		Schedule: framework.Schedule{Batch: r.Train.Batch, Steps: r.Train.Steps, Epochs: r.Train.Epochs,
			Shuffle: r.Train.Shuffle, LogEvery: r.Train.LogEvery, ValidEvery: r.Train.ValidEvery, ClipNorm: r.Train.ClipNorm,
			CheckpointEvery: r.Train.CheckpointEvery,
			Guard: framework.Guard{MaxRollbacks: r.Train.MaxRollbacks, LRFactor: r.Train.LRBackoff,
				MaxLoss: r.Train.MaxLoss, MaxLossRatio: r.Train.MaxLossRatio}}}
	return b, nil
}

// pluginError points the plugin's refusals of its configuration at their keys in the file.
// Their keys are relative to [energy] (config.sigma, sha256, instances).
func (r *Config) pluginError(err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var lines []string
	var first error
	for _, e := range errs {
		var ke *framework.KeyError
		if errors.As(e, &ke) {
			e = r.Source.Locate(&Error{Key: "energy." + ke.Key, Msg: ke.Msg})
		}
		if first == nil {
			first = e
		}
		lines = append(lines, e.Error())
	}
	if len(lines) == 1 {
		return first
	}
	return fmt.Errorf("plugin %s refused its configuration:\n  %s", r.Energy.Plugin[0], strings.Join(lines, "\n  "))
}

// Resolved returns the run file with every default filled in and every path made absolute,
// as TOML: what a run folder keeps as config.toml, and what `ebm train` on it would redo.
func (r *Config) Resolved() ([]byte, error) {
	abs := func(key, v string) string {
		if v == "" {
			return ""
		}
		p, err := filepath.Abs(r.Path(key, v))
		if err != nil {
			return v
		}
		return p
	}
	data := r.Data
	data.Train, data.Test, data.Valid = abs("data.train", data.Train), abs("data.test", data.Test), abs("data.valid", data.Valid)
	energy := Table(r.Energy)
	if !r.IsPlugin() {
		energy["config"] = Table(r.EnergyOptions)
		delete(energy, "plugin")
		delete(energy, "plugin_sampling")
	} else {
		// The plugin's options, paths already absolute (Decode resolved them).
		for k, v := range Table(r.EnergyOptions) {
			energy[k] = v
		}
		delete(energy, "builtin")
	}
	if r.Energy.Params != "" {
		energy["params"] = abs("energy.params", r.Energy.Params)
	}
	comp := func(c Component) map[string]any {
		if c.Method == "" {
			return nil
		}
		m := Table(c.Options)
		for k, v := range Table(c.Shared) {
			m[k] = v
		}
		m["method"] = c.Method
		return m
	}
	base, err := filepath.Abs(r.Source.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", r.Source.Dir, err)
	}
	t := map[string]any{
		"seed": r.Seed, "base_dir": base, "data": Table(data), "energy": energy, "optimizer": comp(r.Optimizer),
		"train": Table(r.Train), "compute": Table(r.Compute), "output": Table(r.Output),
	}
	if r.Trainer.Method != "" {
		t["trainer"] = comp(r.Trainer)
	}
	if r.Eval != nil {
		t["eval"] = r.Eval // kept as written, so that ebm eval on the run folder finds it
	}
	if r.Sampler != nil {
		t["sampler"] = comp(*r.Sampler)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Resolved configuration of this run: defaults filled in, paths absolute.\n")
	if err := toml.NewEncoder(&buf).Encode(t); err != nil {
		return nil, fmt.Errorf("encode resolved config: %w", err)
	}
	return buf.Bytes(), nil
}
