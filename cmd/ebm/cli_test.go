package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/conformance"
	"github.com/goebm/goebm/run"
)

// Per-command help: `ebm help CMD`, `ebm CMD --help` and `ebm CMD -h` print the same text on
// stdout (the command's description, usage line and flags) and exit with status 0.
func TestHelpPerCommand(t *testing.T) {
	for _, tc := range []struct {
		cmd  []string
		want []string // in the help beside the usage line
	}{
		{[]string{"train"}, []string{"--resume RUN_DIR", "--out DIR", "--set key=value", "--json"}},
		{[]string{"sample"}, []string{"--n N", "--out FILE", "--json"}},
		{[]string{"eval"}, []string{"--metric METRICS", "--data FILE"}},
		{[]string{"study"}, []string{"--workers N", "--plan", "--merge"}},
		{[]string{"validate"}, []string{"--set key=value", "--json"}},
		{[]string{"list"}, []string{"energies|trainers|optimizers|samplers", "--json"}},
		{[]string{"plugin"}, []string{"check", "info"}},
		{[]string{"plugin", "check"}, []string{"-- ARGV...", "--config", "--dim"}},
		{[]string{"plugin", "info"}, []string{"-- ARGV...", "--json"}},
		{[]string{"bench"}, []string{"--peers", "--repeats"}},
		{[]string{"version"}, []string{"--json"}},
		{[]string{"help"}, []string{"ebm help [COMMAND]"}},
	} {
		name := strings.Join(tc.cmd, " ")
		t.Run(name, func(t *testing.T) {
			code, help, errs := ebm(t, append([]string{"help"}, tc.cmd...)...)
			require.Equal(t, exitOK, code, errs)
			assert.Empty(t, errs)
			assert.Contains(t, help, "Usage:\n  ebm "+name)
			for _, w := range tc.want {
				assert.Contains(t, help, w)
			}
			for _, flag := range []string{"--help", "-h"} {
				code, out, errs := ebm(t, append(append([]string{}, tc.cmd...), flag)...)
				assert.Equal(t, exitOK, code, errs)
				assert.Empty(t, errs)
				assert.Equal(t, help, out, "ebm %s %s and ebm help %s", name, flag, name)
			}
		})
	}
}

// `ebm`, `ebm help` and `ebm --help` list every command and the exit statuses; `ebm` alone is
// a usage error with the help on stderr.
func TestRootHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, errs := ebm(t, args...)
		require.Equal(t, exitOK, code, errs)
		for _, c := range []string{"train", "sample", "eval", "study", "validate", "list", "plugin", "bench", "version", "help", "Exit status:"} {
			assert.Contains(t, out, c)
		}
	}
	code, out, errs := ebm(t)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errs, "Usage:")
	assert.Contains(t, errs, "ebm: missing command")
}

// ebm --version, -v and ebm version print the version on stdout; --json adds the toolchain.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		code, out, errs := ebm(t, args...)
		require.Equal(t, exitOK, code, errs)
		assert.Equal(t, "ebm "+Version+"\n", out, args)
	}
	code, out, errs := ebm(t, "version", "--json")
	require.Equal(t, exitOK, code, errs)
	var v struct {
		Version, Go string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	assert.Equal(t, Version, v.Version)
	assert.True(t, strings.HasPrefix(v.Go, "go"), v.Go)
}

