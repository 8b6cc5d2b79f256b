package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/run"
)

// ebm sample never writes over a run's files (--out RUN/params.json would have put the
// diagnostics in the trained model) nor its samples over its diagnostics (--out x.json).
func TestSampleNeverWritesOverARun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	code, _, errs := ebm(t, "train", "../../examples/ring8-sm.toml", "--out", out, "--quiet", "--set", "train.steps=3")
	require.Equal(t, 0, code, errs)
	params, err := os.ReadFile(filepath.Join(out, run.ParamsFile))
	require.NoError(t, err)
	for _, c := range []struct{ out, want string }{
		{filepath.Join(out, run.ParamsFile), "is a file of the run in|name the CSV of the samples"},
		{filepath.Join(out, "params.csv"), "is a file of the run in"}, // its diagnostics would be params.json
		{filepath.Join(dir, "x.json"), "would both be written to|name the CSV of the samples"},
	} {
		code, _, errs := ebm(t, "sample", out, "--n", "10", "--out", c.out, "--set", "sampler.method=mala", "--quiet")
		assert.Equal(t, exitUsage, code, errs)
		assert.Regexp(t, c.want, errs)
	}
	after, err := os.ReadFile(filepath.Join(out, run.ParamsFile))
	require.NoError(t, err)
	assert.Equal(t, params, after)
	assert.NoFileExists(t, filepath.Join(dir, "x.json"))
}

// Hostile inputs through ebm validate (which checks what train checks): /dev/zero as data,
// a key asking for more memory than allowed, nested tables; each is refused at once with
// status 2 and a message naming the file or key. All-+1 spin data are valid.
func TestValidateRefusesWhatWouldExhaustTheMachine(t *testing.T) {
	dir := t.TempDir()
	nested := filepath.Join(dir, "nested.toml")
	require.NoError(t, os.WriteFile(nested, []byte("a = "+strings.Repeat("{b = ", 10000)+"1"+strings.Repeat("}", 10000)+"\n"), 0o644))
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"/dev/zero as data", []string{"validate", "../../examples/gauss20-sm.toml", "--set", "data.train=/dev/zero"}, "/dev/zero: is a character device"},
		{"dsm levels", []string{"validate", "../../examples/gauss20-dsm.toml", "--set", "trainer.levels=10000000", "--set", "trainer.sigma_max=1.0",
			"--set", "trainer.sigma_min=0.01", "--set", "compute.max_memory=64MiB"}, "key trainer.levels"},
		{"mlp hidden", []string{"validate", "../../examples/ring8-sm.toml", "--set", "energy.config.hidden=[100000, 100000]"}, "key energy.config.hidden"},
		{"nested tables", []string{"validate", nested}, "nest deeper than 16"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			code, _, errs := ebm(t, c.args...)
			assert.Equal(t, exitUsage, code, errs)
			assert.Contains(t, errs, c.want)
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}
	ones := filepath.Join(dir, "ones.csv")
	require.NoError(t, os.WriteFile(ones, []byte("s1,s2,s3\n1,1,1\n1,1,1\n"), 0o644))
	code, out, errs := ebm(t, "validate", "../../examples/ising10-pl.toml", "--set", "data.train="+ones)
	assert.Equal(t, 0, code, errs)
	assert.Contains(t, out, "valid")
}

