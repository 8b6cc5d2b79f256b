package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/samplers"
	"github.com/goebm/goebm/trainers"
	"gonum.org/v1/gonum/mat"
)

// Warmup is the number of first steps left out of the per-step times, as the peers do.
const Warmup = 10

// Env is what a workload runs with.
type Env struct {
	// Registry builds the components; nil means energy, trainers and samplers registered.
	Registry *framework.Registry
	// DataDir holds the data sets (examples/data).
	DataDir string
	// Seed of the run's random streams; the peers are run with the same seed.
	Seed uint64
	// Workers and Chunk set the Evaluator as [compute] workers and chunk do (0: defaults).
	Workers, Chunk int
	// Steps, when positive, replaces the number of steps of the training workloads and of
	// sampler steps of Langevin: for tests and quick looks.
	Steps int
	// Epochs, when positive, replaces digits' 20 epochs (its peer has no such option).
	Epochs int
	// LogEvery, when positive, sets [train] log_every (the metrics interval, which is also
	// how often the divergence guard snapshots the state); 0 keeps the run file's.
	LogEvery int
}

// Sample is one run of a workload.
type Sample struct {
	// Seconds holds the timed units: one per step after Warmup (training), one per epoch
	// (digits) or one per block of sampler steps divided by the block's steps (Langevin).
	Seconds []float64 `json:"-"`
	// PerStep is the median of Seconds: seconds per step (per epoch for digits).
	PerStep float64 `json:"sec_per_step_median"`
	// Mean is the mean time per step over the whole loop, warm-up and snapshots included.
	Mean float64 `json:"sec_per_step_mean"`
	// Total is the wall time of the whole loop.
	Total float64 `json:"total_sec"`
	// Steps is the number of steps (epochs, sampler steps) run.
	Steps int `json:"steps"`
	// Accuracy is the workload's accuracy figure (see Workload.Accuracy).
	Accuracy float64 `json:"accuracy"`
	// Extra holds other figures of the run (loss, acceptance, counts).
	Extra map[string]float64 `json:"extra,omitempty"`

	all []float64 // every step's time, warm-up included
}

// Workload is one benchmark.
type Workload struct {
	Name     string // group/estimator, e.g. "ring8/dsm"
	Group    string // the peer run it is compared with: gauss20, ring8, digits, langevin
	Peer     string // the key of the peer's figures for it
	Unit     string // what one timed unit is: "step", "epoch", or "step of all chains"
	Accuracy string // the accuracy figure, e.g. "‖W−K‖/‖K‖"
	// Higher reports whether a larger accuracy figure is better.
	Higher bool
	// Rate, when positive, is the number of chain-steps in one unit (Langevin), so that a
	// rate can be printed next to the time.
	Rate float64
	Run  func(ctx context.Context, env *Env) (*Sample, error)
	// RunFile returns the text of the workload's run file (relative paths in DataDir), for
	// timing it end to end with `ebm train`; nil when the workload is not a training run.
	RunFile func(env *Env) string
	// Flops, when positive, is the number of floating-point operations of the matrix
	// products in one unit (ExactSMFlops for exact score matching on the MLP), printed with
	// the rate it implies.
	Flops float64
}

// Workloads returns every workload in the order they are run.
func Workloads() []Workload {
	var w []Workload
	w = append(w, gauss20Workloads()...)
	w = append(w, ring8Workloads()...)
	w = append(w, digitsWorkloads()...)
	w = append(w, langevinWorkloads()...)
	return w
}

// Select returns the workloads whose name or group is in names (all of them when names is
// empty), and an error naming any name that matches none.
func Select(names []string) ([]Workload, error) {
	all := Workloads()
	if len(names) == 0 {
		return all, nil
	}
	var out []Workload
	for _, n := range names {
		found := false
		for _, w := range all {
			if w.Name == n || w.Group == n {
				found = true
				if !slices.ContainsFunc(out, func(o Workload) bool { return o.Name == w.Name }) {
					out = append(out, w)
				}
			}
		}
		if !found {
			var known []string
			for _, w := range all {
				known = append(known, w.Name)
			}
			return nil, fmt.Errorf("no workload %q (known: %v, or a group: gauss20, ring8, digits, langevin)", n, known)
		}
	}
	// keep the canonical order
	sort.SliceStable(out, func(i, j int) bool { return index(all, out[i].Name) < index(all, out[j].Name) })
	return out, nil
}

