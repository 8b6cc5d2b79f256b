package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/bench"
)

// ebm bench on two short workloads: the Markdown table on stdout with a row per workload, a
// line per run on stderr, and the JSON file with every run and the load on the machine.
func TestBenchCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bench.json")
	var out, errb bytes.Buffer
	err := call("bench", []string{"--only", "gauss20/exact_sm,langevin/ula", "--steps", "30", "--repeats", "2",
		"--no-request", "--data", "../../examples/data", "--json", path, "--watch", "50ms", "--settle", "0", "--allow-busy"}, &out, &errb)
	require.NoError(t, err, errb.String())
	table := out.String()
	assert.Contains(t, table, "| workload | unit | goebm | accuracy figure | goebm |")
	assert.Contains(t, table, "| gauss20/exact_sm | step | ")
	assert.Contains(t, table, "| langevin/ula | step of 4096 chains | ")
	assert.Contains(t, table, "M chain-steps/s")
	assert.Equal(t, 4, strings.Count(errb.String(), "round "), errb.String())
	assert.Contains(t, table, "Load: load average ")

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var res struct {
		Command    string `json:"command"`
		Repeats    int    `json:"repeats"`
		Conditions struct {
			Before struct {
				Window float64 `json:"window_sec"`
			} `json:"before"`
		} `json:"conditions"`
		Workloads []struct {
			Name  string `json:"name"`
			Goebm []struct {
				PerStep float64 `json:"sec_per_step_median"`
				Steps   int     `json:"steps"`
			} `json:"goebm_runs"`
		} `json:"workloads"`
	}
	require.NoError(t, json.Unmarshal(raw, &res))
	assert.Equal(t, 2, res.Repeats)
	// the window is the sleep plus reading /proc: at least 50 ms, far below the default 2 s
	assert.GreaterOrEqual(t, res.Conditions.Before.Window, 0.05, "--watch 50ms")
	assert.Less(t, res.Conditions.Before.Window, 1.0, "--watch 50ms")
	require.Len(t, res.Workloads, 2)
	for _, w := range res.Workloads {
		require.Len(t, w.Goebm, 2, w.Name)
		assert.Equal(t, 30, w.Goebm[0].Steps)
		assert.Greater(t, w.Goebm[0].PerStep, 0.0)
	}
	assert.True(t, strings.HasPrefix(res.Command, "ebm bench --only"))
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--only", "ring8/nce"}, `no workload "ring8/nce"`},
		{[]string{"--repeats", "0"}, "--repeats must be ≥ 1"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--data", "/nonexistent"}, "has no gauss20_precision.csv"},
		{[]string{"--peers", "--peer-dir", "/nonexistent", "--data", "../../examples/data"}, "peer folder /nonexistent (--peer-dir) has no torch_mlp2d.py"},
		{[]string{"--scaling", "--study", "s.toml"}, "separate modes"},
		{[]string{"--scaling", "--sweeps", "depth", "--data", "../../examples/data"}, `no scaling sweep "depth" (known: batch, width, dim)`},
		{[]string{"--scaling", "--peer-threads", "0", "--data", "../../examples/data"}, `--peer-threads: "0" is not a positive integer`},
		{[]string{"--study", "s.toml", "--study-workers", "x"}, `--study-workers: "x" is not a positive integer`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := call("bench", tc.args, &out, &errb)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var ue usageError
			assert.True(t, errors.As(err, &ue), "a usage error (exit status 2)")
		})
	}
}

// asEbm makes the test binary run as the ebm command (main1) when the bench starts it as a
// child: `ebm train` for --e2e and --e2e-config, `ebm bench --child` for --scaling.
const asEbm = "GOEBM_TEST_RUN_AS_EBM"