// A mistyped command is a usage error that suggests the command meant.
func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"trian", "x.toml"}, `unknown command "trian" (did you mean "train"?)`},
		{[]string{"valdate"}, `(did you mean "validate"?)`},
		{[]string{"help", "sampel"}, `unknown command "sampel" (did you mean "sample"?)`},
		{[]string{"plugin", "chek", "--", "x"}, `unknown command "chek" (did you mean "check"?)`},
		{[]string{"list", "energ"}, `unknown kind "energ"`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; 'ebm --help' lists the commands`},
	} {
		code, out, errs := ebm(t, tc.args...)
		assert.Equal(t, exitUsage, code, errs)
		assert.Empty(t, out)
		assert.Contains(t, errs, tc.want)
	}
}

// exitCode classifies errors by type, through any wrapping.
func TestExitCodeByType(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, exitOK},
		{errors.New("a plugin died"), exitFail},
		{wrap(usagef("want one CONFIG.toml")), exitUsage},
		{wrap(&run.Error{Key: "train.batch", Msg: "must be ≥ 1"}), exitUsage},
		{wrap(&run.InputError{Err: errors.New("bad params")}), exitUsage},
		{wrap(&framework.CSVError{Path: "x.csv", Msg: "empty file"}), exitUsage},
		{wrap(fmt.Errorf("sm on spins: %w", framework.ErrUnsupportedDomain)), exitUsage},
		{wrap(interrupted{framework.ErrInterrupted}), exitInterrupted},
		{wrap(&framework.DivergedError{Value: 1e9, Limit: 1e4}), exitFail},
	} {
		assert.Equal(t, tc.code, exitCode(tc.err), "%v", tc.err)
	}
}

// One exit-status policy across the commands: 0 when the work is done, 1 when it started and
// failed, 2 for bad usage or configuration (exit status 3 and 130 are the signal tests').
func TestExitStatusPerCommand(t *testing.T) {
	dir := t.TempDir()
	finished := filepath.Join(dir, "cf")
	code, _, errs := ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", finished, "--quiet", "--set", "trainer.closed_form=true")
	require.Equal(t, exitOK, code, errs)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	base, err := filepath.Abs("../../examples/gauss20-sm.toml")
	require.NoError(t, err)
	// The cell diverges: plain gradient descent with lr beyond 2/λmax, no rollbacks allowed.
	study := write("s.toml", fmt.Sprintf("base = %q\nseeds = [1]\nmetrics = [\"sm_loss\"]\n[set]\n\"train.steps\" = 40\n\"optimizer.lr\" = 1.6\n\"optimizer.momentum\" = 0\n\"train.max_rollbacks\" = 0\n\"train.max_loss\" = 1e4\n", base))
	badStudy := write("bad.toml", fmt.Sprintf("base = %q\nseeds = [1]\nmetrics = [\"nll\"]\n[set]\n\"train.stepz\" = 3\n", base))
	diverge := []string{"--set", "optimizer.lr=1.6", "--set", "optimizer.momentum=0", "--set", "train.max_rollbacks=0", "--set", "train.max_loss=1e4"}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"train ok", []string{"train", "../../examples/gauss20-sm.toml", "--out", filepath.Join(dir, "t"), "--quiet", "--set", "train.steps=3"}, exitOK},
		{"train diverges", append([]string{"train", "../../examples/gauss20-sm.toml", "--out", filepath.Join(dir, "d"), "--quiet"}, diverge...), exitFail},
		{"train missing file", []string{"train", filepath.Join(dir, "none.toml")}, exitUsage},
		{"train finished folder", []string{"train", "../../examples/gauss20-sm.toml", "--out", finished}, exitUsage},
		{"sample ok", []string{"sample", "../../examples/ring8-sample.toml", "--n", "20", "--out", filepath.Join(dir, "s.csv"), "--quiet", "--set", "sampler.warmup=10"}, exitOK},
		{"sample n 0", []string{"sample", "../../examples/ring8-sample.toml", "--n", "0"}, exitUsage},
		{"sample mala on spins", []string{"sample", "../../examples/ising10-pl.toml", "--set", "sampler.method=mala", "--out", filepath.Join(dir, "m.csv")}, exitUsage},
		{"eval ok", []string{"eval", finished, "--metric", "sm_loss"}, exitOK},
		{"eval no run", []string{"eval", dir}, exitUsage},
		{"eval unknown metric", []string{"eval", finished, "--metric", "bogus"}, exitUsage},
		{"study ok", []string{"study", study, "--out", filepath.Join(dir, "so"), "--quiet", "--plan"}, exitOK},
		{"study cell fails", []string{"study", study, "--out", filepath.Join(dir, "so"), "--quiet", "--cell", "0"}, exitFail},
		{"study bad file", []string{"study", badStudy}, exitUsage},
		{"validate ok", []string{"validate", "../../examples/gauss20-sm.toml"}, exitOK},
		{"validate bad key", []string{"validate", "../../examples/gauss20-sm.toml", "--set", "train.batch=0"}, exitUsage},
		{"list ok", []string{"list", "samplers"}, exitOK},
		{"list foo", []string{"list", "foo"}, exitUsage},
		{"version extra", []string{"version", "extra"}, exitUsage},
		{"help ok", []string{"help", "train"}, exitOK},
		{"help unknown", []string{"help", "nope"}, exitUsage},
		{"plugin no program", []string{"plugin", "check"}, exitUsage},
		{"plugin not a plugin", []string{"plugin", "info", "--", "/bin/false"}, exitFail},
		{"bench bad flag", []string{"bench", "--repeats", "0"}, exitUsage},
		{"completion ok", []string{"completion", "bash"}, exitOK},
		{"unknown flag", []string{"validate", "--frob", "x.toml"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := ebm(t, tc.args...)
			assert.Equal(t, tc.code, code, errs)
			if tc.code != exitOK {
				assert.NotEmpty(t, errs, "a failure says why")
			}
		})
	}
}

// summary.json says what produced the run: this ebm's version, the Go version, the host, when
// it started and ended, and the kernels the energies used on this CPU.
func TestSummaryProvenance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	before := time.Now().UTC()
	code, _, errs := ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", dir, "--quiet", "--set", "train.steps=3")
	require.Equal(t, exitOK, code, errs)
	after := time.Now().UTC()
	s, err := run.ReadSummary(dir)
	require.NoError(t, err)
	p := s.Provenance
	require.NotNil(t, p)
	assert.Equal(t, Version, p.Version)
	assert.Equal(t, runtime.Version(), p.GoVersion)
	host, _ := os.Hostname()
	assert.Equal(t, host, p.Host)
	assert.False(t, p.Start.Before(before.Truncate(time.Second)), "start %v, before %v", p.Start, before)
	assert.False(t, p.End.Before(p.Start))
	assert.False(t, p.End.After(after))
	assert.Equal(t, energy.Kernels(), p.Kernels)
	assert.NotNil(t, p.CPUFeatures)
}

// The files of a run folder and of ebm sample have the permissions the umask gives a new file
// (0644 under the usual 022), not 0600: collaborators can read them.
func TestRunFilesFollowTheUmask(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, _, errs := ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", dir, "--quiet", "--set", "trainer.closed_form=true")
	require.Equal(t, exitOK, code, errs)
	code, _, errs = ebm(t, "sample", dir, "--n", "16", "--quiet")
	require.Equal(t, exitOK, code, errs)
	ref, err := os.Create(filepath.Join(t.TempDir(), "reference"))
	require.NoError(t, err)
	st, err := ref.Stat()
	require.NoError(t, err)
	ref.Close()
	for _, f := range []string{run.ConfigFile, run.ParamsFile, run.SummaryFile, run.MetricsFile, run.SamplesFile, run.SamplesDiagnosticsFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Equal(t, st.Mode().Perm(), fi.Mode().Perm(), f)
	}
}

// --json prints the result of a command as JSON on stdout, and nothing else there.
func TestJSONOutputs(t *testing.T) {
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	for _, tc := range []struct {
		args []string
		key  string // a key of the object printed
	}{
		{[]string{"train", "../../examples/gauss20-sm.toml", "--out", runDir, "--quiet", "--set", "trainer.closed_form=true", "--json"}, "run_dir"},
		{[]string{"sample", runDir, "--n", "16", "--quiet", "--json"}, "diagnostics"},
		{[]string{"eval", runDir, "--metric", "sm_loss", "--json"}, "metrics"},
		{[]string{"validate", "../../examples/ring8-sm.toml", "--json"}, "valid"},
		{[]string{"version", "--json"}, "kernels"},
	} {
		code, out, errs := ebm(t, tc.args...)
		require.Equal(t, exitOK, code, "%v: %s", tc.args, errs)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &m), "%v: %s", tc.args, out)
		assert.Contains(t, m, tc.key, tc.args)
	}
	code, out, errs := ebm(t, "list", "samplers", "--json")
	require.Equal(t, exitOK, code, errs)
	var kinds []struct {
		Kind       string `json:"kind"`
		Components []struct {
			Name string `json:"name"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &kinds))
	require.Len(t, kinds, 1)
	assert.Equal(t, "samplers", kinds[0].Kind)
	assert.NotEmpty(t, kinds[0].Components)
}

