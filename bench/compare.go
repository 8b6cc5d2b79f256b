package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/goebm/goebm/energy"
)

var nanValue = math.NaN()

// Options configure Compare.
type Options struct {
	Env       Env
	Workloads []Workload
	// Peers runs the peer scripts too, alternating with goebm.
	Peers   bool
	PeerEnv PeerEnv
	// Repeats is the number of rounds (at least 1).
	Repeats int
	// VarySeed runs round r with seed Env.Seed + r on both sides, so that the accuracy
	// figures show their seed-to-seed spread.
	VarySeed bool
	// Request measures the MLP request against the dgemm rate (RequestRate) after the rounds.
	Request bool
	// Log receives a line per run as the rounds go (nil: none).
	Log io.Writer
	// E2E, when set, also times every training workload end to end through `ebm train` in
	// each round, beside the in-process step.
	E2E *Trainer
	// Watching says how the load on the machine is watched (Watcher).
	Watching

	runPeer func(ctx context.Context, env *PeerEnv, group string, ws []Workload) (map[string]PeerSample, string, error) // RunPeer; tests replace it
}

// Stats summarises a figure over the rounds.
type Stats struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func statsOf(v []float64) Stats {
	var ok []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			ok = append(ok, x)
		}
	}
	if len(ok) == 0 {
		return Stats{nanValue, nanValue, nanValue}
	}
	return Stats{Median: median(ok), Min: slices.Min(ok), Max: slices.Max(ok)}
}

// WorkloadResult is everything measured for one workload.
type WorkloadResult struct {
	Name     string `json:"name"`
	Unit     string `json:"unit"`
	Accuracy string `json:"accuracy_figure"`
	Higher   bool   `json:"higher_accuracy_is_better"`
	// ChainsPerUnit is the number of chain-steps in one unit (Langevin), else 0.
	ChainsPerUnit float64 `json:"chain_steps_per_unit,omitempty"`

	Seeds []uint64      `json:"seeds"`
	Goebm []*Sample     `json:"goebm_runs"`
	E2E   []*E2ESample  `json:"goebm_e2e_runs,omitempty"`
	Peer  []*PeerSample `json:"peer_runs,omitempty"`
	Flops float64       `json:"gemm_flops_per_unit,omitempty"` // matrix-product FLOPs of one unit, when counted

	GoebmTime     Stats  `json:"goebm_sec_per_unit"`
	PeerTime      *Stats `json:"peer_sec_per_unit,omitempty"`
	Ratio         *Stats `json:"speedup,omitempty"` // peer time / goebm time, paired by round
	GoebmAccuracy Stats  `json:"goebm_accuracy"`
	PeerAccuracy  *Stats `json:"peer_accuracy,omitempty"`
	// End to end: goebm's `ebm train` (summary.json wall time per unit), the peer's whole
	// loop (its total time over its steps, warm-up included) and their ratio by round.
	E2ETime  *Stats `json:"goebm_e2e_sec_per_unit,omitempty"`
	PeerLoop *Stats `json:"peer_loop_sec_per_unit,omitempty"`
	E2ERatio *Stats `json:"speedup_e2e,omitempty"`
}

