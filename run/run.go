package run

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/goebm/goebm/framework"
)

// DataSection is the [data] table.
type DataSection struct {
	Train         string  `toml:"train" help:"training data: CSV with a header row (.csv.gz read too); required"`
	Test          string  `toml:"test" help:"test data CSV, for evaluation after training"`
	Valid         string  `toml:"valid" help:"validation data CSV; when empty, valid_fraction of train is held out"`
	ValidFraction float64 `toml:"valid_fraction" help:"fraction of the training rows held out for validation when valid is empty"`
}

// EnergySection is the [energy] table's own keys. A plugin energy is the registry's
// PluginEntry, whose options are the table's other keys (plugin, instances, ...); a built-in
// energy's options are [energy.config].
type EnergySection struct {
	Builtin string         `toml:"builtin" help:"name of a built-in energy (see ebm list); or use plugin"`
	Plugin  []string       `toml:"plugin" help:"plugin command line as an array: [\"path\", \"arg\", ...] (see ebm list energies, plugin)"`
	SHA256  string         `toml:"sha256" help:"expected sha256 of the plugin's program, or of its script after an interpreter (see ebm list energies, plugin)"`
	Params  string         `toml:"params" help:"params.json to start from instead of the energy's initialiser"`
	Dim     int            `toml:"dim" help:"dimension; 0 takes it from the data"`
	Config  map[string]any `toml:"config" help:"the energy's own options ([energy.config])"`
	// PluginSampling moves the [sampler] into the plugin process when it offers the method: k
	// sampler steps cost one round trip instead of one or more per step. The chains then
	// draw their noise inside the plugin, so results are reproducible from the seed but
	// differ from host-side sampling's.
	PluginSampling bool `toml:"plugin_sampling" help:"run the [sampler] inside the plugin process when it offers the method (one round trip per k steps)"`
}

// PluginEntry is the registry name of the energy that serves [energy] plugin = [...] tables:
// the table's keys other than builtin, params, dim and plugin_sampling are its options.
const PluginEntry = "plugin"

// PluginOptions is implemented by the options of the registry's PluginEntry (host.Options).
// Decode hands them the plugin's command line with its program resolved by PluginArgv, and
// a function that makes a path absolute as the run file's paths are (against the file's
// folder, or the working directory for --set), for the script after an interpreter. A run
// folder's config.toml then names both absolutely.
type PluginOptions interface {
	SetArgv(argv []string, abs func(path string) (string, error)) error
}

type TrainSection struct {
	Batch      int     `toml:"batch" help:"rows per step"`
	Steps      int     `toml:"steps" help:"optimizer steps (default 1000 unless epochs is set)"`
	Epochs     int     `toml:"epochs" help:"passes over the data, when steps is not set"`
	Shuffle    bool    `toml:"shuffle" help:"reshuffle the rows every epoch"`
	LogEvery   int     `toml:"log_every" help:"steps between records in metrics.jsonl"`
	ValidEvery int     `toml:"valid_every" help:"steps between validation losses (0: at the end only)"`
	ClipNorm   float64 `toml:"clip_norm" help:"clip the gradient's Euclidean norm to this (0: off)"`

	CheckpointEvery int     `toml:"checkpoint_every" help:"steps between checkpoints in the run folder (0: only on interruption)"`
	MaxRollbacks    int     `toml:"max_rollbacks" help:"divergence guard: rollbacks to the last good state before giving up (0: stop at once)"`
	LRBackoff       float64 `toml:"lr_backoff" help:"divergence guard: learning-rate factor at each rollback, in (0, 1)"`
	MaxLoss         float64 `toml:"max_loss" help:"divergence guard: |loss| above this counts as divergence (0: no absolute limit)"`
	MaxLossRatio    float64 `toml:"max_loss_ratio" help:"divergence guard: |loss| above this many times the loss's scale (the smallest max(1, |loss|) of the run so far) counts as divergence (0: off)"`
}