// ebm plugin info --json prints the plugin's description and configured spec as JSON: the
// double well at d = 3 has two blocks of 3 parameters, the capabilities and config keys it
// declares, and the same figures as the human-readable output.
func TestPluginInfoJSON(t *testing.T) {
	bin := buildPlugin(t, "../../plugins/examples/doublewell")
	code, out, errs := ebm(t, "plugin", "info", "--json", "--dim", "3", "--", bin)
	require.Equal(t, exitOK, code, errs)
	var d conformance.Description
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	require.NotNil(t, d.Spec, out)
	assert.Equal(t, "doublewell", d.Spec.Name)
	assert.Equal(t, 3, d.Spec.Dim)
	assert.Equal(t, 6, d.Spec.NumParams)
	assert.Equal(t, []conformance.BlockInfo{{Name: "log_scale", Shape: []int{3}, Size: 3}, {Name: "center", Shape: []int{3}, Size: 3}}, d.Spec.Blocks)
	assert.Contains(t, d.Spec.Capabilities, "hvp")
	var keys []string
	for _, f := range d.Config {
		keys = append(keys, f.Key)
	}
	assert.Contains(t, keys, "init_center")
	code, human, errs := ebm(t, "plugin", "info", "--dim", "3", "--", bin)
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, human, "6 parameters")
	assert.Contains(t, human, "capabilities ["+strings.Join(d.Spec.Capabilities, ",")+"]")
}

// ebm plugin check --json prints the conformance report as JSON on stdout (the steps as they
// run go to stderr), and its exit status says whether every step passed.
func TestPluginCheckJSON(t *testing.T) {
	bin := buildPlugin(t, "../../plugins/examples/doublewell")
	for _, tc := range []struct {
		args []string
		code int
		ok   bool
	}{
		{[]string{"--dim", "1"}, exitOK, true},
		{nil, exitFail, false}, // a plugin of no dimension of its own, given none
	} {
		code, out, errs := ebm(t, append(append([]string{"plugin", "check", "--json"}, tc.args...), "--", bin)...)
		assert.Equal(t, tc.code, code, errs)
		var rep struct {
			OK    bool `json:"ok"`
			Steps []struct {
				Name string `json:"name"`
				Pass bool   `json:"pass"`
			} `json:"steps"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		assert.Equal(t, tc.ok, rep.OK)
		assert.NotEmpty(t, rep.Steps)
		assert.Contains(t, errs, "handshake", "the steps as they run, on stderr")
	}
}
