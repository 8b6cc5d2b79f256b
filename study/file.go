package study

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// keys are the top-level keys of a study file.
type keys struct {
	Name    string           `toml:"name" help:"name of the study (default: the file name)"`
	Base    string           `toml:"base" help:"run file every cell starts from, relative to the study file; required"`
	Out     string           `toml:"out" help:"study folder, relative to the study file (default runs/study-NAME in the working directory)"`
	Seeds   []uint64         `toml:"seeds" help:"seeds; every grid point runs once per seed (default [1])"`
	Metrics []string         `toml:"metrics" help:"metrics computed for every cell (see eval.Metrics)"`
	Workers int              `toml:"workers" help:"cells run at once (default: the number of CPUs); --workers overrides"`
	Grid    []map[string]any `toml:"grid" help:"[[grid]] axes: key = \"key.path\", values = [...], optional labels = [...] and name"`
	Set     map[string]any   `toml:"set" help:"\"key.path\" = value overrides applied to every cell before the grid"`
	Eval    map[string]any   `toml:"eval" help:"[eval] tables; each replaces the base run file's table of the same name"`
	Slurm   SlurmKeys        `toml:"slurm" help:"[slurm]: resources of each cell's job when the study runs on a Slurm cluster (ebm study --slurm)"`
}

// Axis is one [[grid]] entry: a key path of the run file and the values it takes.
type Axis struct {
	Key    string   // key path in the run file, e.g. "trainer" or "trainer.sigma"
	Name   string   // column name in results.csv (default Key)
	Values []any    // TOML values; a table replaces the whole table at Key
	Labels []string // one short label per value (default: derived from the value)
	origin string
}

// Cell is one run of a study: a value of every axis and a seed.
type Cell struct {
	Index  int
	Labels []string // one per axis
	Values []any    // one per axis
	Seed   uint64
	Dir    string // folder name under cells/
	Point  int    // index of the grid point (the cell without its seed)

	source    *run.Source
	cfg       *run.Config
	evalOpts  *eval.Options
	trainHash string // of the resolved run file: what training depends on (see identity.go)
	evalHash  string // of the [eval] table and the metrics: what evaluation depends on

	legacyTrain, legacyEval string // the fingerprints earlier versions wrote, with absolute paths
}

// Study is a loaded and validated study file with its cells.
type Study struct {
	Path    string
	Name    string
	Base    string // absolute path of the base run file
	Out     string // default output folder
	Seeds   []uint64
	Metrics []string
	Workers int
	Axes    []Axis
	Cells   []*Cell
	// Points are the labels of each grid point, in order (cells i·len(Seeds)…).
	Points [][]string
	// Slurm is the [slurm] table: the resources of each cell's job on a Slurm cluster.
	Slurm SlurmKeys

	src      *run.Source
	baseText []byte
	set      []assignment
	eval     []assignment
	origins  map[string]position
	reg      *framework.Registry
	dir      string            // absolute folder of the study file: study-relative paths start here
	fileIDs  map[string]string // content fingerprints of the files the cells read, by absolute path
}

type assignment struct {
	key    string
	value  any
	origin string
}

type position struct {
	file string
	line int
}