// ComputeSection is the [compute] table.
type ComputeSection struct {
	Chunk   int     `toml:"chunk" help:"rows per chunk of an energy request (results do not depend on workers)"`
	Workers int     `toml:"workers" help:"goroutines evaluating chunks (0: all cores)"`
	FDStep  float64 `toml:"fd_step" help:"central-difference step of the derivative fallbacks"`
	// MaxMemory bounds what a run may allocate; a configuration estimated to need more is
	// refused before anything is allocated, with the key that asks for the most.
	MaxMemory string `toml:"max_memory" help:"memory a run may use, e.g. \"8GiB\" (default: this machine's memory, or its cgroup limit)"`
}

// OutputSection is the [output] table. Whether a run may replace another is never read from
// a run file: only `ebm train --force` says so.
type OutputSection struct {
	Dir string `toml:"dir" help:"run folder (default runs/<config file name>); a relative path must stay below the working directory"`
}

// RequireTrainer returns an error naming the [trainer] table when the file has none.
func (r *Config) RequireTrainer(reg *framework.Registry) error {
	if r.Trainer.Method != "" {
		return nil
	}
	return r.Source.Locate(&Error{Key: "trainer", Msg: fmt.Sprintf("missing: add a [trainer] table with method = one of %s", strings.Join(framework.Names(reg.Trainers), ", "))})
}

// Component is a decoded [trainer], [optimizer] or [sampler] table.
type Component struct {
	Method  string
	Options any // the entry's options struct, decoded and validated
	Shared  any // the registry's shared sampler options, for [sampler]
	// Chosen says that the run file named no method: Build chose it for the energy
	// ([sampler] only).
	Chosen bool
}

// Config is a decoded and validated run file. Nothing has been loaded or started yet.
type Config struct {
	Source        *Source
	Seed          uint64
	Data          DataSection
	Energy        EnergySection
	EnergyOptions any // options of the built-in energy, decoded from [energy.config]
	Trainer       Component
	Optimizer     Component
	Sampler       *Component // nil without a [sampler] table
	Train         TrainSection
	Compute       ComputeSection
	Output        OutputSection
	// Eval is the [eval] table as written; eval decodes and checks it.
	Eval map[string]any
}

type top struct {
	Seed      uint64         `toml:"seed" help:"seed of every random stream in the run"`
	BaseDir   string         `toml:"base_dir" help:"folder that relative paths in this file resolve against and that a plugin runs in (default: the file's own folder); a run folder's config.toml records it"`
	Data      DataSection    `toml:"data"`
	Energy    map[string]any `toml:"energy"`
	Trainer   map[string]any `toml:"trainer"`
	Optimizer map[string]any `toml:"optimizer"`
	Sampler   map[string]any `toml:"sampler"`
	Train     TrainSection   `toml:"train"`
	Compute   ComputeSection `toml:"compute"`
	Output    OutputSection  `toml:"output"`
	Eval      map[string]any `toml:"eval"`
}

// Defaults returns the sections with their default values.
func defaults() top {
	return top{
		Seed:    1,
		Train:   TrainSection{Batch: 256, Steps: 1000, Shuffle: true, LogEvery: 10, CheckpointEvery: 1000, LRBackoff: 0.5, MaxLossRatio: 1e8},
		Compute: ComputeSection{Chunk: framework.DefaultChunkRows, FDStep: framework.DefaultFDStep},
	}
}

// Decode validates the whole file against the registry: every section, every key, every
// component's options. Errors carry the file and line (or --set) of the offending key.
func Decode(src *Source, reg *framework.Registry) (*Config, error) {
	r, err := decode(src, reg)
	if err != nil {
		return nil, src.Locate(err)
	}
	return r, nil
}

