package run

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/lockfile"
)

// walkTrainer pulls θ towards the batch mean with noise from its stream, so that runs differ
// with their seed and a resume that lost the stream would show. Its loss explodes from step
// blowAt on (when ≥ 0), so that a run can be made to fail half way.
type walkTrainer struct {
	blowAt int
	fail   bool // Init fails, as pcd without a [sampler] does
}

type walkOpts struct {
	BlowAt int  `toml:"blow_at"`
	Fail   bool `toml:"fail_init"`
}

func (w *walkTrainer) Init(*framework.TrainContext) error {
	if w.fail {
		return errors.New("walk: needs a sampler for its negative samples: add a [sampler] table")
	}
	return nil
}

func (w *walkTrainer) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	n, _ := batch.Dims()
	loss := 0.0
	for j := range theta {
		mu := mat.Sum(batch.ColView(j)) / float64(n)
		d := theta[j] - mu
		loss += d * d / 2
		if grad != nil {
			grad[j] = d + 0.01*ctx.RNG.NormFloat64()
		}
	}
	if w.blowAt >= 0 && ctx.Step >= w.blowAt {
		return math.NaN(), nil
	}
	return loss, nil
}

type walkOpt struct{ lr float64 }

func (o *walkOpt) Update(theta, grad []float64) {
	for i := range theta {
		theta[i] -= o.lr * grad[i]
	}
}
func (o *walkOpt) LR() float64      { return o.lr }
func (o *walkOpt) SetLR(lr float64) { o.lr = lr }

// folderRegistry is testRegistry with the walk trainer and a real optimizer step.
func folderRegistry() *framework.Registry {
	r := testRegistry()
	r.Trainers["walk"] = framework.Entry[framework.Trainer]{Name: "walk", Options: func() any { return &walkOpts{BlowAt: -1} },
		New: func(o any, env framework.Env) (framework.Trainer, error) {
			wo := o.(*walkOpts)
			return &walkTrainer{blowAt: wo.BlowAt, fail: wo.Fail}, nil
		}}
	r.Optimizers["walk"] = framework.Entry[framework.Optimizer]{Name: "walk", Options: func() any { return &struct{}{} },
		New: func(any, framework.Env) (framework.Optimizer, error) { return &walkOpt{lr: 0.1}, nil }}
	return r
}

const walkRun = `seed = %d
[data]
train = "train.csv"
[energy]
builtin = "fake"
[trainer]
method = "walk"
[optimizer]
method = "walk"
[train]
batch = 4
steps = 40
log_every = 1
checkpoint_every = 5
`

// walkSetup writes data and a run file in a temporary folder and returns the folder.
func walkSetup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train.csv"), []byte("a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n"), 0o644))
	return dir
}

// walkConfig decodes the walk run file of dir with seed and sets.
func walkConfig(t *testing.T, dir string, seed int, sets ...string) *Config {
	t.Helper()
	src, err := Parse(filepath.Join(dir, "run.toml"), []byte(fmt.Sprintf(walkRun, seed)), sets)
	require.NoError(t, err)
	cfg, err := Decode(src, folderRegistry())
	require.NoError(t, err)
	return cfg
}

// trainUntil trains cfg into out and cancels the run after stop steps (0: never).
func trainUntil(t *testing.T, cfg *Config, out string, stop int, opts Options) (*Summary, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts.OnStep = func(s, _ int, _ float64) {
		if s == stop {
			cancel()
		}
	}
	return Train(ctx, cfg, folderRegistry(), out, opts)
}

// snapshot returns every file under dir (relative path → content; symbolic links as
// "-> target").
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			m[rel] = "-> " + target
		case d.IsDir():
			m[rel+"/"] = ""
		default:
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			m[rel] = string(b)
		}
		return nil
	})
	require.NoError(t, err)
	return m
}

func keys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// interrupted returns a run folder holding an interrupted walk run (checkpoint at step 12).
func interrupted(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "run")
	_, err := trainUntil(t, walkConfig(t, dir, 1), out, 12, Options{})
	require.ErrorIs(t, err, framework.ErrInterrupted)
	require.FileExists(t, filepath.Join(out, CheckpointFile))
	return out
}