// Load reads the study file at path and validates it whole before anything runs: its own keys,
// and the run file of every cell (the base with [set], [eval], the grid values and the seed
// applied) against the registry, with the [eval] options, metrics, sampler and target. Errors
// give the file and line of the key at fault, and the cell.
func Load(path string, reg *framework.Registry) (*Study, error) {
	src, err := run.Load(path, nil)
	if err != nil {
		return nil, err
	}
	var k keys
	if err := src.DecodeSection("", nil, &k); err != nil {
		return nil, err
	}
	s := &Study{Path: path, src: src, reg: reg, Workers: k.Workers, Metrics: k.Metrics, Seeds: k.Seeds,
		origins: map[string]position{}, fileIDs: map[string]string{}}
	if s.dir, err = filepath.Abs(filepath.Dir(path)); err != nil {
		return nil, err
	}
	fail := func(key, msg string) error { return src.Locate(&run.Error{Key: key, Msg: msg}) }
	s.Name = k.Name
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if k.Base == "" {
		return nil, fail("base", "missing: the run file every cell starts from")
	}
	if s.Base, err = filepath.Abs(src.Path("base", k.Base)); err != nil {
		return nil, fail("base", err.Error())
	}
	if s.baseText, err = os.ReadFile(s.Base); err != nil {
		return nil, fail("base", fmt.Sprintf("cannot read %s: %v", s.Base, errors.Unwrap(err)))
	}
	if k.Out != "" {
		if s.Out, err = filepath.Abs(src.Path("out", k.Out)); err != nil {
			return nil, fail("out", err.Error())
		}
	} else {
		s.Out = filepath.Join("runs", "study-"+s.Name)
	}
	if len(s.Seeds) == 0 {
		s.Seeds = []uint64{1}
	}
	if dup := firstDuplicate(s.Seeds); dup >= 0 {
		return nil, fail("seeds", fmt.Sprintf("seed %d appears twice", s.Seeds[dup]))
	}
	if len(s.Metrics) == 0 {
		return nil, fail("metrics", fmt.Sprintf("missing: name at least one of %s", strings.Join(eval.Metrics, ", ")))
	}
	if err := eval.CheckMetrics(s.Metrics); err != nil {
		return nil, fail("metrics", err.Error())
	}
	if s.Workers < 0 {
		return nil, fail("workers", fmt.Sprintf("must be ≥ 0, got %d", s.Workers))
	}
	if err := k.Slurm.check(); err != nil {
		return nil, src.Locate(err)
	}
	s.Slurm = k.Slurm
	dir := filepath.Dir(path)
	for _, key := range sortedKeys(k.Set) {
		s.set = append(s.set, assignment{key: key, value: absPaths(key, k.Set[key], dir), origin: s.origin("set." + key)})
	}
	for _, key := range sortedKeys(k.Eval) {
		s.eval = append(s.eval, assignment{key: "eval." + key, value: absPaths("eval."+key, k.Eval[key], dir), origin: s.origin("eval." + key)})
	}
	names := map[string]bool{}
	for i, g := range k.Grid {
		ax, err := s.axis(i, g, dir)
		if err != nil {
			return nil, err
		}
		if names[ax.Name] || reserved[ax.Name] {
			return nil, fail("grid", fmt.Sprintf("[[grid]] %d: column name %q is taken; set name = \"...\"", i+1, ax.Name))
		}
		names[ax.Name] = true
		s.Axes = append(s.Axes, ax)
	}
	if err := s.expand(); err != nil {
		return nil, err
	}
	return s, nil
}

// reserved are the fixed columns of results.csv.
var reserved = map[string]bool{"cell": true, "dir": true, "seed": true, "status": true, "estimator": true, "energy": true}

func firstDuplicate(s []uint64) int {
	seen := map[uint64]bool{}
	for i, v := range s {
		if seen[v] {
			return i
		}
		seen[v] = true
	}
	return -1
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// origin returns the SetValue origin of a study-file key: "FILE:LINE", remembered so that
// errors can be put back in that form.
func (s *Study) origin(key string) string {
	err := s.src.Locate(&run.Error{Key: key})
	var ce *run.Error
	errors.As(err, &ce)
	o := ce.File
	if ce.Line > 0 {
		o = fmt.Sprintf("%s:%d", ce.File, ce.Line)
	}
	s.origins[o] = position{file: ce.File, line: ce.Line}
	return o
}

// gridOrigin returns the origin "FILE:LINE" of the i-th [[grid]] header of the study file.
func (s *Study) gridOrigin(i int) string {
	n := 0
	for k, line := range strings.Split(string(s.src.Text), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "[[grid]]") {
			if n == i {
				o := fmt.Sprintf("%s:%d", s.src.File, k+1)
				s.origins[o] = position{file: s.src.File, line: k + 1}
				return o
			}
			n++
		}
	}
	return s.origin("grid")
}

