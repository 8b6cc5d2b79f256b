package bench

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The scaling sweeps of issue 17: the MLP energy d → w → w → 1 (softplus), trained by exact
// score matching, DSM and SSM (the ring8 workloads' estimators), as one size grows with the
// others at the ring8 workloads' values (batch 256, width 64, d = 2).
var (
	ScaleBatches = []int{64, 256, 1024, 4096, 16384}
	ScaleWidths  = []int{32, 64, 128, 256, 512}
	ScaleDims    = []int{2, 4, 8, 16, 32, 64}
	// ScaleMethods are goebm's trainer methods; the peer's names are in scalePeerName.
	ScaleMethods = []string{"sm", "dsm", "ssm"}
	// ScaleSweeps are the sweeps' names, each the size it grows.
	ScaleSweeps = []string{"batch", "width", "dim"}
)

// ScaleDefaults are the sizes that stay fixed while another grows.
const (
	scaleBatch = 256
	scaleWidth = 64
	scaleDim   = 2
)

var scalePeerName = map[string]string{"sm": "exact_sm", "dsm": "dsm", "ssm": "ssm"}

var scaleTrainer = map[string]string{
	"sm":  `method = "sm"`,
	"dsm": "method = \"dsm\"\nsigma = 0.1",
	"ssm": "method = \"ssm\"\nprojections = 1\nprojection = \"gaussian\"",
}

// scaleConfig is the run file of one point: the ring8 workloads' MLP and optimizer at the
// point's sizes, with goebm's default initial weights and [compute] settings.
const scaleConfig = `
[data]
train = %q

[energy]
builtin = "mlp"
[energy.config]
hidden = [%d, %d]
activation = "softplus"

[trainer]
%s

[optimizer]
method = "adam"
lr = 1e-3

[train]
batch = %d
steps = %d
shuffle = true
`

// ScalePoint is one size of one estimator.
type ScalePoint struct {
	Method string `json:"method"`
	Batch  int    `json:"batch"`
	Width  int    `json:"width"`
	Dim    int    `json:"dim"`
}

// ScaleMeasure is one side's figures at a point.
type ScaleMeasure struct {
	Side       string  `json:"side"` // "goebm", or "torch, T thread(s)"
	Threads    int     `json:"threads,omitempty"`
	SecPerStep float64 `json:"sec_per_step_median"`
	// MaxRSSKiB is the process's peak resident set (getrusage ru_maxrss of the finished
	// child process: start-up, data and training).
	MaxRSSKiB int64  `json:"maxrss_kib"`
	Steps     int    `json:"steps"`
	Command   string `json:"command,omitempty"`
}

// ScaleRow is everything measured at one point.
type ScaleRow struct {
	ScalePoint
	Goebm ScaleMeasure   `json:"goebm"`
	Peer  []ScaleMeasure `json:"peer,omitempty"`
	// Flops counts the matrix products of one step (ExactSMFlops; exact SM only).
	Flops float64 `json:"gemm_flops_per_step,omitempty"`
}

// BestPeer returns the peer's fastest configuration at the point (nil without a peer).
func (r *ScaleRow) BestPeer() *ScaleMeasure {
	var best *ScaleMeasure
	for i := range r.Peer {
		if best == nil || r.Peer[i].SecPerStep < best.SecPerStep {
			best = &r.Peer[i]
		}
	}
	return best
}

// ScalingOptions configure Scaling.
type ScalingOptions struct {
	// Env gives the data folder (ring8 for d = 2), the seed, [compute] settings and, when
	// positive, Steps, the steps per point (default ScaleSteps).
	Env Env
	// Child is the command that serves ServeChild (`ebm bench --child`).
	Child []string
	// Scratch is a folder for the generated data sets (d > 2); empty: a temporary one.
	Scratch string
	// Sweeps, Methods select from ScaleSweeps and ScaleMethods (empty: all). Batches,
	// Widths and Dims replace the sweeps' sizes (tests).
	Sweeps, Methods       []string
	Batches, Widths, Dims []int
	Peers                 bool
	PeerEnv               PeerEnv
	PeerThreads           []int // torch threads to try at each point (default 1 and 2); the faster is plotted
	Watching
	Log io.Writer
}

// ScaleSteps is the default number of steps per point (the first Warmup are not timed).
const ScaleSteps = 40

// ScaleSweep is one sweep: the points of every method as Var grows.
type ScaleSweep struct {
	Name   string      `json:"name"` // batch, width or dim
	Values []int       `json:"values"`
	Rows   []*ScaleRow `json:"rows"` // by method, then by value
}