func decode(src *Source, reg *framework.Registry) (*Config, error) {
	if _, ok := lookup(src.Tree, "output.overwrite"); ok {
		return nil, &Error{Key: "output.overwrite", Msg: "is no longer read (a run file could use it to replace any finished run it names): remove it, and pass --force to ebm train instead"}
	}
	t := defaults()
	if err := decodeTable("", src.Tree, nil, &t); err != nil {
		return nil, err
	}
	if _, ok := lookup(src.Tree, "train.steps"); !ok && t.Train.Epochs > 0 {
		t.Train.Steps = 0
	}
	r := &Config{Source: src, Seed: t.Seed, Data: t.Data, Train: t.Train,
		Compute: t.Compute, Output: t.Output, Eval: t.Eval}
	if err := r.checkSections(); err != nil {
		return nil, err
	}
	if err := r.decodeEnergy(t.Energy, reg); err != nil {
		return nil, err
	}
	if r.Energy.Dim < 0 {
		return nil, &Error{Key: "energy.dim", Msg: fmt.Sprintf("must be ≥ 0, got %d", r.Energy.Dim)}
	}

	var err error
	if t.Trainer != nil { // a file that only samples needs no [trainer]; training checks for one
		if r.Trainer, err = component("trainer", t.Trainer, "", reg.Trainers, nil); err != nil {
			return nil, err
		}
	}
	if r.Optimizer, err = component("optimizer", t.Optimizer, "adam", reg.Optimizers, nil); err != nil {
		return nil, err
	}
	if t.Sampler != nil {
		s, err := samplerComponent(t.Sampler, reg)
		if err != nil {
			return nil, err
		}
		r.Sampler = &s
	}
	return r, nil
}

// decodeEnergy decodes the [energy] table: a built-in with its options from [energy.config],
// or the plugin energy whose options are the table's other keys (its paths resolved here,
// once).
func (r *Config) decodeEnergy(table map[string]any, reg *framework.Registry) error {
	e := &r.Energy
	own := []string{"builtin", "params", "dim", "plugin_sampling"}
	if _, isPlugin := table["plugin"]; !isPlugin {
		if err := decodeTable("energy", table, nil, e); err != nil {
			return err
		}
		switch {
		case e.PluginSampling:
			return &Error{Key: "energy.plugin_sampling", Msg: "needs a plugin energy ([energy] plugin = [...])"}
		case e.Builtin == PluginEntry:
			return &Error{Key: "energy.builtin", Msg: "a plugin is named by its command line: set plugin = [\"path\", ...] instead"}
		case e.Builtin == "":
			return &Error{Key: "energy", Msg: "missing: set [energy] builtin = \"NAME\" (see ebm list) or plugin = [\"path\", ...]"}
		}
		entry, ok := reg.Energies[e.Builtin]
		if !ok {
			have := slices.DeleteFunc(framework.Names(reg.Energies), func(n string) bool { return n == PluginEntry })
			return &Error{Key: "energy.builtin", Msg: fmt.Sprintf("no built-in energy %q (have: %s)", e.Builtin, strings.Join(have, ", "))}
		}
		opts, err := options("energy.config", e.Config, nil, entry.Options)
		if err != nil {
			return err
		}
		r.EnergyOptions = opts
		return nil
	}
	if b, ok := table["builtin"]; ok && b != "" {
		return &Error{Key: "energy.plugin", Msg: "set either builtin or plugin, not both"}
	}
	entry, ok := reg.Energies[PluginEntry]
	if !ok {
		return &Error{Key: "energy.plugin", Msg: "this build of ebm cannot load plugins"}
	}
	rest := map[string]any{}
	for k, v := range table {
		rest[k] = v
	}
	for _, k := range own {
		delete(rest, k)
	}
	mine := map[string]any{}
	for _, k := range append(own, "plugin", "sha256") {
		if v, ok := table[k]; ok {
			mine[k] = v
		}
	}
	if err := decodeTable("energy", mine, nil, e); err != nil {
		return err
	}
	opts, err := options("energy", rest, nil, entry.Options)
	if err != nil {
		return err
	}
	argv, err := r.PluginArgv()
	if err != nil {
		return err
	}
	if po, ok := opts.(PluginOptions); ok {
		abs := func(p string) (string, error) { return filepath.Abs(r.Path("energy.plugin", p)) }
		if err := po.SetArgv(argv, abs); err != nil {
			var ke *framework.KeyError
			if errors.As(err, &ke) {
				return &Error{Key: join("energy", ke.Key), Msg: ke.Msg}
			}
			return &Error{Key: "energy.plugin", Msg: err.Error()}
		}
	}
	r.EnergyOptions = opts
	return nil
}