// relocate turns an error located at "--set ORIGIN" by a value the study set back into an
// error at the study file's line.
func (s *Study) relocate(err error) error {
	var ce *run.Error
	if errors.As(err, &ce) && ce.Set != "" {
		if p, ok := s.origins[ce.Set]; ok {
			ce.Set, ce.File, ce.Line = "", p.file, p.line
		}
	}
	return err
}

// axis decodes [[grid]] entry i.
func (s *Study) axis(i int, g map[string]any, dir string) (Axis, error) {
	fail := func(msg string) error {
		return s.relocate(&run.Error{Set: s.gridOrigin(i), Key: "grid", Msg: fmt.Sprintf("[[grid]] %d: %s", i+1, msg)})
	}
	for k := range g {
		switch k {
		case "key", "values", "labels", "name":
		default:
			return Axis{}, fail(fmt.Sprintf("unknown key %q (want key, values, labels, name)", k))
		}
	}
	key, ok := g["key"].(string)
	if !ok || key == "" {
		return Axis{}, fail("key: want the key path of the run file that this axis sets, e.g. key = \"trainer\"")
	}
	if key == "seed" {
		return Axis{}, fail("key: use seeds = [...] for the seed")
	}
	vals, ok := g["values"].([]any)
	if !ok {
		if ms, isMaps := g["values"].([]map[string]any); isMaps {
			for _, m := range ms {
				vals = append(vals, m)
			}
		} else {
			return Axis{}, fail("values: want an array of values (a value may be a whole table)")
		}
	}
	if len(vals) == 0 {
		return Axis{}, fail("values: empty")
	}
	ax := Axis{Key: key, Name: key, origin: s.gridOrigin(i)}
	if n, ok := g["name"].(string); ok && n != "" {
		ax.Name = n
	} else if g["name"] != nil {
		return Axis{}, fail("name: want a string")
	}
	for _, v := range vals {
		ax.Values = append(ax.Values, absPaths(key, v, dir))
	}
	if l, ok := g["labels"]; ok {
		arr, isArr := l.([]any)
		if !isArr || len(arr) != len(vals) {
			return Axis{}, fail(fmt.Sprintf("labels: want an array of %d strings, one per value", len(vals)))
		}
		for _, x := range arr {
			str, isStr := x.(string)
			if !isStr || str == "" {
				return Axis{}, fail("labels: want non-empty strings")
			}
			ax.Labels = append(ax.Labels, str)
		}
	} else {
		for j, v := range vals {
			ax.Labels = append(ax.Labels, label(v, j))
		}
	}
	seen := map[string]bool{}
	for _, l := range ax.Labels {
		if seen[l] {
			return Axis{}, fail(fmt.Sprintf("label %q appears twice: set labels = [...]", l))
		}
		seen[l] = true
	}
	return ax, nil
}

// label derives a short name for a grid value: a scalar as written, a table by its method,
// builtin or name key, else "v" and its position.
func label(v any, j int) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		for _, k := range []string{"method", "builtin", "name"} {
			if s, ok := x[k].(string); ok {
				return s
			}
		}
	}
	return fmt.Sprintf("v%d", j+1)
}

// pathKeys are the run-file keys that hold paths; values the study sets for them are made
// absolute against the study file's folder (paths inside [energy.config] are the energy's own
// and resolve against the base file's folder).
var pathKeys = map[string]bool{
	"data.train": true, "data.test": true, "data.valid": true, "energy.params": true, "energy.plugin": true,
	"eval.data": true, "eval.params.reference": true, "eval.target.params": true,
}

