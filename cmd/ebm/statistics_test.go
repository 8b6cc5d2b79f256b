package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/run"
)

// readResults returns results.csv of a study folder as rows keyed by column name.
func readResults(t *testing.T, dir string) []map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "results.csv"))
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for j, h := range recs[0] {
			m[h] = r[j]
		}
		out = append(out, m)
	}
	return out
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, s)
	return v
}

// docCommands returns the ebm commands of the sh blocks of a Markdown file, in order.
func docCommands(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var cmds []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && strings.HasPrefix(line, "ebm "):
			cmds = append(cmds, line)
		}
	}
	return cmds
}

// Every command of docs/statistics.md runs exactly as written, from a folder laid out as the
// repository's root (examples/ linked in), and gives what the page says: the L-BFGS run
// converges, its standard errors are computed and not singular, and the studies show what the
// worked example reports — on ising10 the MLE has the smallest se_mean, on gauss20 score
// matching and the MLE agree, and in the graph study recovery improves with n (edge F1 at
// n = 2000 above that at n = 250, ≥ 0.9 at n = 2000, the parameter error falling at every step),
// with the selected graph in each cell's edges.csv and the path in summary.json's report.
func TestStatisticsDocsCommands(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	cmds := docCommands(t, filepath.Join(root, "docs", "statistics.md"))
	require.Len(t, cmds, 5)
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(root, "examples"), filepath.Join(dir, "examples")))
	t.Chdir(dir)
	outputs := map[string]string{}
	for _, c := range cmds {
		code, stdout, stderr := ebm(t, strings.Fields(c)[1:]...)
		require.Equal(t, 0, code, "%s: %s", c, stderr)
		outputs[c] = stdout
	}

	s, err := run.ReadSummary("runs/ising10-pl-lbfgs")
	require.NoError(t, err)
	require.NotNil(t, s.Solver)
	assert.True(t, s.Solver.Converged, s.Solver.Status)
	var ev struct {
		Details struct {
			SE struct {
				Singular bool `json:"singular"`
				Free     int  `json:"free_parameters"`
				Blocks   []struct {
					Name string    `json:"name"`
					SE   []float64 `json:"se"`
				} `json:"blocks"`
			} `json:"se"`
		} `json:"details"`
	}
	require.NoError(t, json.Unmarshal([]byte(outputs["ebm eval runs/ising10-pl-lbfgs --metric se"]), &ev))
	assert.False(t, ev.Details.SE.Singular)
	assert.Equal(t, 55, ev.Details.SE.Free)
	require.Len(t, ev.Details.SE.Blocks, 2)

	eff := map[string]map[string]string{}
	for _, r := range readResults(t, "runs/study-efficiency-ising10") {
		eff[r["trainer"]] = r
	}
	assert.LessOrEqual(t, num(t, eff["mle"]["se_mean"]), num(t, eff["pl"]["se_mean"]))
	assert.LessOrEqual(t, num(t, eff["pl"]["se_mean"]), num(t, eff["rm"]["se_mean"]))
	for _, r := range eff {
		assert.GreaterOrEqual(t, num(t, r["coverage"]), 0.9, r["trainer"])
	}
	g := readResults(t, "runs/study-efficiency-gauss20")
	require.Len(t, g, 3)
	for _, r := range g {
		assert.InEpsilon(t, num(t, g[0]["se_mean"]), num(t, r["se_mean"]), 1e-6, r["trainer"])
		assert.InEpsilon(t, num(t, g[0]["param_error"]), num(t, r["param_error"]), 1e-6, r["trainer"])
	}

	out := "runs/study-graph-ising12"
	rows := readResults(t, out)
	require.Len(t, rows, 4)
	f1 := map[string]float64{}
	prevErr := 2.0
	for _, r := range rows {
		require.Equal(t, "ok", r["status"], r["error"])
		f1[r["n"]] = num(t, r["edge_f1"])
		pe := num(t, r["param_error"])
		assert.Less(t, pe, prevErr, "parameter error at n = %s", r["n"])
		prevErr = pe
	}
	t.Logf("edge F1 by n: %v", f1)
	assert.GreaterOrEqual(t, f1["2000"], 0.9)
	assert.Greater(t, f1["2000"], f1["250"])

	cell := filepath.Join(out, "cells", rows[3]["dir"])
	edges, err := os.ReadFile(filepath.Join(cell, "edges.csv"))
	require.NoError(t, err)
	assert.Equal(t, "i,j,weight", string(bytes.SplitN(edges, []byte("\n"), 2)[0]))
	assert.Equal(t, num(t, rows[3]["n_edges"]), float64(bytes.Count(edges, []byte("\n"))-1))
	var sum struct {
		Report struct {
			Method string `json:"method"`
			Edges  int    `json:"edges"`
			Chosen []int  `json:"chosen"`
		} `json:"report"`
	}
	b, err := os.ReadFile(filepath.Join(cell, "summary.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sum))
	assert.Equal(t, "neighbourhood selection", sum.Report.Method)
	assert.Len(t, sum.Report.Chosen, 12, "EBIC chooses λ per node")
}