func index(ws []Workload, name string) int {
	for i, w := range ws {
		if w.Name == name {
			return i
		}
	}
	return -1
}

func (env *Env) registry() *framework.Registry {
	if env.Registry != nil {
		return env.Registry
	}
	r := framework.NewRegistry()
	energy.Register(r)
	trainers.Register(r)
	samplers.Register(r)
	env.Registry = r
	return r
}

func (env *Env) data(name string) (*mat.Dense, error) {
	ds, err := framework.ReadCSV(filepath.Join(env.DataDir, name))
	if err != nil {
		return nil, err
	}
	return ds.X, nil
}

// epochs returns digits' number of epochs: Epochs, else 20.
func (env *Env) epochs() int {
	if env.Epochs > 0 {
		return env.Epochs
	}
	return 20
}

func (env *Env) steps(def int) int {
	if env.Steps > 0 {
		return env.Steps
	}
	return def
}

// config decodes and builds the run file text (relative paths resolve in DataDir) with the
// environment's overrides, exactly as `ebm train` does with --set.
func (env *Env) config(name, text string, sets ...string) (*run.Built, error) {
	sets = append(env.sets(), sets...)
	src, err := run.Parse(filepath.Join(env.DataDir, name), []byte(text), sets)
	if err != nil {
		return nil, err
	}
	reg := env.registry()
	r, err := run.Decode(src, reg)
	if err != nil {
		return nil, err
	}
	return run.Build(r, reg)
}

// sets returns the --set overrides of the environment: the seed, and the [compute] and
// log_every settings when given.
func (env *Env) sets() []string {
	sets := []string{fmt.Sprintf("seed=%d", env.Seed)}
	if env.Workers > 0 {
		sets = append(sets, fmt.Sprintf("compute.workers=%d", env.Workers))
	}
	if env.Chunk > 0 {
		sets = append(sets, fmt.Sprintf("compute.chunk=%d", env.Chunk))
	}
	if env.LogEvery > 0 {
		sets = append(sets, fmt.Sprintf("train.log_every=%d", env.LogEvery))
	}
	return sets
}

// train runs b's training with framework.Train and times every step.
func (env *Env) train(ctx context.Context, b *run.Built) (*Sample, *framework.Outcome, error) {
	r := b.Run
	total := r.Schedule.TotalSteps(r.Train.RawMatrix().Rows)
	times := make([]float64, 0, total)
	var last time.Time
	r.OnStep = func(step, _ int, _ float64) {
		now := time.Now()
		times = append(times, now.Sub(last).Seconds())
		last = now
	}
	start := time.Now()
	last = start
	out, err := framework.Train(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	wall := time.Since(start).Seconds()
	s := &Sample{Total: wall, Steps: out.Steps, Extra: map[string]float64{"final_train_loss": out.TrainLoss}, all: times}
	if out.Steps > 0 {
		s.Mean = wall / float64(out.Steps)
	}
	if len(times) > Warmup {
		s.Seconds = times[Warmup:]
	} else {
		s.Seconds = times
	}
	s.PerStep = median(s.Seconds)
	return s, out, nil
}

// median returns the median of v (NaN when empty), leaving v as it is.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// FindDataDir returns dir if it holds the data sets, else looks for examples/data in the
// working directory and its parents.
func FindDataDir(dir string) (string, error) {
	probe := "gauss20_precision.csv"
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, probe)); err != nil {
			return "", fmt.Errorf("bench: data folder %s has no %s: %w", dir, probe, err)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "examples", "data")
		if _, err := os.Stat(filepath.Join(c, probe)); err == nil {
			return c, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("bench: no examples/data with %s in %s or its parents; give --data", probe, wd)
		}
	}
}
