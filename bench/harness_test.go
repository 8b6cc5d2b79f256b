package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary serve ServeChild, as `ebm bench --child` does.
const childEnv = "GOEBM_BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := ServeChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeEbm writes a shell script standing for the ebm command: `train FILE --out DIR ...`
// writes DIR/summary.json with 50 steps in wall seconds given by the run file's
// "# wall = S" line and records the arguments; `study FILE --out DIR --workers N` writes a
// results.csv with 3 cells.
func fakeEbm(t *testing.T) string {
	dir := t.TempDir()
	script := `#!/bin/sh
cmd=$1; file=$2; shift 2
out=""; while [ $# -gt 0 ]; do if [ "$1" = "--out" ]; then out=$2; fi; shift; done
mkdir -p "$out"
case $cmd in
train)
  wall=$(sed -n 's/^# wall = //p' "$file")
  [ -n "$wall" ] || wall=0.5
  printf '{"estimator":"sm","steps":50,"wall_seconds":%s,"steps_per_second":%s,"final_train_loss":1,"counts":{},"rollbacks":[]}\n' "$wall" "$(awk "BEGIN{print 50 / $wall}")" > "$out/summary.json"
  cp "$file" "$out/config.seen";;
study)
  printf 'cell,seed,nll\n0,1,2.5\n1,2,2.6\n2,1,2.7\n' > "$out/results.csv";;
esac
`
	p := filepath.Join(dir, "ebm")
	require.NoError(t, os.WriteFile(p, []byte(script), 0o755))
	return p
}

// Trainer writes the run file with base_dir set to the data folder, passes the --set
// overrides, and reads the time per unit from summary.json: wall_seconds over the steps, or
// over the epochs when units are given.
func TestTrainerReadsSummary(t *testing.T) {
	tr := &Trainer{Argv: []string{fakeEbm(t)}, Dir: t.TempDir()}
	s, err := tr.Train(context.Background(), "x.toml", "# wall = 2\n[data]\ntrain = \"a.csv\"\n", "/some/data", []string{"seed=3", "compute.chunk=128"}, 0)
	require.NoError(t, err)
	assert.Equal(t, 50, s.Steps)
	assert.InDelta(t, 2.0/50, s.PerUnit, 1e-15)
	assert.InDelta(t, 25, s.StepsPerSec, 1e-9)
	assert.Equal(t, 2.0, s.LoopSeconds)
	assert.Greater(t, s.ProcessSeconds, 0.0)
	assert.Contains(t, s.Command, "train ")
	assert.Contains(t, s.Command, "--quiet --set seed=3 --set compute.chunk=128")

	s, err = tr.Train(context.Background(), "x.toml", "# wall = 2\n", "", nil, 20) // 20 epochs
	require.NoError(t, err)
	assert.InDelta(t, 2.0/20, s.PerUnit, 1e-15)

	// the run file ebm sees starts with base_dir = the data folder
	file := filepath.Join(t.TempDir(), "seen.toml")
	require.NoError(t, os.WriteFile(file, []byte("# wall = 1\n"), 0o644))
	out := filepath.Join(t.TempDir(), "run")
	_, err = tr.TrainFile(context.Background(), file, out, nil, 0)
	require.NoError(t, err)

	bad := &Trainer{Argv: []string{"/bin/false"}, Dir: t.TempDir()}
	_, err = bad.Train(context.Background(), "x.toml", "", "", nil, 0)
	assert.ErrorContains(t, err, "exit status 1")
}

