package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/samplers"
	"github.com/goebm/goebm/study"
)

// sampleDiag is the part of samples.json the tests read.
type sampleDiag struct {
	Method       string     `json:"method"`
	Chains       int        `json:"chains"`
	Warmup       int        `json:"warmup"`
	StepSize     float64    `json:"step_size"`
	Acceptance   *float64   `json:"acceptance"`
	WarmupAccept *float64   `json:"warmup_acceptance"`
	ESS          []*float64 `json:"ess"`
}

func readDiag(t *testing.T, path string) sampleDiag {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var d sampleDiag
	require.NoError(t, json.Unmarshal(b, &d), string(b))
	return d
}

// trained trains a run file into a temporary folder (with extra --set flags) and returns it.
func trained(t *testing.T, file string, sets ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(file), ".toml"))
	args := []string{"train", file, "--out", dir, "--quiet"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	code, _, errs := ebm(t, args...)
	require.Equal(t, exitOK, code, errs)
	return dir
}

// sampled runs `ebm sample RUN --n 1000` on a finished run folder and returns the draws (without
// the energy column) and their diagnostics.
func sampled(t *testing.T, dir string) (*mat.Dense, sampleDiag) {
	t.Helper()
	code, _, errs := ebm(t, "sample", dir, "--n", "1000", "--quiet")
	require.Equal(t, exitOK, code, errs)
	ds, err := framework.ReadCSV(filepath.Join(dir, run.SamplesFile))
	require.NoError(t, err)
	n, cols := ds.X.Dims()
	require.Equal(t, 1000, n)
	return mat.DenseCopyOf(ds.X.Slice(0, n, 0, cols-1)), readDiag(t, filepath.Join(dir, run.SamplesDiagnosticsFile))
}

// essOf is the split effective sample size of a quantity over the draw-major rows of ebm
// sample's CSV (row t·chains + i is chain i's t-th draw).
func essOf(v []float64, chains int) float64 {
	series := make([][]float64, chains)
	for r, x := range v {
		series[r%chains] = append(series[r%chains], x)
	}
	return samplers.SplitESS(series)
}

// `ebm sample runs/ring8-sm --n 2000 --out s.csv` on a run whose file has no [sampler]: the
// sampler is chosen for the continuous energy (MALA), and the CSV holds 2000 rows with the
// data's columns and the energy.
func TestSampleRunWithoutSamplerTable(t *testing.T) {
	dir := trained(t, "../../examples/ring8-sm.toml", "train.steps=30")
	out := filepath.Join(t.TempDir(), "s.csv")
	code, stdout, errs := ebm(t, "sample", dir, "--n", "2000", "--out", out, "--quiet")
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, stdout, "mala on mlp (chosen for the energy")
	ds, err := framework.ReadCSV(out)
	require.NoError(t, err)
	assert.Equal(t, []string{"x1", "x2", "energy"}, ds.Header)
	n, _ := ds.X.Dims()
	assert.Equal(t, 2000, n)
	assert.Equal(t, "mala", readDiag(t, filepath.Join(filepath.Dir(out), "s.json")).Method)
}