func TestMain(m *testing.M) {
	if os.Getenv(asEbm) == "1" {
		os.Exit(main1(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir) // the command buildEBM built once
	}
	os.Exit(code)
}

// --e2e trains the workload's run file with ebm train (this test binary as ebm) and the table
// shows the in-process step beside the end-to-end time from summary.json; --e2e-config times
// any run file the same way.
func TestBenchEndToEnd(t *testing.T) {
	t.Setenv(asEbm, "1")
	var out, errb bytes.Buffer
	err := call("bench", []string{"--only", "gauss20/dsm", "--steps", "30", "--repeats", "1", "--e2e", "--no-request",
		"--data", "../../examples/data", "--watch", "50ms", "--settle", "0", "--allow-busy"}, &out, &errb)
	require.NoError(t, err, errb.String())
	assert.Contains(t, out.String(), "| workload | unit | goebm step | goebm `ebm train` | peer step | peer whole loop | speed-up, step | speed-up, end to end |")
	assert.Regexp(t, `\| gauss20/dsm \| step \| [0-9.]+ [mµ]s†? \| [0-9.]+ [mµ]s†? \| – \| – \| – \| – \|`, out.String())
	assert.Contains(t, errb.String(), "end to end (ebm train, ")

	out.Reset()
	errb.Reset()
	err = call("bench", []string{"--e2e-config", "../../examples/gauss20-dsm.toml", "--set", "train.steps=20", "--repeats", "1",
		"--watch", "50ms", "--settle", "0"}, &out, &errb)
	require.NoError(t, err, errb.String())
	assert.Contains(t, out.String(), "| ../../examples/gauss20-dsm.toml | 20 | ")
	assert.Contains(t, out.String(), "with --set train.steps=20, 1 round(s)")
}

// Every `ebm bench` command in docs/benchmarks.md, README.md and the Makefile is accepted as
// written, from the repository's root: its flags, files, data, peer scripts and workloads
// check out (--dry-run runs nothing).
func TestBenchDocCommands(t *testing.T) {
	t.Setenv("EBM_PEERS_DIR", "")
	re := regexp.MustCompile("ebm bench([^`#\n]*)")
	var cmds []string
	for _, f := range []string{"../../docs/benchmarks.md", "../../README.md", "../../Makefile"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			cmds = append(cmds, strings.TrimSpace(m[1]))
		}
	}
	require.GreaterOrEqual(t, len(cmds), 10)
	t.Chdir("../..")
	for _, c := range cmds {
		t.Run(c, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := call("bench", append(strings.Fields(c), "--dry-run"), &out, &errb)
			require.NoError(t, err, errb.String())
			assert.Contains(t, out.String(), "would run: ")
		})
	}
}

// `ebm bench --child`, as the scaling runs start it: a run file on standard input, its step
// times and peak memory as one JSON line on standard output.
func TestBenchChild(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	data, err := filepath.Abs("../../examples/data")
	require.NoError(t, err)
	req, err := json.Marshal(bench.ChildRequest{Name: "child.toml", BaseDir: data, Seed: 1, Text: `
[data]
train = "gauss20_train.csv.gz"
[energy]
builtin = "gaussian"
[trainer]
method = "dsm"
[train]
batch = 64
steps = 15
`})
	require.NoError(t, err)
	cmd := exec.Command(self, "bench", "--child")
	cmd.Env = append(os.Environ(), asEbm+"=1")
	cmd.Stdin = bytes.NewReader(req)
	out, err := cmd.Output()
	require.NoError(t, err)
	var res bench.ChildResult
	require.NoError(t, json.Unmarshal(out, &res))
	assert.Equal(t, 15, res.Sample.Steps)
	assert.Greater(t, res.Sample.PerStep, 0.0)
	assert.Greater(t, res.VmHWMKiB, int64(0))
}

// Every `go test -bench` command in docs/benchmarks.md names benchmarks that exist: its
// pattern's top level (before the first /) lists at least one benchmark of its package with
// `go test -list`, run from the repository's root. NAME in a profile command stands for a
// workload and is checked as ring8/dsm. (The commands themselves take minutes: they are the
// measurements, not tests.)
func TestGoBenchCommandsInDocs(t *testing.T) {
	b, err := os.ReadFile("../../docs/benchmarks.md")
	require.NoError(t, err)
	re := regexp.MustCompile(`go test -run '\^\$' -bench ('[^']+'|\S+)[^` + "`" + `\n]*? (\./[a-z/]+/)`)
	ms := re.FindAllStringSubmatch(string(b), -1)
	require.GreaterOrEqual(t, len(ms), 6, "go test -bench commands in docs/benchmarks.md")
	t.Chdir("../..")
	for _, m := range ms {
		pattern := strings.ReplaceAll(strings.Trim(m[1], "'"), "NAME", "ring8/dsm")
		top, _, _ := strings.Cut(pattern, "/")
		out, err := exec.Command("go", "test", "-list", top, m[2]).CombinedOutput()
		require.NoError(t, err, "%s\n%s", m[0], out)
		assert.Regexp(t, `(?m)^Benchmark`, string(out), "%s: no benchmark of %s matches %q", m[0], m[2], top)
	}
}

// scripts/ab_train.py, which times two builds pair by pair (docs/benchmarks.md), runs the
// run files of bench/ab with this ebm as both builds: one pair each, a median per build, the
// pair ratio, and byte-identical parameters (the same build and seed).
func TestABTrainScript(t *testing.T) {
	bin := buildEBM(t)
	t.Chdir("../..")
	out, err := exec.Command("/usr/bin/python3", "scripts/ab_train.py", "--before", bin, "--after", bin, "--pairs", "1",
		"--set", "train.steps=20", "bench/ab/ring8-dsm.toml", "bench/ab/ring8-ssm.toml").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, f := range []string{"bench/ab/ring8-dsm.toml", "bench/ab/ring8-ssm.toml"} {
		assert.Regexp(t, regexp.QuoteMeta(f)+`: before [0-9.]+ µs/step`, string(out))
		assert.Regexp(t, regexp.QuoteMeta(f)+`: after/before pair by pair [0-9.]+ \(.*\); params identical: True`, string(out))
	}
	assert.Contains(t, string(out), "load average before: ")
}