// With E2E, Compare times every training workload through `ebm train` too, pairs its time
// with the peer's whole loop round by round, and the table shows both ways of timing.
func TestCompareEndToEnd(t *testing.T) {
	ebm := fakeEbm(t)
	m := quietMachine()
	w := Workload{Name: "g/w", Group: "g", Peer: "w", Unit: "step", Accuracy: "acc",
		Run: func(ctx context.Context, env *Env) (*Sample, error) {
			return &Sample{PerStep: 1e-3, Accuracy: 1}, nil
		},
		RunFile: func(env *Env) string { return "# wall = 0.1\n" }, // 2 ms a step end to end
	}
	lang := Workload{Name: "g/lang", Group: "g", Peer: "lang", Unit: "step", Accuracy: "acc",
		Run: func(ctx context.Context, env *Env) (*Sample, error) { return &Sample{PerStep: 1e-3}, nil }}
	peer := func(ctx context.Context, env *PeerEnv, group string, ws []Workload) (map[string]PeerSample, string, error) {
		return map[string]PeerSample{"g/w": {PerStep: 5e-3, Loop: 8e-3, Accuracy: 1}, "g/lang": {PerStep: 2e-3, Loop: nanValue}}, "fake", nil
	}
	o := Options{Workloads: []Workload{w, lang}, Peers: true, Repeats: 2, Watching: Watching{Machine: m}, runPeer: peer,
		Env: Env{DataDir: t.TempDir()}, E2E: &Trainer{Argv: []string{ebm}, Dir: t.TempDir()}}
	res, err := Compare(context.Background(), o)
	require.NoError(t, err)
	wr := res.Workloads[0]
	require.Len(t, wr.E2E, 2)
	assert.InDelta(t, 2e-3, wr.E2ETime.Median, 1e-15)
	assert.InDelta(t, 4, wr.E2ERatio.Median, 1e-12) // 8 ms / 2 ms
	assert.Nil(t, res.Workloads[1].E2E, "no run file: not timed end to end")
	var buf bytes.Buffer
	require.NoError(t, res.WriteTable(&buf, false))
	_, both, ok := strings.Cut(buf.String(), "Both ways of timing")
	require.True(t, ok, buf.String())
	assert.Contains(t, both, "| g/w | step | 1 ms | 2 ms | 5 ms | 8 ms | **5×** | **4×** |")
	assert.NotContains(t, both, "g/lang", "no run file: no row")
}

// TimeRunFiles times any run files through `ebm train` and compares each with the first.
func TestTimeRunFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "inproc.toml"), filepath.Join(dir, "plugin.toml")
	require.NoError(t, os.WriteFile(a, []byte("# wall = 0.5\n"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("# wall = 0.75\n"), 0o644))
	res, err := TimeRunFiles(context.Background(), RunFilesOptions{Ebm: []string{fakeEbm(t)}, Files: []string{a, b},
		Sets: []string{"train.steps=50"}, Repeats: 2, Watching: Watching{Machine: quietMachine()}})
	require.NoError(t, err)
	require.Len(t, res.Rows, 2)
	assert.InDelta(t, 100, res.Rows[0].StepsPerSec.Median, 1e-9)
	assert.InDelta(t, 0.015, res.Rows[1].PerStep.Median, 1e-15)
	var buf bytes.Buffer
	require.NoError(t, res.WriteTable(&buf, false))
	assert.Contains(t, buf.String(), "| "+b+" | 50 | 66.67 | 15 ms | ")
	assert.Contains(t, buf.String(), "| 1.50× |")
	assert.Contains(t, buf.String(), "--set train.steps=50, 2 round(s)")

	busy := newSim()
	busy.loadBefore.One = 2
	res, err = TimeRunFiles(context.Background(), RunFilesOptions{Ebm: []string{fakeEbm(t)}, Files: []string{a, b}, Watching: Watching{Machine: busy}})
	require.NoError(t, err)
	assert.ErrorIs(t, res.WriteTable(&buf, false), ErrBusy)
}

// StudyRate counts the cells of results.csv and divides by the wall time.
func TestStudyRate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "s.toml")
	require.NoError(t, os.WriteFile(file, []byte("name = \"s\"\n"), 0o644))
	res, err := StudyRate(context.Background(), StudyRateOptions{Ebm: []string{fakeEbm(t)}, File: file, Workers: []int{1, 2}, Watching: Watching{Machine: quietMachine()}})
	require.NoError(t, err)
	require.Len(t, res.Rows, 2)
	for _, row := range res.Rows {
		assert.Equal(t, 3, row.Cells)
		assert.InDelta(t, 3/row.Seconds.Median*3600, row.CellsPerHour.Median, 1e-6)
		assert.Contains(t, row.Runs[0].Command, fmt.Sprintf("study %s --out ", file))
		assert.Contains(t, row.Runs[0].Command, fmt.Sprintf("--workers %d", row.Workers))
	}
	var buf bytes.Buffer
	require.NoError(t, res.WriteTable(&buf, false))
	assert.Contains(t, buf.String(), "| 1 | 3 | ")
	assert.Contains(t, buf.String(), "| 1.00× |")
	_, err = StudyRate(context.Background(), StudyRateOptions{Ebm: []string{fakeEbm(t)}, File: file, Workers: []int{0}})
	assert.ErrorContains(t, err, "must be ≥ 1")
}