// absPaths returns v with every path-valued key under key made absolute against dir.
func absPaths(key string, v any, dir string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = absPaths(key+"."+k, e, dir)
		}
		return out
	case string:
		if pathKeys[key] && x != "" && !filepath.IsAbs(x) {
			if a, err := filepath.Abs(filepath.Join(dir, x)); err == nil {
				return a
			}
		}
	case []any:
		if key == "energy.plugin" && len(x) > 0 {
			out := append([]any(nil), x...)
			out[0] = absPaths("energy.plugin", x[0], dir)
			return out
		}
	}
	return v
}

// expand builds the cells: the product of the axes (the first outermost), then the seeds.
func (s *Study) expand() error {
	points := 1
	for _, ax := range s.Axes {
		points *= len(ax.Values)
	}
	total := points * len(s.Seeds)
	width := max(3, len(strconv.Itoa(total-1)))
	for p := 0; p < points; p++ {
		idx := make([]int, len(s.Axes))
		rest := p
		for a := len(s.Axes) - 1; a >= 0; a-- {
			idx[a] = rest % len(s.Axes[a].Values)
			rest /= len(s.Axes[a].Values)
		}
		var labels []string
		var values []any
		for a, ax := range s.Axes {
			labels = append(labels, ax.Labels[idx[a]])
			values = append(values, ax.Values[idx[a]])
		}
		s.Points = append(s.Points, labels)
		for _, seed := range s.Seeds {
			c := &Cell{Index: len(s.Cells), Labels: labels, Values: values, Seed: seed, Point: p}
			parts := []string{fmt.Sprintf("%0*d", width, c.Index)}
			for _, l := range labels {
				parts = append(parts, sanitize(l))
			}
			parts = append(parts, fmt.Sprintf("s%d", seed))
			c.Dir = strings.Join(parts, "-")
			if err := s.prepare(c); err != nil {
				return fmt.Errorf("cell %d (%s): %w", c.Index, s.describe(c), err)
			}
			s.Cells = append(s.Cells, c)
		}
	}
	return nil
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '+', r == '=', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() > 40 {
		return b.String()[:40]
	}
	return b.String()
}

// describe names a cell by its labels and seed.
func (s *Study) describe(c *Cell) string {
	var parts []string
	for a, ax := range s.Axes {
		parts = append(parts, ax.Name+"="+c.Labels[a])
	}
	return strings.Join(append(parts, fmt.Sprintf("seed=%d", c.Seed)), " ")
}

// prepare builds and validates the run file of a cell: the base with compute.workers = 1 (so
// that parallel cells do not compete for cores; [set] or the grid may change it), then [set],
// then the [eval] tables, then the grid values, then the seed.
func (s *Study) prepare(c *Cell) error {
	src, err := run.Parse(s.Base, s.baseText, nil)
	if err != nil {
		return err
	}
	all := []assignment{{key: "compute.workers", value: int64(1), origin: "study (one goroutine per cell unless [set] says otherwise)"}}
	all = append(all, s.set...)
	all = append(all, s.eval...)
	for a, ax := range s.Axes {
		all = append(all, assignment{key: ax.Key, value: c.Values[a], origin: ax.origin})
	}
	all = append(all, assignment{key: "seed", value: int64(c.Seed), origin: s.origin("seeds")})
	for _, as := range all {
		if err := src.SetValue(as.key, as.value, as.origin); err != nil {
			return s.relocate(err)
		}
	}
	cfg, err := run.Decode(src, s.reg)
	if err != nil {
		return s.relocate(err)
	}
	opts := eval.DefaultOptions()
	if err := src.DecodeSection("eval", []string{"sampler", "target"}, opts); err != nil {
		return s.relocate(err)
	}
	if _, err := evalSampler(src, cfg, s.reg, framework.Spec{}); err != nil {
		return s.relocate(err)
	}
	if err := checkTarget(src, s.reg); err != nil {
		return s.relocate(err)
	}
	c.source, c.cfg, c.evalOpts = src, cfg, opts
	return s.fingerprints(c, cfg, src)
}
