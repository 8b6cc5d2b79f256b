package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/study"
)

// Every example study file, with its base run file, is valid against this build's registry.
func TestExampleStudiesAreValid(t *testing.T) {
	files, err := filepath.Glob("../../examples/studies/*.toml")
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "-base.toml") {
			continue
		}
		s, err := study.Load(f, registry())
		require.NoError(t, err, f)
		assert.NotEmpty(t, s.Cells, f)
		n++
	}
	assert.Equal(t, 11, n, "four studies, each with a small variant, the graph-recovery study and two efficiency studies")
}

// ebm eval on a closed-form score-matching run of gauss20 reads the precision error of the
// maximum-likelihood estimate that PROVENANCE.md states, 0.0273056….
func TestEvalCommandGauss20(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cf")
	code, _, stderr := ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", dir, "--quiet", "--set", "trainer.closed_form=true")
	require.Equal(t, 0, code, stderr)
	var out, errb bytes.Buffer
	err := call("eval", []string{dir, "--metric", "param_error,sm_loss,ksd", "--set", "eval.params.reference=../../examples/data/gauss20_precision.csv",
		"--set", "eval.params.block=W", "--set", "eval.params.symmetric=true", "--set", "eval.ksd.max_points=500"}, &out, &errb)
	require.NoError(t, err, errb.String())
	var rep struct {
		Energy  string             `json:"energy"`
		Metrics map[string]float64 `json:"metrics"`
		Rows    int                `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	assert.Equal(t, "gaussian", rep.Energy)
	assert.Equal(t, 20000, rep.Rows, "the training data when the run has no test set")
	assert.InDelta(t, 0.02730563787733097, rep.Metrics["param_error"], 1e-9)
	assert.Contains(t, rep.Metrics, "sm_loss")
	assert.Contains(t, rep.Metrics, "ksd")

	err = call("eval", []string{dir, "--metric", "nll,bogus"}, &out, &errb)
	assert.ErrorContains(t, err, `unknown metric "bogus"`)
	err = call("eval", []string{dir, "--set", "eval.ais.chains=1", "--metric", "sm_loss"}, &out, &errb)
	assert.ErrorContains(t, err, "key eval.ais.chains: must be ≥ 2")
}

// ebm study runs a small study, prints its summary, and a second run finds every cell done.
func TestStudyCommand(t *testing.T) {
	dir := t.TempDir()
	abs, err := filepath.Abs("../../examples/studies/ising10-base.toml")
	require.NoError(t, err)
	text := `base = "` + abs + `"
seeds = [1, 2]
metrics = ["param_error", "nll", "pseudo_nll"]
[set]
"train.steps" = 20
[[grid]]
key = "trainer"
values = [{method = "pl"}, {method = "cd"}]
`
	path := filepath.Join(dir, "s.toml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	var out, errb bytes.Buffer
	out2 := filepath.Join(dir, "out")
	require.NoError(t, call("study", []string{path, "--out", out2, "--workers", "2"}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "4 cells (4 run now, 0 already finished, 0 failed)")
	assert.Contains(t, out.String(), "| pl | pl | ising | 2/2 |")
	assert.Contains(t, errb.String(), "[4/4] trainer=cd seed=2: done")
	results, err := os.ReadFile(filepath.Join(out2, "results.csv"))
	require.NoError(t, err)
	assert.Equal(t, 5, strings.Count(string(results), "\n"))

	out.Reset()
	require.NoError(t, call("study", []string{path, "--out", out2, "--quiet"}, &out, &errb))
	assert.Contains(t, out.String(), "4 cells (0 run now, 4 already finished, 0 failed)")
	again, _ := os.ReadFile(filepath.Join(out2, "results.csv"))
	assert.Equal(t, string(results), string(again))

	// A bad grid value is a usage error at the study file's line, before anything runs.
	bad := strings.Replace(text, `{method = "cd"}`, `{method = "cd", k = 0}`, 1)
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
	err = call("study", []string{path, "--out", filepath.Join(dir, "bad")}, &out, &errb)
	var ue usageError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), "s.toml:6: key trainer.k")
	_, statErr := os.Stat(filepath.Join(dir, "bad"))
	assert.True(t, os.IsNotExist(statErr))
}

// ebm eval with the [eval] table of a base run file: on the training data of ising10 no model
// has a lower NLL than the exact maximum-likelihood fit, 5.433534003137537 (PROVENANCE.md).
func TestEvalCommandIsing10(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pl")
	code, _, stderr := ebm(t, "train", "../../examples/studies/ising10-base.toml", "--out", dir, "--quiet", "--set", "train.steps=200")
	require.Equal(t, 0, code, stderr)
	var out, errb bytes.Buffer
	require.NoError(t, call("eval", []string{dir, "--eval", "../../examples/studies/ising10-base.toml", "--metric", "nll,param_error,pseudo_nll,ksd"}, &out, &errb))
	var rep struct {
		Metrics map[string]float64 `json:"metrics"`
		Details map[string]any     `json:"details"`
		Errors  map[string]string  `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	assert.Equal(t, "enumerate", rep.Details["nll_method"])
	assert.GreaterOrEqual(t, rep.Metrics["nll"], 5.433534003137537-1e-9)
	assert.Less(t, rep.Metrics["nll"], 10*math.Ln2, "better than the uniform model, θ = 0")
	assert.Less(t, rep.Metrics["param_error"], 1.0, "closer than θ = 0, whose relative error is 1")
	assert.Greater(t, rep.Metrics["param_maxabs"], 0.0)
	assert.Contains(t, rep.Errors["ksd"], "score")
}