// The matrix-product FLOPs of an exact-SM step, by hand. For 2 → 64 → 64 → 1 at batch 256:
// 15 products of 256×64×64, 5 of 256×2×64 and 2 of 256×64: 31 850 496, the count derived
// product by product in energy/mlp_second.go.
func TestExactSMFlops(t *testing.T) {
	n := 256.0
	assert.Equal(t, 2*n*(15*64*64+5*2*64+2*64), ExactSMFlops(2, []int{64, 64}, 256))
	assert.Equal(t, 31850496.0, ExactSMFlops(2, []int{64, 64}, 256))
	// one hidden layer: no hidden-to-hidden product, 5 of the first layer and 2 of the output
	assert.Equal(t, 2*10.0*(5*3*8+2*8), ExactSMFlops(3, []int{8}, 10))
	// d = 4, 4 → 16 → 32 → 8 → 1: 9 + 12 = 21 products per hidden-to-hidden layer
	assert.Equal(t, 2*5.0*(5*4*16+21*16*32+21*32*8+2*8), ExactSMFlops(4, []int{16, 32, 8}, 5))
	assert.Equal(t, 0.0, ExactSMFlops(2, nil, 256))
}

// A clean clone finds the scripts in bench/peers of the checkout from any folder inside it;
// $EBM_PEERS_DIR and --peer-dir override; outside a checkout the command's own copies,
// identical to the repository's, are written to a temporary folder.
func TestFindPeerDir(t *testing.T) {
	t.Setenv("EBM_PEERS_DIR", "")
	clone := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(clone, "go.mod"), []byte("module github.com/goebm/goebm\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(clone, "bench", "peers"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(clone, "bench", "peers", "torch_mlp2d.py"), []byte("#"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(clone, "examples", "studies"), 0o755))
	repo, err := filepath.Abs("peers")
	require.NoError(t, err)

	t.Chdir(filepath.Join(clone, "examples", "studies"))
	got, cleanup, err := FindPeerDir("")
	require.NoError(t, err)
	cleanup()
	assert.Equal(t, filepath.Join(clone, "bench", "peers"), got)

	got, _, err = FindPeerDir(repo)
	require.NoError(t, err)
	assert.Equal(t, repo, got)
	_, _, err = FindPeerDir(filepath.Join(clone, "examples"))
	assert.ErrorContains(t, err, "(--peer-dir) has no torch_mlp2d.py")
	t.Setenv("EBM_PEERS_DIR", repo)
	got, _, err = FindPeerDir("")
	require.NoError(t, err)
	assert.Equal(t, repo, got)
	t.Setenv("EBM_PEERS_DIR", "")

	t.Chdir(t.TempDir())
	got, cleanup, err = FindPeerDir("")
	require.NoError(t, err)
	ents, err := os.ReadDir(repo)
	require.NoError(t, err)
	n := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".py") && e.Name() != "README.md" {
			continue
		}
		want, err := os.ReadFile(filepath.Join(repo, e.Name()))
		require.NoError(t, err)
		have, err := os.ReadFile(filepath.Join(got, e.Name()))
		require.NoError(t, err, e.Name())
		assert.Equal(t, want, have, e.Name())
		n++
	}
	assert.Equal(t, 6, n, "five scripts and the README")
	cleanup()
	_, err = os.Stat(got)
	assert.True(t, os.IsNotExist(err), "the temporary copy is removed")
}

