package run

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

func dataPath(t testing.TB, name string) string {
	p, err := filepath.Abs(filepath.Join("..", "examples", "data", name))
	require.NoError(t, err)
	return p
}

// limitsBase is a small continuous run (ring8, d = 2) whose memory is bounded at 64 MiB, so
// that a key asking for gigabytes is refused; had Build no estimate, the values below would
// allocate at most a few hundred megabytes before failing.
const limitsBase = `[data]
train = %q
[energy]
builtin = "gaussian"
[trainer]
method = "sm"
[compute]
max_memory = "64MiB"
`

// Each key that sets how much a run allocates (the ten of issue 12) is estimated before
// anything is allocated: a value beyond the memory allowed is refused with the key named, by
// Build (so by ebm validate as well as train), at once.
func TestMemoryEstimateNamesTheKey(t *testing.T) {
	ring8, digits := dataPath(t, "ring8_test.csv"), dataPath(t, "digits_bin.csv")
	for _, c := range []struct {
		name string
		data string
		sets []string
		key  string
	}{
		{"dsm draws", ring8, []string{"trainer.method=dsm", "trainer.draws=100000"}, "trainer.draws"},
		{"dsm levels", ring8, []string{"trainer.method=dsm", "trainer.levels=10000000", "trainer.sigma_max=1.0", "trainer.sigma_min=0.01"}, "trainer.levels"},
		{"nce nu", ring8, []string{"trainer.method=nce", "trainer.nu=100000.0"}, "trainer.nu"},
		{"mlp hidden", ring8, []string{"energy.builtin=mlp", "energy.config.hidden=[4096, 4096]"}, "energy.config.hidden"},
		{"rbm hidden", digits, []string{"energy.builtin=rbm", "energy.config.hidden=200000", "trainer.method=pcd", "sampler.method=gibbs"}, "energy.config.hidden"},
		{"gmm components", ring8, []string{"energy.builtin=gmm", "energy.config.components=1000000"}, "energy.config.components"},
		{"pcd chains", ring8, []string{"trainer.method=pcd", "trainer.chains=10000000", "sampler.method=ula"}, "trainer.chains"},
		{"sampler chains", ring8, []string{"sampler.method=mala", "sampler.chains=10000000"}, "sampler.chains"},
		{"pl grid points", ring8, []string{"trainer.method=pl", "trainer.grid_points=10000000"}, "trainer.grid_points"},
		{"ssm projections", ring8, []string{"trainer.method=ssm", "trainer.projections=100000"}, "trainer.projections"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, err := Parse("limits.toml", []byte(fmt.Sprintf(limitsBase, c.data)), c.sets)
			require.NoError(t, err)
			cfg, err := Decode(src, samplingRegistry())
			require.NoError(t, err)
			start := time.Now()
			b, err := Build(cfg, samplingRegistry())
			if err == nil {
				b.Close()
			}
			require.Error(t, err)
			var ke *Error
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, c.key, ke.Key, err.Error())
			assert.Contains(t, err.Error(), `more than [compute] max_memory = "64MiB" allows`)
			assert.Less(t, time.Since(start), 2*time.Second)

			// Within the default (this machine's memory) a modest value of the key builds.
		})
	}
	// The same file with the key at a usable value builds: the estimate is not a blanket no.
	src, err := Parse("limits.toml", []byte(fmt.Sprintf(limitsBase, ring8)), []string{"trainer.method=dsm", "trainer.draws=4"})
	require.NoError(t, err)
	cfg, err := Decode(src, samplingRegistry())
	require.NoError(t, err)
	b, err := Build(cfg, samplingRegistry())
	require.NoError(t, err)
	b.Close()
}