// `ebm sample` on an Ising run with --set sampler.method=gibbs, and with no --set at all:
// the chains start from uniform spins (the default init fits the domain), every draw is a
// spin vector.
func TestSampleIsingDefaultsFitTheDomain(t *testing.T) {
	dir := trained(t, "../../examples/ising10-pl.toml", "train.steps=20")
	for _, extra := range [][]string{{"--set", "sampler.method=gibbs"}, nil} {
		out := filepath.Join(t.TempDir(), "s.csv")
		code, _, errs := ebm(t, append([]string{"sample", dir, "--n", "200", "--out", out, "--quiet"}, extra...)...)
		require.Equal(t, exitOK, code, errs)
		ds, err := framework.ReadCSV(out)
		require.NoError(t, err)
		_, d := ds.X.Dims()
		for i := 0; i < 200; i++ {
			for j := 0; j < d-1; j++ {
				v := ds.X.At(i, j)
				require.True(t, v == 1 || v == -1, "row %d column %d is %v", i, j, v)
			}
		}
		assert.Equal(t, "gibbs", readDiag(t, filepath.Join(filepath.Dir(out), "s.json")).Method)
	}
	// An init that does not fit is still refused, before any work, with exit status 2.
	code, _, errs := ebm(t, "sample", dir, "--set", "sampler.init=normal", "--out", filepath.Join(t.TempDir(), "x.csv"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, `init = "normal" does not fit a spin energy`)
}

// `ebm sample RUN` without --out writes RUN/samples.csv and RUN/samples.json; a second call
// does not replace them (exit status 2, the files unchanged) unless --force; the files of the
// run are never replaced; output paths are checked before any work (a bad one fails at once
// even when a hundred million samples are asked for).
func TestSampleOutputs(t *testing.T) {
	dir := trained(t, "../../examples/gauss20-sm.toml", "trainer.closed_form=true")
	code, stdout, errs := ebm(t, "sample", dir, "--n", "100", "--quiet")
	require.Equal(t, exitOK, code, errs)
	csvPath, jsonPath := filepath.Join(dir, run.SamplesFile), filepath.Join(dir, run.SamplesDiagnosticsFile)
	assert.Contains(t, stdout, csvPath)
	first, err := os.ReadFile(csvPath)
	require.NoError(t, err)
	require.FileExists(t, jsonPath)

	code, _, errs = ebm(t, "sample", dir, "--n", "100", "--quiet", "--set", "seed=7")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, csvPath+" exists: pass --force")
	again, _ := os.ReadFile(csvPath)
	assert.Equal(t, first, again, "a refused call leaves the samples as they were")

	code, _, errs = ebm(t, "sample", dir, "--n", "100", "--quiet", "--set", "seed=7", "--force")
	require.Equal(t, exitOK, code, errs)
	again, _ = os.ReadFile(csvPath)
	assert.NotEqual(t, first, again, "--force replaced them with the draws of another seed")

	params, _ := os.ReadFile(filepath.Join(dir, run.ParamsFile))
	afile := filepath.Join(t.TempDir(), "afile")
	require.NoError(t, os.WriteFile(afile, nil, 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", filepath.Join(dir, "params.csv"), "--force"}, "is a file of the run in"},
		{[]string{"--out", filepath.Join(dir, "summary.csv"), "--force"}, "is a file of the run in"},
		{[]string{"--out", filepath.Join(t.TempDir(), "s.json")}, "name the CSV of the samples"},
		{[]string{"--out", filepath.Join(afile, "s.csv")}, "is not a folder"},
		{[]string{"--out", t.TempDir()}, "is a folder"},
	} {
		start := time.Now()
		code, _, errs := ebm(t, append([]string{"sample", dir, "--n", "100000000"}, tc.args...)...)
		assert.Equal(t, exitUsage, code, errs)
		assert.Contains(t, errs, tc.want)
		assert.Less(t, time.Since(start), 20*time.Second, "refused before sampling")
	}
	after, _ := os.ReadFile(filepath.Join(dir, run.ParamsFile))
	assert.Equal(t, params, after)

	// A missing output folder is made (after the work, where nothing else can fail first).
	deep := filepath.Join(t.TempDir(), "a", "b", "s.csv")
	code, _, errs = ebm(t, "sample", dir, "--n", "10", "--out", deep, "--quiet")
	require.Equal(t, exitOK, code, errs)
	assert.FileExists(t, deep)
	assert.FileExists(t, strings.TrimSuffix(deep, ".csv")+".json")
}

// Column names holding commas and quotes come back whole: the CSV is written by encoding/csv.
func TestSampleCSVHeaderWithComma(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d.csv")
	require.NoError(t, os.WriteFile(data, []byte("\"pos, x\",\"say \"\"y\"\"\"\n0.1,0.2\n-0.3,0.5\n0.7,-0.1\n"), 0o644))
	cfg := filepath.Join(dir, "c.toml")
	require.NoError(t, os.WriteFile(cfg, []byte("[data]\ntrain = \"d.csv\"\n[energy]\nbuiltin = \"gaussian\"\n"), 0o644))
	out := filepath.Join(dir, "s.csv")
	code, _, errs := ebm(t, "sample", cfg, "--n", "16", "--out", out, "--quiet")
	require.Equal(t, exitOK, code, errs)
	ds, err := framework.ReadCSV(out)
	require.NoError(t, err)
	assert.Equal(t, []string{"pos, x", `say "y"`, "energy"}, ds.Header)
}

// warmup = 0 works: MALA and HMC run at the step size of the file, fixed, and the undefined
// warm-up acceptance is written as null.
func TestSampleWithoutWarmup(t *testing.T) {
	// The command of the issue as typed there, which failed with "json: unsupported value: NaN"
	// after writing the CSV.
	code, _, errs := ebm(t, "sample", "../../examples/ring8-sample.toml", "--set", "sampler.warmup=0", "--n", "100", "--out", filepath.Join(t.TempDir(), "x.csv"))
	require.Equal(t, exitOK, code, errs)
	for _, method := range []string{"mala", "hmc"} {
		out := filepath.Join(t.TempDir(), "x.csv")
		code, stdout, errs := ebm(t, "sample", "../../examples/ring8-sample.toml", "--set", "sampler.warmup=0",
			"--set", "sampler.method="+method, "--set", "sampler.step=0.05", "--n", "100", "--out", out, "--quiet")
		require.Equal(t, exitOK, code, errs)
		assert.Contains(t, stdout, "(fixed: no warm-up)")
		d := readDiag(t, strings.TrimSuffix(out, ".csv")+".json")
		assert.Equal(t, 0, d.Warmup)
		assert.Nil(t, d.WarmupAccept)
		require.NotNil(t, d.Acceptance)
		assert.Equal(t, 0.05, d.StepSize, "%s: the step of the file, not adapted", method)
	}
}

// ebm sample on a trained Gaussian energy E = ½xᵀWx − bᵀx draws from N(W⁻¹b, W⁻¹): every
// coordinate's mean within 4 Monte Carlo standard errors of W⁻¹b (from its ESS), the mean of
// the Mahalanobis form (x−μ)ᵀW(x−μ) within 4 of its own of d (its variance is 2d), and the
// sample covariance within 4 standard errors of W⁻¹ in Frobenius norm
// (E‖S−Σ‖² = (tr Σ² + (tr Σ)²)/n for n independent draws; n is the smallest ESS).
func TestSampleGaussianMoments(t *testing.T) {
	dir := trained(t, "../../examples/gauss20-sm.toml", "trainer.closed_form=true")
	x, diag := sampled(t, dir)
	n, d := x.Dims()

	p := readParams(t, dir)
	w := symW(p["W"])
	var sigma mat.Dense
	require.NoError(t, sigma.Inverse(w))
	mu := mat.NewVecDense(d, nil)
	mu.MulVec(&sigma, mat.NewVecDense(d, p["b"].Values))

	minESS := math.Inf(1)
	for j := 0; j < d; j++ {
		ess := *diag.ESS[j]
		minESS = math.Min(minESS, ess)
		m := stat.Mean(mat.Col(nil, j, x), nil)
		se := math.Sqrt(sigma.At(j, j) / ess)
		assert.Less(t, math.Abs(m-mu.AtVec(j)), 4*se, "coordinate %d: mean %v, model %v", j, m, mu.AtVec(j))
	}
	q := make([]float64, n)
	diff := mat.NewVecDense(d, nil)
	var wd mat.VecDense
	for i := range q {
		diff.SubVec(mat.NewVecDense(d, mat.Row(nil, i, x)), mu)
		wd.MulVec(w, diff)
		q[i] = mat.Dot(diff, &wd)
	}
	qm := stat.Mean(q, nil)
	assert.Less(t, math.Abs(qm-float64(d)), 4*math.Sqrt(2*float64(d)/essOf(q, diag.Chains)), "mean Mahalanobis form %v, want %d", qm, d)

	var s mat.SymDense
	stat.CovarianceMatrix(&s, x, nil)
	var dev mat.Dense
	dev.Sub(&s, &sigma)
	var s2 mat.Dense
	s2.Mul(&sigma, &sigma)
	tr := mat.Trace(&sigma)
	se := math.Sqrt((mat.Trace(&s2) + tr*tr) / minESS)
	assert.Less(t, mat.Norm(&dev, 2), 4*se, "‖S − W⁻¹‖ (min ESS %.0f)", minESS)
	t.Logf("min ESS %.0f, ‖S − W⁻¹‖ %.3g (4 se %.3g), mean form %.3f", minESS, mat.Norm(&dev, 2), 4*se, qm)
}

// ebm sample on a trained Ising model draws from it: every single-site marginal E[sᵢ] and
// pair correlation E[sᵢsⱼ] of the draws within 4 Monte Carlo standard errors (from the
// split ESS of the quantity) of the exact ones, by enumeration of the 2¹⁰ states of the
// learned model.
func TestSampleIsingMoments(t *testing.T) {
	dir := trained(t, "../../examples/ising10-pl.toml", "train.steps=50")
	x, diag := sampled(t, dir)
	n, d := x.Dims()
	require.Equal(t, 10, d)

	// Exact moments of the learned model.
	sr, err := study.OpenRun(dir, registry())
	require.NoError(t, err)
	defer sr.Close()
	states := mat.NewDense(1<<d, d, nil)
	for k := 0; k < 1<<d; k++ {
		for j := 0; j < d; j++ {
			states.Set(k, j, float64(2*((k>>j)&1)-1))
		}
	}
	req := framework.Request{Outputs: framework.OutEnergy, X: states, Theta: sr.Theta[:sr.Built.Spec.NumParams()]}
	var res framework.Result
	require.NoError(t, sr.Built.Run.Eval.Evaluate(&req, &res))
	p := make([]float64, 1<<d)
	z := 0.0
	for k, e := range res.Energy {
		p[k] = math.Exp(-e)
		z += p[k]
	}
	exact := func(f func(s []float64) float64) float64 {
		v := 0.0
		for k := range p {
			v += p[k] / z * f(states.RawRowView(k))
		}
		return v
	}
	check := func(what string, f func(s []float64) float64) {
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = f(mat.Row(nil, i, x))
		}
		m := exact(f)
		got := stat.Mean(vals, nil)
		se := math.Sqrt((1 - m*m) / essOf(vals, diag.Chains)) // the quantity is ±1: its variance is 1 − m²
		assert.Less(t, math.Abs(got-m), 4*se, "%s: draws %.4f, exact %.4f", what, got, m)
	}
	for i := 0; i < d; i++ {
		check("E[s"+string(rune('0'+i))+"]", func(s []float64) float64 { return s[i] })
		for j := i + 1; j < d; j++ {
			check("E[s_i s_j]", func(s []float64) float64 { return s[i] * s[j] })
		}
	}
}