// Machine describes where the numbers were measured.
type Machine struct {
	CPUs       int    `json:"nproc"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Model      string `json:"cpu_model"`
	Go         string `json:"go"`
	OS         string `json:"os_arch"`
	Kernel     string `json:"gemm_kernel"`
}

// Result is the outcome of Compare.
type Result struct {
	Date         string            `json:"date"`
	Command      string            `json:"command,omitempty"`
	Machine      Machine           `json:"machine"`
	Conditions   Conditions        `json:"conditions"`
	Repeats      int               `json:"repeats"`
	VarySeed     bool              `json:"vary_seed"`
	Workloads    []*WorkloadResult `json:"workloads"`
	PeerCommands []string          `json:"peer_commands,omitempty"`
	Request      *RequestResult    `json:"mlp_request,omitempty"`
	WallSeconds  float64           `json:"wall_sec"`
}

// Compare runs the workloads (and their peers) Repeats times, alternating which side goes
// first in each round, group by group.
func Compare(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	rep := max(o.Repeats, 1)
	res := &Result{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Repeats: rep, VarySeed: o.VarySeed}
	watch, err := o.Watching.start()
	if err != nil {
		return nil, err
	}
	byName := map[string]*WorkloadResult{}
	var groups []string
	grouped := map[string][]Workload{}
	for _, w := range o.Workloads {
		wr := &WorkloadResult{Name: w.Name, Unit: w.Unit, Accuracy: w.Accuracy, Higher: w.Higher, ChainsPerUnit: w.Rate, Flops: w.Flops}
		res.Workloads = append(res.Workloads, wr)
		byName[w.Name] = wr
		if _, ok := grouped[w.Group]; !ok {
			groups = append(groups, w.Group)
		}
		grouped[w.Group] = append(grouped[w.Group], w)
	}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", a...)
		}
	}
	cmds := map[string]bool{}
	for r := 0; r < rep; r++ {
		seed := o.Env.Seed
		if o.VarySeed {
			seed += uint64(r)
		}
		for _, g := range groups {
			ws := grouped[g]
			goebm := func() error {
				env := o.Env
				env.Seed = seed
				for _, w := range ws {
					t0 := time.Now()
					s, err := w.Run(ctx, &env)
					if err != nil {
						return fmt.Errorf("%s: %w", w.Name, err)
					}
					wr := byName[w.Name]
					wr.Goebm = append(wr.Goebm, s)
					wr.Seeds = append(wr.Seeds, seed)
					logf("round %d/%d  goebm %-18s %s/%s  %s %.4g  (%.1fs)", r+1, rep, w.Name,
						FormatSeconds(s.PerStep), w.Unit, w.Accuracy, s.Accuracy, time.Since(t0).Seconds())
					if o.E2E == nil || w.RunFile == nil {
						continue
					}
					e, err := runE2E(ctx, o.E2E, &env, w)
					if err != nil {
						return fmt.Errorf("%s end to end: %w", w.Name, err)
					}
					wr.E2E = append(wr.E2E, e)
					logf("round %d/%d  goebm %-18s %s/%s end to end (ebm train, %.0f steps/s; process %.1fs)", r+1, rep, w.Name,
						FormatSeconds(e.PerUnit), w.Unit, e.StepsPerSec, e.ProcessSeconds)
				}
				return nil
			}
			peer := func() error {
				if !o.Peers {
					return nil
				}
				pe := o.PeerEnv
				pe.Seed = seed
				t0 := time.Now()
				run := o.runPeer
				if run == nil {
					run = RunPeer
				}
				ps, line, err := run(ctx, &pe, g, ws)
				if err != nil {
					return err
				}
				if !cmds[line] {
					cmds[line] = true
					res.PeerCommands = append(res.PeerCommands, line)
				}
				for _, w := range ws {
					s := ps[w.Name]
					byName[w.Name].Peer = append(byName[w.Name].Peer, &s)
					logf("round %d/%d  peer  %-18s %s/%s  %s %.4g", r+1, rep, w.Name,
						FormatSeconds(s.PerStep), w.Unit, w.Accuracy, s.Accuracy)
				}
				logf("round %d/%d  peer  %s (%.1fs)", r+1, rep, g, time.Since(t0).Seconds())
				return nil
			}
			first, second := goebm, peer
			if r%2 == 1 {
				first, second = peer, goebm
			}
			if err := first(); err != nil {
				return nil, err
			}
			if err := second(); err != nil {
				return nil, err
			}
		}
	}
	for _, wr := range res.Workloads {
		wr.summarise()
	}
	if o.Request {
		rr, err := RequestRate(o.Env.DataDir, 4096, o.Env.Workers, o.Env.Chunk)
		if err != nil {
			return nil, err
		}
		res.Request = rr
	}
	if res.Conditions, err = watch.Stop(); err != nil {
		return nil, err
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// summarise computes the statistics over the rounds; ratios pair the sides round by round.
func (wr *WorkloadResult) summarise() {
	var gt, ga, pt, pa, ratio, et, pl, eratio []float64
	for i, s := range wr.Goebm {
		gt = append(gt, s.PerStep)
		ga = append(ga, s.Accuracy)
		if i < len(wr.Peer) {
			ratio = append(ratio, wr.Peer[i].PerStep/s.PerStep)
		}
	}
	for i, e := range wr.E2E {
		et = append(et, e.PerUnit)
		if i < len(wr.Peer) {
			eratio = append(eratio, wr.Peer[i].Loop/e.PerUnit)
		}
	}
	for _, s := range wr.Peer {
		pt = append(pt, s.PerStep)
		pa = append(pa, s.Accuracy)
		pl = append(pl, s.Loop)
	}
	wr.GoebmTime, wr.GoebmAccuracy = statsOf(gt), statsOf(ga)
	if len(wr.Peer) > 0 {
		p, a, q := statsOf(pt), statsOf(pa), statsOf(ratio)
		wr.PeerTime, wr.PeerAccuracy, wr.Ratio = &p, &a, &q
	}
	if len(wr.E2E) > 0 {
		e := statsOf(et)
		wr.E2ETime = &e
		if len(wr.Peer) > 0 {
			l, q := statsOf(pl), statsOf(eratio)
			wr.PeerLoop, wr.E2ERatio = &l, &q
		}
	}
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Kernel: energy.GemmKernel()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// FormatSeconds prints a duration in s, ms or µs with 3 significant digits.
func FormatSeconds(s float64) string {
	switch {
	case math.IsNaN(s):
		return "–"
	case s >= 1:
		return fmt.Sprintf("%.3g s", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.3g ms", s*1e3)
	}
	return fmt.Sprintf("%.3g µs", s*1e6)
}