// /dev/zero as data fails at once with a clear error, and a data file larger than the memory
// allowed stops being read at that size, with the key named.
func TestDataLimits(t *testing.T) {
	for _, c := range []struct {
		data, want string
	}{
		{"/dev/zero", "/dev/zero: is a character device, not a CSV file"},
		{dataPath(t, "ring8_train.csv.gz"), "key data.train: "},
	} {
		src, err := Parse("limits.toml", []byte(fmt.Sprintf(limitsBase, c.data)), []string{"compute.max_memory=100KiB"})
		require.NoError(t, err)
		cfg, err := Decode(src, samplingRegistry())
		require.NoError(t, err)
		start := time.Now()
		_, err = Build(cfg, samplingRegistry())
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
		assert.Less(t, time.Since(start), 2*time.Second)
	}
}

// Spin data that happen to be all +1 are accepted by a spin energy (the smallest domain of
// such data is binary, yet they are spins too).
func TestAllPlusOneSpinData(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ones.csv"), []byte("s1,s2,s3\n1,1,1\n1,1,1\n"), 0o644))
	src, err := Parse(filepath.Join(dir, "run.toml"), []byte("[data]\ntrain = \"ones.csv\"\n[energy]\nbuiltin = \"ising\"\n[energy.config]\nspins = true\n[trainer]\nmethod = \"pl\"\n"), nil)
	require.NoError(t, err)
	cfg, err := Decode(src, samplingRegistry())
	require.NoError(t, err)
	b, err := Build(cfg, samplingRegistry())
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, framework.Spin, b.Spec.Domain)
	require.NoError(t, b.Run.Init())

	// A spin energy still refuses binary data with a zero in it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bits.csv"), []byte("s1,s2\n0,1\n"), 0o644))
	src, _ = Parse(filepath.Join(dir, "run.toml"), []byte("[data]\ntrain = \"bits.csv\"\n[energy]\nbuiltin = \"ising\"\n[trainer]\nmethod = \"pl\"\n"), nil)
	cfg, err = Decode(src, samplingRegistry())
	require.NoError(t, err)
	_, err = Build(cfg, samplingRegistry())
	require.ErrorContains(t, err, "is over spin data but")
}

// A run file is capped in size and nesting before it is parsed: 60 KB of nested inline tables
// (which took the TOML decoder 4 GB and 40 s) and a device are refused at once.
func TestRunFileLimits(t *testing.T) {
	nested := "a = " + strings.Repeat("{b = ", 10000) + "1" + strings.Repeat("}", 10000) + "\n"
	require.Greater(t, len(nested), 60000)
	start := time.Now()
	_, err := Parse("nested.toml", []byte(nested), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nested.toml:1: arrays and inline tables nest deeper than 16 levels")
	arrays := "x = " + strings.Repeat("[", 17) + strings.Repeat("]", 17)
	_, err = Parse("arrays.toml", []byte(arrays), nil)
	assert.ErrorContains(t, err, "nest deeper")
	_, err = Parse("set.toml", []byte("seed = 1\n"), []string{"a=" + strings.Repeat("[", 40) + strings.Repeat("]", 40)})
	assert.ErrorContains(t, err, "--set a=")
	// Brackets inside strings and comments do not count.
	ok := "s = \"" + strings.Repeat("[{", 40) + "\"\n# " + strings.Repeat("{", 40) + "\nt = '''" + strings.Repeat("[", 40) + "'''\n"
	_, err = Parse("ok.toml", []byte(ok), nil)
	assert.NoError(t, err)

	big := filepath.Join(t.TempDir(), "big.toml")
	require.NoError(t, os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileBytes)+"\n"), 0o644))
	_, err = Load(big, nil)
	assert.ErrorContains(t, err, "larger than 1048576 bytes")
	_, err = Load("/dev/zero", nil)
	assert.ErrorContains(t, err, "not a regular file")
	assert.Less(t, time.Since(start), 2*time.Second)
}