// A command that fails at any check (the trainer's start-up, a test or validation file of
// the wrong width, an energy that cannot be built, a configuration too large for the memory)
// fails before the folder is touched: a folder holding a finished run and one holding an
// interrupted run keep every byte, even with --force, and a folder that did not exist is not
// made.
func TestTrainChecksBeforeTouchingTheFolder(t *testing.T) {
	dir := walkSetup(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wide.csv"), []byte("a,b,c\n1,2,3\n"), 0o644))
	finished := filepath.Join(dir, "finished")
	_, err := trainUntil(t, walkConfig(t, dir, 1), finished, 0, Options{})
	require.NoError(t, err)
	inter := interrupted(t, dir)
	for _, c := range []struct {
		name string
		sets []string
		want string
	}{
		{"trainer start-up", []string{"trainer.fail_init=true"}, "needs a sampler"},
		{"test data of another width", []string{"data.test=" + filepath.Join(dir, "wide.csv")}, "has 3 columns, the training data 2"},
		{"validation data of another width", []string{"data.valid=" + filepath.Join(dir, "wide.csv")}, "has 3 columns, the training data 2"},
		{"missing data", []string{"data.train=" + filepath.Join(dir, "none.csv")}, "none.csv"},
		{"over the memory allowed", []string{"compute.max_memory=100B"}, "max_memory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, out := range []string{finished, inter} {
				before := snapshot(t, out)
				_, err := trainUntil(t, walkConfig(t, dir, 2, c.sets...), out, 0, Options{Overwrite: true})
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.want)
				assert.Equal(t, before, snapshot(t, out), "the folder was touched")
			}
			fresh := filepath.Join(dir, "fresh-"+strings.ReplaceAll(c.name, " ", "-"))
			_, err := trainUntil(t, walkConfig(t, dir, 2, c.sets...), fresh, 0, Options{})
			require.Error(t, err)
			assert.NoDirExists(t, fresh)
		})
	}
}

// A fresh train refuses a folder that holds a finished run or an interrupted run's
// checkpoint, with a typed error; the folder keeps every byte.
func TestTrainRefusesAFolderWithARun(t *testing.T) {
	dir := walkSetup(t)
	finished := filepath.Join(dir, "finished")
	_, err := trainUntil(t, walkConfig(t, dir, 1), finished, 0, Options{})
	require.NoError(t, err)
	inter := interrupted(t, dir)
	for out, sentinel := range map[string]error{finished: ErrFinished, inter: ErrInterruptedRun} {
		before := snapshot(t, out)
		_, err := trainUntil(t, walkConfig(t, dir, 2), out, 0, Options{})
		var fe *FolderError
		require.ErrorAs(t, err, &fe)
		require.ErrorIs(t, err, sentinel)
		assert.Contains(t, err.Error(), "--force")
		assert.Equal(t, before, snapshot(t, out))
	}
	_, err = Resume(context.Background(), finished, nil, folderRegistry(), Options{})
	require.ErrorIs(t, err, ErrFinished)
	_, err = Resume(context.Background(), filepath.Join(dir, "none"), nil, folderRegistry(), Options{})
	require.ErrorIs(t, err, ErrNotResumable)
}

