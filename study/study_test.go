package study_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
	"github.com/goebm/goebm/study"
	"github.com/goebm/goebm/trainers"
)

func registry() *framework.Registry {
	r := framework.NewRegistry()
	energy.Register(r)
	trainers.Register(r)
	samplers.Register(r)
	r.SamplerShared = func() any { o := samplers.DefaultDrawOptions(); return &o }
	return r
}

// writeStudy writes a small study into dir: 2-D normal data with covariance [[1, .5], [.5, 1]],
// a gaussian energy, three estimators, two seeds.
func writeStudy(t *testing.T, dir string) string {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("x1,x2\n")
	for i := 0; i < 400; i++ {
		z1, z2 := rng.NormFloat64(), rng.NormFloat64()
		fmt.Fprintf(&b, "%v,%v\n", z1, 0.5*z1+0.8660254037844386*z2)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train.csv"), []byte(b.String()), 0o644))
	base := `seed = 1
[data]
train = "train.csv"
[energy]
builtin = "gaussian"
[trainer]
method = "sm"
[optimizer]
method = "adam"
lr = 0.05
[train]
batch = 100
steps = 60
log_every = 10
[eval.quadrature]
lo = [-7]
hi = [7]
points = 200
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "base.toml"), []byte(base), 0o644))
	st := `base = "base.toml"
seeds = [1, 2]
metrics = ["nll", "ksd", "sm_loss", "mmd"]

[[grid]]
key = "trainer"
values = [{method = "sm", closed_form = true}, {method = "sm"}, {method = "dsm", sigma = 0.2}]
labels = ["sm-cf", "sm", "dsm"]

[eval.samples]
chains = 50
warmup = 50
draws = 2
thin = 10

[eval.sampler]
method = "mala"
step = 0.1
`
	path := filepath.Join(dir, "study.toml")
	require.NoError(t, os.WriteFile(path, []byte(st), 0o644))
	return path
}

func TestStudyResume(t *testing.T) {
	dir := t.TempDir()
	path := writeStudy(t, dir)
	reg := registry()
	s, err := study.Load(path, reg)
	require.NoError(t, err)
	require.Len(t, s.Cells, 6)
	assert.Equal(t, "000-sm-cf-s1", s.Cells[0].Dir)

	// Straight through.
	straight := filepath.Join(dir, "straight")
	out, err := s.Run(t.Context(), study.Options{Out: straight, Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, 6, out.Ran)
	assert.Equal(t, 0, out.Failed)
	want, err := os.ReadFile(filepath.Join(straight, "results.csv"))
	require.NoError(t, err)

	// Killed halfway through the training of cell 3 (when at least two cells are done), then
	// started again, freshly loaded as a new process would: cell 3 continues from the
	// checkpoint it wrote when stopped.
	killed := filepath.Join(dir, "killed")
	ctx, cancel := context.WithCancel(t.Context())
	var done atomic.Int32
	_, err = s.Run(ctx, study.Options{Out: killed, Workers: 2,
		OnCellDone: func(*study.Cell) { done.Add(1) },
		OnStep: func(c *study.Cell, step int) {
			if c.Index == 3 && step == 30 {
				cancel()
			}
		}})
	cancel()
	require.ErrorIs(t, err, framework.ErrInterrupted)
	assert.GreaterOrEqual(t, done.Load(), int32(2))
	assert.FileExists(t, filepath.Join(killed, "cells", s.Cells[3].Dir, "checkpoint.json"), "cell 3 stopped mid-training")
	assert.NoFileExists(t, filepath.Join(killed, "cells", s.Cells[3].Dir, "summary.json"))
	_, err = os.Stat(filepath.Join(killed, "results.csv"))
	assert.True(t, os.IsNotExist(err), "no results until every cell is finished")
	s2, err := study.Load(path, reg)
	require.NoError(t, err)
	var log strings.Builder
	out2, err := s2.Run(t.Context(), study.Options{Out: killed, Workers: 1, Log: &log})
	require.NoError(t, err)
	assert.NotContains(t, log.String(), "cannot resume", "cell 3 resumed from its checkpoint")
	assert.GreaterOrEqual(t, out2.Skipped, 2)
	assert.Equal(t, 6, out2.Skipped+out2.Ran)
	got, err := os.ReadFile(filepath.Join(killed, "results.csv"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	// A third run does nothing and writes the same file again.
	out3, err := s2.Run(t.Context(), study.Options{Out: killed, Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, 6, out3.Skipped)
	again, _ := os.ReadFile(filepath.Join(killed, "results.csv"))
	assert.Equal(t, string(want), string(again))

	// t.Log("\n" + string(want))
	for _, f := range []string{"summary.md", "timing.csv", "plots/nll.png", "plots/ksd.png", "plots/curves-01-sm.png", "plots/density-00-sm-cf.png"} {
		_, err := os.Stat(filepath.Join(straight, f))
		assert.NoError(t, err, f)
	}
}

// A study whose evaluation changed re-evaluates its finished cells without training them
// again; one whose training changed refuses the folder.
func TestStudyChanged(t *testing.T) {
	dir := t.TempDir()
	path := writeStudy(t, dir)
	reg := registry()
	s, err := study.Load(path, reg)
	require.NoError(t, err)
	out := filepath.Join(dir, "out")
	_, err = s.Run(t.Context(), study.Options{Out: out, Workers: 2})
	require.NoError(t, err)
	params := filepath.Join(out, "cells", s.Cells[2].Dir, "params.json")
	before, err := os.Stat(params)
	require.NoError(t, err)

	text, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(string(text)+"\n[eval.ksd]\nmax_points = 100\n"), 0o644))
	s2, err := study.Load(path, reg)
	require.NoError(t, err)
	res, err := s2.Run(t.Context(), study.Options{Out: out, Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, 6, res.Ran, "every cell evaluated again")
	after, err := os.Stat(params)
	require.NoError(t, err)
	assert.Equal(t, before.ModTime(), after.ModTime(), "and none trained again")

	require.NoError(t, os.WriteFile(path, []byte(string(text)+"\n[set]\n\"train.steps\" = 61\n"), 0o644))
	s3, err := study.Load(path, reg)
	require.NoError(t, err)
	_, err = s3.Run(t.Context(), study.Options{Out: out, Workers: 2})
	assert.ErrorContains(t, err, "was trained with another configuration")
}

func TestStudyFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := writeStudy(t, dir)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	reg := registry()
	for _, tc := range []struct {
		from, to, want string
	}{
		{`base = "base.toml"`, `base = "nope.toml"`, "study.toml:1: key base: cannot read"},
		{`metrics = ["nll", "ksd", "sm_loss", "mmd"]`, `metrics = ["nll", "kds"]`, `study.toml:3: key metrics: unknown metric "kds"`},
		{`seeds = [1, 2]`, `seeds = [1, 1]`, "study.toml:2: key seeds: seed 1 appears twice"},
		{`seeds = [1, 2]`, `seedz = [1, 2]`, `study.toml:2: key seedz: unknown key (did you mean "seeds"?)`},
		{`key = "trainer"`, `key = "trainer"` + "\nkye = 1", `study.toml:5: key grid: [[grid]] 1: unknown key "kye"`},
		{`labels = ["sm-cf", "sm", "dsm"]`, `labels = ["a", "a", "b"]`, `[[grid]] 1: label "a" appears twice`},
		{`{method = "dsm", sigma = 0.2}`, `{method = "dsm", sigma = -0.2}`, "study.toml:5: key trainer.sigma: must be positive"},
		{"[eval.sampler]\nmethod = \"mala\"", "[eval.sampler]\nmethod = \"malla\"", `study.toml:16: key eval.sampler.method: unknown sampler "malla"`},
		{"step = 0.1", "step = 0.1\nstpe = 1", "key eval.sampler.stpe: unknown key"},
	} {
		bad := strings.Replace(string(text), tc.from, tc.to, 1)
		require.NotEqual(t, string(text), bad, tc.from)
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
		_, err := study.Load(path, reg)
		assert.ErrorContains(t, err, tc.want)
	}
	_, err = study.Load(path, reg) // the last case: errors in a cell name it
	assert.ErrorContains(t, err, "cell 0 (trainer=sm-cf seed=1): ")
}