// A run file may not replace runs ([output] overwrite is refused; --force replaces), nor lead
// its output.dir outside the working directory; a CSV error never prints a file's lines.
func TestRunFilesCannotReachOtherRuns(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	code, _, errs := ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", victim, "--quiet", "--set", "train.steps=5")
	require.Equal(t, 0, code, errs)
	before := map[string][]byte{}
	for _, f := range []string{run.ConfigFile, run.ParamsFile, run.MetricsFile, run.SummaryFile} {
		before[f], _ = os.ReadFile(filepath.Join(victim, f))
	}

	work := filepath.Join(dir, "work", "sub")
	require.NoError(t, os.MkdirAll(work, 0o755))
	data, err := filepath.Abs("../../examples/data/gauss20_train.csv.gz")
	require.NoError(t, err)
	evil := filepath.Join(work, "evil.toml")
	require.NoError(t, os.WriteFile(evil, []byte("[data]\ntrain = \""+data+"\"\n[energy]\nbuiltin = \"gaussian\"\n[trainer]\nmethod = \"sm\"\n[train]\nsteps = 2\n[output]\ndir = \"../../victim\"\n"), 0o644))
	t.Chdir(filepath.Join(dir, "work"))
	code, _, errs = ebm(t, "train", "sub/evil.toml")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "key output.dir")
	assert.Contains(t, errs, "leads outside the working directory")
	code, _, errs = ebm(t, "train", "sub/evil.toml", "--set", "output.overwrite=true")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "pass --force")
	for f, b := range before {
		after, _ := os.ReadFile(filepath.Join(victim, f))
		assert.Equal(t, b, after, "%s of the victim", f)
	}
	// The command line may name the folder, and --force replace its run.
	code, _, errs = ebm(t, "train", "sub/evil.toml", "--out", victim, "--force", "--quiet")
	require.Equal(t, 0, code, errs)
	assert.NotEqual(t, before[run.ParamsFile], mustRead(t, filepath.Join(victim, run.ParamsFile)))

	secret := filepath.Join(dir, "secret.txt")
	line := "password=correct-horse-battery-staple-and-more-secret-words"
	require.NoError(t, os.WriteFile(secret, []byte(line+"\n"+line+"\n"), 0o600))
	code, _, errs = ebm(t, "validate", "sub/evil.toml", "--set", "data.train="+secret, "--set", "output.dir="+filepath.Join(dir, "elsewhere"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "secret.txt:2: column 1: value")
	assert.NotContains(t, errs, "battery-staple")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// A loss on its way to 1e170 stops the run by default (relative rule) with the step named,
// where it used to end with status 0; an overflowing loss is rolled back with the guard on,
// and its record is written (value null) without stopping the run.
func TestDivergenceDefaults(t *testing.T) {
	dir := t.TempDir()
	args := []string{"train", "../../examples/gauss20-sm.toml", "--quiet", "--set", "optimizer.momentum=0", "--set", "optimizer.lr=1.0", "--set", "train.steps=150"}
	code, _, errs := ebm(t, append(args, "--out", filepath.Join(dir, "default"))...)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, errs, "beyond the divergence threshold")
	assert.Regexp(t, `at step \d+`, errs)

	code, out, errs := ebm(t, append(args, "--out", filepath.Join(dir, "off"), "--set", "train.max_loss_ratio=0")...)
	require.Equal(t, 0, code, errs)
	s, err := run.ReadSummary(filepath.Join(dir, "off"))
	require.NoError(t, err)
	assert.Greater(t, s.TrainLoss, 1e150, "without the rule: %s", out)

	inf := filepath.Join(dir, "inf")
	code, out, errs = ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", inf, "--quiet", "--set", "optimizer.momentum=0",
		"--set", "optimizer.lr=1.6", "--set", "train.steps=200", "--set", "train.max_rollbacks=4", "--set", "train.max_loss_ratio=0",
		"--set", "train.log_every=5")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "loss = +Inf")
	metrics := string(mustRead(t, filepath.Join(inf, run.MetricsFile)))
	assert.Contains(t, metrics, `"quantity":"loss","value":null`)
}

// docs/plugins.md says plainly that a run file runs the program it names.
func TestPluginDocsWarn(t *testing.T) {
	b, err := os.ReadFile("../../docs/plugins.md")
	require.NoError(t, err)
	assert.Contains(t, string(b), "**A run file runs the program it names.**")
	assert.Contains(t, string(b), "`ebm validate`, `train`, `train --resume`, `eval`")
}

// Every command in docs/reliability.md runs as written from the repository's root, with the
// exit status its comment gives (0 when it gives none).
func TestReliabilityDocCommands(t *testing.T) {
	text := string(mustRead(t, "../../docs/reliability.md"))
	var lines []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text, -1) {
		lines = append(lines, strings.Split(strings.TrimSpace(block[1]), "\n")...)
	}
	require.Len(t, lines, 5)
	t.Chdir("../..")
	out := filepath.Join("runs", "reliability")
	require.NoError(t, os.RemoveAll(out))
	t.Cleanup(func() { os.RemoveAll(out) })
	status := regexp.MustCompile(`#\s*status (\d+)`)
	for _, line := range lines {
		cmd, comment, _ := strings.Cut(line, "#")
		want := 0
		if m := status.FindStringSubmatch("#" + comment); m != nil {
			want, _ = strconv.Atoi(m[1])
		}
		args := strings.Fields(cmd)
		require.Equal(t, "ebm", args[0], line)
		start := time.Now()
		code, _, errs := ebm(t, args[1:]...)
		assert.Equal(t, want, code, "%s\n%s", line, errs)
		assert.Less(t, time.Since(start), time.Minute, line)
		if strings.Contains(line, "trainer.levels") {
			assert.Contains(t, errs, "key trainer.levels")
		}
	}
	s, err := run.ReadSummary(out)
	require.NoError(t, err)
	assert.Equal(t, 30, s.Steps, "the run that --force wrote")
}