// IsPlugin reports whether the energy is served by a plugin.
func (r *Config) IsPlugin() bool { return r.Energy.Builtin == "" }

// samplerComponent decodes the [sampler] table. Without a method it may hold only the
// driver's keys (reg.SamplerShared: chains, warmup, ...), and Build chooses the method for the
// energy (samplers.ForEnergy).
func samplerComponent(table map[string]any, reg *framework.Registry) (Component, error) {
	if _, ok := table["method"]; ok || reg.SamplerShared == nil {
		return component("sampler", table, "", reg.Samplers, reg.SamplerShared)
	}
	sh := reg.SamplerShared()
	if err := decodeTable("sampler", table, nil, sh); err != nil {
		var ke *Error
		if errors.As(err, &ke) {
			if _, known := fieldByKey(reflect.ValueOf(sh).Elem(), strings.TrimPrefix(ke.Key, "sampler.")); !known {
				ke.Msg += "; a method's own keys need sampler.method = one of " + strings.Join(framework.Names(reg.Samplers), ", ")
			}
		}
		return Component{}, err
	}
	if err := validate("sampler", sh); err != nil {
		return Component{}, err
	}
	return Component{Shared: sh}, nil
}

func (r *Config) checkSections() error {
	type rule struct {
		bad      bool
		key, msg string
	}
	for _, c := range []rule{
		{r.Data.Train == "", "data.train", "missing: the training data file is required"},
		{r.Data.ValidFraction < 0 || r.Data.ValidFraction >= 1, "data.valid_fraction", fmt.Sprintf("must be in [0, 1), got %v", r.Data.ValidFraction)},
		{r.Data.Valid != "" && r.Data.ValidFraction > 0, "data.valid_fraction", "set either valid or valid_fraction, not both"},
		{r.Train.Batch < 1, "train.batch", fmt.Sprintf("must be ≥ 1, got %d", r.Train.Batch)},
		{r.Train.Steps < 0, "train.steps", fmt.Sprintf("must be ≥ 0, got %d", r.Train.Steps)},
		{r.Train.Epochs < 0, "train.epochs", fmt.Sprintf("must be ≥ 0, got %d", r.Train.Epochs)},
		{r.Train.Steps == 0 && r.Train.Epochs == 0, "train.steps", "the run has no budget: set steps or epochs"},
		{r.Train.LogEvery < 1, "train.log_every", fmt.Sprintf("must be ≥ 1, got %d", r.Train.LogEvery)},
		{r.Train.ValidEvery < 0, "train.valid_every", fmt.Sprintf("must be ≥ 0, got %d", r.Train.ValidEvery)},
		{r.Train.ClipNorm < 0, "train.clip_norm", fmt.Sprintf("must be ≥ 0, got %v", r.Train.ClipNorm)},
		{r.Train.CheckpointEvery < 0, "train.checkpoint_every", fmt.Sprintf("must be ≥ 0, got %d", r.Train.CheckpointEvery)},
		{r.Train.MaxRollbacks < 0, "train.max_rollbacks", fmt.Sprintf("must be ≥ 0, got %d", r.Train.MaxRollbacks)},
		{r.Train.LRBackoff <= 0 || r.Train.LRBackoff >= 1, "train.lr_backoff", fmt.Sprintf("must be in (0, 1), got %v", r.Train.LRBackoff)},
		{r.Train.MaxLoss < 0, "train.max_loss", fmt.Sprintf("must be ≥ 0, got %v", r.Train.MaxLoss)},
		{r.Train.MaxLossRatio != 0 && r.Train.MaxLossRatio <= 1, "train.max_loss_ratio", fmt.Sprintf("must be 0 (off) or greater than 1, got %v", r.Train.MaxLossRatio)},
		{r.Compute.Chunk < 1, "compute.chunk", fmt.Sprintf("must be ≥ 1, got %d", r.Compute.Chunk)},
		{r.Compute.Workers < 0, "compute.workers", fmt.Sprintf("must be ≥ 0, got %d", r.Compute.Workers)},
		{r.Compute.FDStep <= 0 || r.Compute.FDStep > 0.1, "compute.fd_step", fmt.Sprintf("must be in (0, 0.1], got %v", r.Compute.FDStep)},
	} {
		if c.bad {
			return &Error{Key: c.key, Msg: c.msg}
		}
	}
	if r.Compute.MaxMemory != "" {
		if _, err := parseBytes(r.Compute.MaxMemory); err != nil {
			return &Error{Key: "compute.max_memory", Msg: err.Error()}
		}
	}
	return nil
}