// --force replaces a run only once the new one has written its outputs: a new run that fails
// half way leaves the old run's files in the folder (and says where); a new run that succeeds
// removes them.
func TestForceKeepsTheOldRunUntilTheNewOneIsWritten(t *testing.T) {
	dir := walkSetup(t)
	out := filepath.Join(dir, "run")
	_, err := trainUntil(t, walkConfig(t, dir, 1), out, 0, Options{})
	require.NoError(t, err)
	old := snapshot(t, out)

	_, err = trainUntil(t, walkConfig(t, dir, 2, "trainer.blow_at=20"), out, 0, Options{Overwrite: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "non-finite value NaN in loss")
	assert.Contains(t, err.Error(), "are kept in "+filepath.Join(out, previousPrefix))
	matches, _ := filepath.Glob(filepath.Join(out, previousPrefix+"*"))
	require.Len(t, matches, 1)
	for _, f := range []string{ParamsFile, SummaryFile, ConfigFile, MetricsFile} {
		b, err := os.ReadFile(filepath.Join(matches[0], f))
		require.NoError(t, err)
		assert.Equal(t, old[f], string(b), "%s of the old run is kept", f)
	}

	_, err = trainUntil(t, walkConfig(t, dir, 3), out, 0, Options{Overwrite: true})
	require.NoError(t, err)
	now := snapshot(t, out)
	assert.Equal(t, []string{ConfigFile, MetricsFile, ParamsFile, SummaryFile}, keys(now), "the old runs are gone, nothing else is left")
	assert.NotEqual(t, old[ParamsFile], now[ParamsFile])
}

// A checkpoint carries the digest of each data file: a resume on changed data (same shape,
// other values) is refused with the file named, and --allow-data-change overrides it.
func TestResumeRefusesChangedData(t *testing.T) {
	dir := walkSetup(t)
	out := interrupted(t, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train.csv"), []byte("a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,13\n"), 0o644))
	before := snapshot(t, out)
	_, err := Resume(context.Background(), out, nil, folderRegistry(), Options{})
	require.ErrorIs(t, err, ErrDataChanged)
	assert.Contains(t, err.Error(), "data.train ("+filepath.Join(dir, "train.csv")+")")
	assert.Contains(t, err.Error(), "--allow-data-change")
	assert.Equal(t, before, snapshot(t, out))

	_, err = Resume(context.Background(), out, nil, folderRegistry(), Options{AllowDataChange: true})
	require.NoError(t, err)
	assert.True(t, Finished(out))
}

// Interrupted, resumed, and straight runs end with the same parameters, and a resume removes
// the temporary files a killed process left.
func TestResumeBitIdenticalAndCleansTemporaries(t *testing.T) {
	dir := walkSetup(t)
	straight := filepath.Join(dir, "straight")
	_, err := trainUntil(t, walkConfig(t, dir, 1), straight, 0, Options{})
	require.NoError(t, err)
	out := interrupted(t, dir)
	for _, f := range []string{".checkpoint.json.tmp-abc", ".params.json.tmp-1", ".metrics.jsonl.tmp-x"} {
		require.NoError(t, os.WriteFile(filepath.Join(out, f), make([]byte, 1000), 0o644))
	}
	_, err = Resume(context.Background(), out, nil, folderRegistry(), Options{})
	require.NoError(t, err)
	a, b := snapshot(t, straight), snapshot(t, out)
	assert.Equal(t, a[ParamsFile], b[ParamsFile])
	assert.Equal(t, strings.Count(a[MetricsFile], "\n"), strings.Count(b[MetricsFile], "\n"))
	assert.Equal(t, []string{ConfigFile, MetricsFile, ParamsFile, SummaryFile}, keys(b), "no temporary file left")
}

// A final checkpoint precedes params.json: when writing the outputs fails (here params.json
// is taken by a folder; a full disk does the same), the run can be finished with --resume,
// to the parameters of a run that never failed.
func TestFinalCheckpointBeforeParams(t *testing.T) {
	dir := walkSetup(t)
	straight := filepath.Join(dir, "straight")
	_, err := trainUntil(t, walkConfig(t, dir, 1), straight, 0, Options{})
	require.NoError(t, err)

	out := filepath.Join(dir, "run")
	blocker := filepath.Join(out, ParamsFile, "x")
	require.NoError(t, os.MkdirAll(blocker, 0o755))
	_, err = trainUntil(t, walkConfig(t, dir, 1), out, 0, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the final checkpoint is kept")
	cp, err := framework.ReadCheckpoint(filepath.Join(out, CheckpointFile))
	require.NoError(t, err)
	assert.Equal(t, 40, cp.Step)
	assert.False(t, Finished(out))

	require.NoError(t, os.RemoveAll(filepath.Join(out, ParamsFile)))
	_, err = Resume(context.Background(), out, nil, folderRegistry(), Options{})
	require.NoError(t, err)
	assert.Equal(t, snapshot(t, straight)[ParamsFile], snapshot(t, out)[ParamsFile])
	assert.NoFileExists(t, filepath.Join(out, CheckpointFile))
}

// A folder whose lock is held by a live process is refused, untouched.
func TestTrainRefusesALockedFolder(t *testing.T) {
	dir := walkSetup(t)
	out := interrupted(t, dir)
	lock, err := lockfile.Acquire(filepath.Join(out, LockFile), lockfile.Options{Purpose: "another ebm train"})
	require.NoError(t, err)
	defer lock.Release()
	before := snapshot(t, out)
	_, err = Resume(context.Background(), out, nil, folderRegistry(), Options{})
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), "(another ebm train)")
	_, err = trainUntil(t, walkConfig(t, dir, 2), out, 0, Options{Overwrite: true})
	require.ErrorIs(t, err, ErrLocked)
	assert.Equal(t, before, snapshot(t, out))
}

// Files in a run folder are opened without following symbolic links: a metrics.jsonl planted
// as a link to a file elsewhere is neither truncated nor written through.
func TestRunFolderLinksAreNotFollowed(t *testing.T) {
	dir := walkSetup(t)
	victim := filepath.Join(dir, "victim.txt")
	require.NoError(t, os.WriteFile(victim, []byte("precious\nlines\n"), 0o644))

	out := interrupted(t, dir)
	require.NoError(t, os.Remove(filepath.Join(out, MetricsFile)))
	require.NoError(t, os.Symlink(victim, filepath.Join(out, MetricsFile)))
	_, err := Resume(context.Background(), out, nil, folderRegistry(), Options{})
	require.Error(t, err)
	b, _ := os.ReadFile(victim)
	assert.Equal(t, "precious\nlines\n", string(b))

	// A finished run replaced with --force: the link is moved aside, never written through.
	fin := filepath.Join(dir, "finished")
	_, err = trainUntil(t, walkConfig(t, dir, 1), fin, 0, Options{})
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(fin, MetricsFile)))
	require.NoError(t, os.Symlink(victim, filepath.Join(fin, MetricsFile)))
	_, err = trainUntil(t, walkConfig(t, dir, 2), fin, 0, Options{Overwrite: true})
	require.NoError(t, err)
	b, _ = os.ReadFile(victim)
	assert.Equal(t, "precious\nlines\n", string(b))
}

// config.toml is read without following a link, and a checkpoint.json that is not a
// checkpoint is a typed error naming the file.
func TestResumeReadsOnlyItsOwnFiles(t *testing.T) {
	dir := walkSetup(t)
	out := interrupted(t, dir)
	require.NoError(t, os.WriteFile(filepath.Join(out, CheckpointFile), []byte(`{"version": 2, "pos": -5}`), 0o644))
	_, err := Resume(context.Background(), out, nil, folderRegistry(), Options{})
	require.ErrorIs(t, err, ErrNotResumable)
	require.ErrorIs(t, err, framework.ErrBadCheckpoint)
	var fe *FolderError
	require.ErrorAs(t, err, &fe)
}