// Scaling on tiny sizes: every point trains in a child process (the test binary serving
// ServeChild) and runs the peer script (a fake that reports a time from its arguments);
// shared points are measured once; the CSV, the Markdown and the plots are written.
func TestScalingTiny(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	t.Setenv(childEnv, "1")
	peers := t.TempDir()
	// time per step = batch·width·1e-7 s; peak from the thread count
	fake := `#!/bin/sh
only=""; batch=0; width=0; threads=1; file=""
while [ $# -gt 0 ]; do case $1 in --only) only=$2;; --batch) batch=$2;; --width) width=$2;; --threads) threads=$2;; --data-file) file=$2;; esac; shift; done
sec=$(awk "BEGIN{print $batch * $width / 10000000 * (3 - $threads)}")
echo "{\"$only\": {\"sec_per_step_median\": $sec, \"steps\": 12, \"maxrss_kib\": 1000}, \"data_file\": \"$file\"}"
`
	require.NoError(t, os.WriteFile(filepath.Join(peers, "torch_mlp2d.py"), []byte(fake), 0o755))
	o := ScalingOptions{
		Env: Env{DataDir: dataDir, Steps: 12}, Child: []string{self},
		Methods: []string{"sm", "dsm"}, Batches: []int{16, 32}, Widths: []int{4, 8}, Dims: []int{2, 3},
		Peers: true, PeerEnv: PeerEnv{Dir: peers, Python: "/bin/sh"}, PeerThreads: []int{1, 2},
		Watching: Watching{Machine: quietMachine()},
	}
	res, err := Scaling(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Sweeps, 3)
	seen := map[*ScaleRow]bool{}
	for _, s := range res.Sweeps {
		require.Len(t, s.Rows, 4, s.Name)
		for _, r := range s.Rows {
			seen[r] = true
			assert.Equal(t, 12, r.Goebm.Steps, r.label())
			assert.Greater(t, r.Goebm.SecPerStep, 0.0, r.label())
			assert.Greater(t, r.Goebm.MaxRSSKiB, int64(1000), r.label())
			require.Len(t, r.Peer, 2)
			best := r.BestPeer()
			assert.Equal(t, 2, best.Threads, "the faster is 2 threads in the fake")
			assert.InDelta(t, float64(r.Batch*r.Width)*1e-7, best.SecPerStep, 1e-15)
			if r.Dim == 3 {
				assert.Contains(t, best.Command, "normal-d3-n4096.csv")
			} else {
				assert.Contains(t, best.Command, "ring8_train.csv.gz")
			}
			if r.Method == "sm" {
				assert.Equal(t, ExactSMFlops(r.Dim, []int{r.Width, r.Width}, r.Batch), r.Flops)
			} else {
				assert.Zero(t, r.Flops)
			}
		}
	}
	// batch sweep {16, 32}×w=64, width sweep b=256×{4, 8}, dim sweep b=256, w=64, d={2, 3}: no
	// point in common at these sizes but the default one, which the dim sweep holds
	assert.Len(t, seen, 12)

	out := t.TempDir()
	files, err := res.Files(out, false)
	require.NoError(t, err)
	assert.Len(t, files, 2+3*2*2)
	for _, f := range files {
		st, err := os.Stat(f)
		require.NoError(t, err)
		assert.Greater(t, st.Size(), int64(100), f)
	}
	svg, err := os.ReadFile(filepath.Join(out, "img", "scaling-batch-time.svg"))
	require.NoError(t, err)
	assert.Contains(t, string(svg), "<svg")
	assert.Contains(t, string(svg), "goebm sm")
	assert.Contains(t, string(svg), "torch dsm")
	f, err := os.Open(filepath.Join(out, "scaling.csv"))
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1+12)
	assert.Equal(t, []string{"sweep", "method", "batch", "width", "dim", "steps", "goebm_sec_per_step", "goebm_peak_mib",
		"torch_1t_sec_per_step", "torch_1t_peak_mib", "torch_2t_sec_per_step", "torch_2t_peak_mib",
		"speedup_vs_fastest_torch", "gemm_flops_per_step", "goebm_gflops"}, recs[0])
	assert.Equal(t, []string{"batch", "sm", "16", "64", "2", "12"}, recs[1][:6])
	assert.Equal(t, "0.0002048", recs[1][8], "1 thread: 16·64·1e-7·(3−1)")
	assert.Equal(t, "0.0001024", recs[1][10], "2 threads: 16·64·1e-7·(3−2)")
	md, err := os.ReadFile(filepath.Join(out, "scaling.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "**Growing the hidden width w** (batch 256, d = 2):")
	assert.Contains(t, string(md), "| sm | 8 | ")

	// a busy machine writes nothing without --allow-busy
	res.Conditions.Busy = []string{"load"}
	out2 := filepath.Join(t.TempDir(), "docs")
	_, err = res.Files(out2, false)
	assert.ErrorIs(t, err, ErrBusy)
	_, err = os.Stat(out2)
	assert.True(t, os.IsNotExist(err))
	_, err = res.Files(out2, true)
	require.NoError(t, err)
	md, err = os.ReadFile(filepath.Join(out2, "scaling.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "† Measured on a busy machine (--allow-busy): load.")

	_, err = Scaling(context.Background(), ScalingOptions{Sweeps: []string{"depth"}})
	var se *SelectionError
	assert.ErrorAs(t, err, &se)
}

// The FLOP count of goebm's exact-SM step is printed under the table and as goebm's rate
// beside its time; the peer's time carries none (its algorithm is another).
func TestTableFlops(t *testing.T) {
	s := func(v float64) Stats { return Stats{v, v, v} }
	p, r, a := s(5e-3), s(5), s(1)
	res := &Result{Repeats: 1, Workloads: []*WorkloadResult{{Name: "ring8/exact_sm", Unit: "step", Accuracy: "test NLL",
		Flops: 2e6, GoebmTime: s(1e-3), GoebmAccuracy: s(1), PeerTime: &p, Ratio: &r, PeerAccuracy: &a}}}
	var buf bytes.Buffer
	require.NoError(t, res.WriteTable(&buf, false))
	assert.Contains(t, buf.String(), "| ring8/exact_sm | step | 1 ms [2 GFLOP/s] | 5 ms | **5×** |")
	assert.Contains(t, buf.String(), "ring8/exact_sm: 2 MFLOP of matrix products per step in goebm's algorithm (bench.ExactSMFlops)")
}