// Every example trains (a few steps) and `ebm sample RUN --n 1000` succeeds on the run with
// no --set: no example needs a [sampler] table to be sampled.
func TestSampleEveryExampleRun(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.toml")
	require.NoError(t, err)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".toml")
		t.Run(name, func(t *testing.T) {
			src, err := run.Load(f, nil)
			require.NoError(t, err)
			if _, ok := src.Lookup("trainer"); !ok {
				// A file that only samples: sampled as it is.
				code, _, errs := ebm(t, "sample", f, "--n", "1000", "--out", filepath.Join(t.TempDir(), "s.csv"), "--quiet")
				require.Equal(t, exitOK, code, errs)
				return
			}
			sets := []string{"train.steps=3", "train.batch=64"}
			if _, ok := src.Lookup("energy.plugin"); ok {
				sets = append(sets, `energy.plugin=["`+buildPlugin(t, "../../plugins/examples/mlp")+`"]`)
			}
			dir := trained(t, f, sets...)
			code, stdout, errs := ebm(t, "sample", dir, "--n", "1000")
			require.Equal(t, exitOK, code, errs)
			assert.Contains(t, stdout, "(1000 rows)")
			ds, err := framework.ReadCSV(filepath.Join(dir, run.SamplesFile))
			require.NoError(t, err)
			rows, _ := ds.X.Dims()
			assert.Equal(t, 1000, rows)
		})
	}
}