// [output] overwrite is refused, whether in the file or set: only ebm train --force replaces
// a run. The default divergence rule is relative, at 1e8 times the loss's scale.
func TestOverwriteKeyAndGuardDefaults(t *testing.T) {
	for _, c := range []struct {
		text string
		sets []string
	}{{good + "[output]\noverwrite = true\n", nil}, {good, []string{"output.overwrite=true"}}} {
		src, err := Parse("run.toml", []byte(c.text), c.sets)
		require.NoError(t, err)
		_, err = Decode(src, testRegistry())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "output.overwrite: is no longer read")
		assert.Contains(t, err.Error(), "--force")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train.csv"), []byte("a,b\n1,2\n3,4\n"), 0o644))
	src, err := Parse(filepath.Join(dir, "run.toml"), []byte(good), nil)
	require.NoError(t, err)
	cfg, err := Decode(src, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, 1e8, cfg.Train.MaxLossRatio)
	b, err := Build(cfg, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, framework.Guard{LRFactor: 0.5, MaxLossRatio: 1e8}, b.Run.Schedule.Guard)
}

// A relative output.dir written in a run file must stay below the working directory; the
// command line (--out, --set) and an absolute path in the file may name any folder.
func TestOutputDirStaysBelowTheWorkingDirectory(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	require.NoError(t, os.MkdirAll(filepath.Join(work, "cfg"), 0o755))
	require.NoError(t, os.Symlink(root, filepath.Join(work, "escape")))
	t.Chdir(work)
	for _, c := range []struct {
		name, file, dir string
		sets            []string
		out, want, err  string
	}{
		{"default", "cfg/run.toml", "", nil, "", "runs/run", ""},
		{"relative below", "cfg/run.toml", "out", nil, "", "cfg/out", ""},
		{"../../ from the file", "cfg/run.toml", "../../", nil, "", "", "leads outside the working directory"},
		{"up and out", "run.toml", "../other", nil, "", "", "leads outside the working directory"},
		{"through a link", "run.toml", "escape/x", nil, "", "", "leads outside the working directory"},
		{"absolute in the file", "cfg/run.toml", filepath.Join(root, "abs"), nil, "", filepath.Join(root, "abs"), ""},
		{"from --set", "cfg/run.toml", "", []string{"output.dir=../elsewhere"}, "", "../elsewhere", ""},
		{"--out", "cfg/run.toml", "../../", nil, "../x", "../x", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := good
			if c.dir != "" {
				text += fmt.Sprintf("[output]\ndir = %q\n", c.dir)
			}
			src, err := Parse(c.file, []byte(text), c.sets)
			require.NoError(t, err)
			cfg, err := Decode(src, testRegistry())
			require.NoError(t, err)
			got, err := cfg.OutputDir(c.out, "run")
			if c.err != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrOutside)
				assert.Contains(t, err.Error(), "key output.dir")
				assert.Contains(t, err.Error(), "--out")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// ebm sample's outputs may not be a run's files, nor each other.
func TestCheckOutputs(t *testing.T) {
	dir := walkSetup(t)
	out := filepath.Join(dir, "run")
	_, err := trainUntil(t, walkConfig(t, dir, 1), out, 0, Options{})
	require.NoError(t, err)
	for _, c := range []struct {
		samples, diag, want string
	}{
		{filepath.Join(out, ParamsFile), filepath.Join(out, "params.json"), "is a file of the run in"},
		{filepath.Join(dir, "x.csv"), filepath.Join(out, SummaryFile), "is a file of the run in"},
		{filepath.Join(dir, "x.json"), filepath.Join(dir, "x.json"), "would both be written to"},
		{filepath.Join(dir, "a.csv"), filepath.Join(dir, ".", "sub", "..", "a.csv"), "would both be written to"},
	} {
		err := CheckOutputs(map[string]string{"samples": c.samples, "diagnostics": c.diag})
		require.Error(t, err, c.samples)
		assert.Contains(t, err.Error(), c.want)
	}
	require.NoError(t, os.Symlink(filepath.Join(dir, "train.csv"), filepath.Join(dir, "alias.csv")))
	assert.ErrorContains(t, CheckOutputs(map[string]string{"samples": filepath.Join(dir, "train.csv"), "diagnostics": filepath.Join(dir, "alias.csv")}), "are the same file")
	assert.NoError(t, CheckOutputs(map[string]string{"samples": filepath.Join(out, "samples.csv"), "diagnostics": filepath.Join(out, "samples.json")}),
		"new files in a run folder are fine")
}