// component decodes a component table: its method (def when absent; required when def is
// empty) and the method's options, plus shared options if given.
func component[T any](key string, table map[string]any, def string, entries map[string]framework.Entry[T], shared func() any) (Component, error) {
	if table == nil {
		if def == "" {
			return Component{}, &Error{Key: key, Msg: fmt.Sprintf("missing: add a [%s] table with method = one of %s", key, strings.Join(framework.Names(entries), ", "))}
		}
		table = map[string]any{}
	}
	m, ok := table["method"]
	if !ok {
		if def == "" {
			return Component{}, &Error{Key: key + ".method", Msg: fmt.Sprintf("missing: one of %s", strings.Join(framework.Names(entries), ", "))}
		}
		m = def
	}
	name, ok := m.(string)
	if !ok {
		return Component{}, &Error{Key: key + ".method", Msg: fmt.Sprintf("want a string, got %s", tomlType(m))}
	}
	entry, ok := entries[name]
	if !ok {
		return Component{}, &Error{Key: key + ".method", Msg: fmt.Sprintf("unknown method %q (have: %s)", name, strings.Join(framework.Names(entries), ", "))}
	}
	c := Component{Method: name}
	var sh any
	if shared != nil {
		sh = shared()
		c.Shared = sh
	}
	opts, err := options(key, table, []string{"method"}, entry.Options, sh)
	if err != nil {
		return Component{}, err
	}
	c.Options = opts
	if sh != nil {
		if err := validate(key, sh); err != nil {
			return Component{}, err
		}
	}
	return c, nil
}

// options decodes table into a fresh options struct (and extra targets) and validates it.
func options(key string, table map[string]any, skip []string, newOpts func() any, extra ...any) (any, error) {
	var opts any = &struct{}{}
	if newOpts != nil {
		opts = newOpts()
	}
	targets := []any{opts}
	for _, x := range extra {
		if x != nil {
			targets = append(targets, x)
		}
	}
	if err := decodeTable(key, table, skip, targets...); err != nil {
		return nil, err
	}
	if err := validate(key, opts); err != nil {
		return nil, err
	}
	return opts, nil
}

func validate(key string, opts any) error {
	v, ok := opts.(framework.Validator)
	if !ok {
		return nil
	}
	err := v.Validate()
	if err == nil {
		return nil
	}
	var ke *framework.KeyError
	if errors.As(err, &ke) {
		return &Error{Key: join(key, ke.Key), Msg: ke.Msg}
	}
	return &Error{Key: key, Msg: err.Error()}
}

func lookup(tree map[string]any, key string) (any, bool) {
	parts := strings.Split(key, ".")
	var cur any = tree
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Table returns the options struct v as a TOML-ready map, keyed by its toml tags.
func Table(v any) map[string]any {
	m := map[string]any{}
	if v == nil {
		return m
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return m
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return m
	}
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Type().Field(i)
		if !f.IsExported() || tagName(f) == "" {
			continue
		}
		fv := rv.Field(i)
		if fv.Kind() == reflect.Struct {
			m[tagName(f)] = Table(fv.Interface())
			continue
		}
		if (fv.Kind() == reflect.Map || fv.Kind() == reflect.Slice || fv.Kind() == reflect.Pointer) && fv.IsNil() {
			continue
		}
		m[tagName(f)] = fv.Interface()
	}
	return m
}