// ScalingResult is the outcome of Scaling.
type ScalingResult struct {
	Date        string        `json:"date"`
	Command     string        `json:"command,omitempty"`
	Machine     Machine       `json:"machine"`
	Conditions  Conditions    `json:"conditions"`
	Steps       int           `json:"steps_per_point"`
	PeerThreads []int         `json:"peer_threads,omitempty"`
	Sweeps      []*ScaleSweep `json:"sweeps"`
	WallSeconds float64       `json:"wall_sec"`
}

// Scaling measures seconds per step and peak memory of goebm (each point in its own child
// process) and, with Peers, of torch_mlp2d.py at every point of the sweeps, alternating which
// side goes first from point to point. A point shared by several sweeps is measured once.
func Scaling(ctx context.Context, o ScalingOptions) (*ScalingResult, error) {
	start := time.Now()
	steps := o.Env.Steps
	if steps <= 0 {
		steps = ScaleSteps
	}
	sweeps, err := pick("sweep", o.Sweeps, ScaleSweeps)
	if err != nil {
		return nil, err
	}
	methods, err := pick("method", o.Methods, ScaleMethods)
	if err != nil {
		return nil, err
	}
	threads := o.PeerThreads
	if len(threads) == 0 {
		threads = []int{1, 2}
	}
	scratch, cleanup, err := scratchDir(o.Scratch, "goebm-scaling-")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	res := &ScalingResult{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Steps: steps}
	if o.Peers {
		res.PeerThreads = threads
	}
	values := map[string][]int{"batch": or(o.Batches, ScaleBatches), "width": or(o.Widths, ScaleWidths), "dim": or(o.Dims, ScaleDims)}
	rows := map[ScalePoint]*ScaleRow{}
	var order []*ScaleRow
	for _, sw := range sweeps {
		s := &ScaleSweep{Name: sw, Values: values[sw]}
		for _, m := range methods {
			for _, v := range s.Values {
				p := ScalePoint{Method: m, Batch: scaleBatch, Width: scaleWidth, Dim: scaleDim}
				switch sw {
				case "batch":
					p.Batch = v
				case "width":
					p.Width = v
				case "dim":
					p.Dim = v
				}
				r, ok := rows[p]
				if !ok {
					r = &ScaleRow{ScalePoint: p}
					if m == "sm" {
						r.Flops = ExactSMFlops(p.Dim, []int{p.Width, p.Width}, p.Batch)
					}
					rows[p] = r
					order = append(order, r)
				}
				s.Rows = append(s.Rows, r)
			}
		}
		res.Sweeps = append(res.Sweeps, s)
	}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", a...)
		}
	}
	watch, err := o.Watching.start()
	if err != nil {
		return nil, err
	}
	data := map[int]string{}
	for i, r := range order {
		file, ok := data[r.Dim]
		if !ok {
			if file, err = scaleData(o.Env.DataDir, scratch, r.Dim, maxBatch(order, r.Dim)); err != nil {
				return nil, err
			}
			data[r.Dim] = file
		}
		goebm := func() error {
			t0 := time.Now()
			text := fmt.Sprintf(scaleConfig, file, r.Width, r.Width, scaleTrainer[r.Method], r.Batch, steps)
			cr, rss, err := runChild(ctx, o.Child, ChildRequest{Name: "bench-scaling.toml", Text: text, BaseDir: scratch,
				Seed: o.Env.Seed, Workers: o.Env.Workers, Chunk: o.Env.Chunk})
			if err != nil {
				return fmt.Errorf("scaling %s: %w", r.label(), err)
			}
			r.Goebm = ScaleMeasure{Side: "goebm", SecPerStep: cr.Sample.PerStep, MaxRSSKiB: max(rss, cr.VmHWMKiB), Steps: cr.Sample.Steps}
			logf("scaling %-28s goebm %s/step, peak %.0f MiB (%.1fs)", r.label(), FormatSeconds(r.Goebm.SecPerStep), kibToMiB(r.Goebm.MaxRSSKiB), time.Since(t0).Seconds())
			return nil
		}
		peer := func() error {
			if !o.Peers {
				return nil
			}
			r.Peer = r.Peer[:0]
			for _, t := range threads {
				t0 := time.Now()
				pm, err := runScalePeer(ctx, &o.PeerEnv, r.ScalePoint, file, steps, t, o.Env.Seed)
				if err != nil {
					return fmt.Errorf("scaling %s: %w", r.label(), err)
				}
				r.Peer = append(r.Peer, *pm)
				logf("scaling %-28s %s %s/step, peak %.0f MiB (%.1fs)", r.label(), pm.Side, FormatSeconds(pm.SecPerStep), kibToMiB(pm.MaxRSSKiB), time.Since(t0).Seconds())
			}
			return nil
		}
		first, second := goebm, peer
		if i%2 == 1 {
			first, second = peer, goebm
		}
		if err := first(); err != nil {
			return nil, err
		}
		if err := second(); err != nil {
			return nil, err
		}
	}
	if res.Conditions, err = watch.Stop(); err != nil {
		return nil, err
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

func (p ScalePoint) label() string {
	return fmt.Sprintf("%s b=%d w=%d d=%d", p.Method, p.Batch, p.Width, p.Dim)
}

func or(v, def []int) []int {
	if len(v) > 0 {
		return v
	}
	return def
}

// pick returns the names asked for, in the order of all, or an error naming one unknown.
func pick(what string, names, all []string) ([]string, error) {
	if len(names) == 0 {
		return all, nil
	}
	for _, n := range names {
		if !slices.Contains(all, n) {
			return nil, &SelectionError{What: "scaling " + what, Name: n, Known: all}
		}
	}
	var out []string
	for _, a := range all {
		if slices.Contains(names, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func maxBatch(rows []*ScaleRow, dim int) int {
	b := 0
	for _, r := range rows {
		if r.Dim == dim {
			b = max(b, r.Batch)
		}
	}
	return b
}

// scaleData returns the training set of dimension d: ring8 for d = 2 (20000 rows, enough
// for every batch of the sweep), else max(4096, batch) rows of N(0, I) written to scratch
// from a fixed seed. Both sides read the same file.
func scaleData(dataDir, scratch string, d, batch int) (string, error) {
	if d == 2 {
		p, err := filepath.Abs(filepath.Join(dataDir, "ring8_train.csv.gz"))
		if err != nil {
			return "", fmt.Errorf("bench: %w", err)
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("bench: scaling data: %w", err)
		}
		return p, nil
	}
	n := max(4096, batch)
	path, err := filepath.Abs(filepath.Join(scratch, fmt.Sprintf("normal-d%d-n%d.csv", d, n)))
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("bench: scaling data: %w", err)
	}
	rng := rand.New(rand.NewPCG(uint64(d), uint64(n)))
	w := csv.NewWriter(f)
	row := make([]string, d)
	for j := range row {
		row[j] = "x" + strconv.Itoa(j+1)
	}
	w.Write(row)
	for range n {
		for j := range row {
			row[j] = strconv.FormatFloat(rng.NormFloat64(), 'g', -1, 64)
		}
		w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return "", fmt.Errorf("bench: scaling data: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("bench: scaling data: %w", err)
	}
	return path, nil
}

// runScalePeer runs torch_mlp2d.py at one point on t threads (torch's and OpenBLAS's).
func runScalePeer(ctx context.Context, env *PeerEnv, p ScalePoint, file string, steps, t int, seed uint64) (*ScaleMeasure, error) {
	name := scalePeerName[p.Method]
	args := []string{"--threads", strconv.Itoa(t), "--seed", strconv.FormatUint(seed, 10), "--only", name,
		"--steps", strconv.Itoa(steps), "--batch", strconv.Itoa(p.Batch), "--width", strconv.Itoa(p.Width), "--data-file", file}
	out, line, ps, err := runScript(ctx, env, "torch_mlp2d.py", args, false, "OPENBLAS_NUM_THREADS="+strconv.Itoa(t))
	if err != nil {
		return nil, err
	}
	r, ok := out[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("bench: %s: no %q in the output", line, name)
	}
	side := fmt.Sprintf("torch, %d threads", t)
	if t == 1 {
		side = "torch, 1 thread"
	}
	m := &ScaleMeasure{Side: side, Threads: t, SecPerStep: num(r, "sec_per_step_median"), MaxRSSKiB: maxRSS(ps), Command: line}
	if v := num(r, "steps"); !math.IsNaN(v) {
		m.Steps = int(v)
	}
	if m.MaxRSSKiB == 0 {
		if v := num(r, "maxrss_kib"); !math.IsNaN(v) {
			m.MaxRSSKiB = int64(v)
		}
	}
	return m, nil
}

func kibToMiB(k int64) float64 { return float64(k) / 1024 }

// SelectionError is a name that selects nothing: an unknown sweep or method.
type SelectionError struct {
	What, Name string
	Known      []string
}

func (e *SelectionError) Error() string {
	return fmt.Sprintf("bench: no %s %q (known: %s)", e.What, e.Name, strings.Join(e.Known, ", "))
}

// CheckScaling reports whether o selects known sweeps and methods (a *SelectionError if not).
func CheckScaling(o ScalingOptions) error {
	if _, err := pick("sweep", o.Sweeps, ScaleSweeps); err != nil {
		return err
	}
	_, err := pick("method", o.Methods, ScaleMethods)
	return err
}
