package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// The graph-ising12 example study, run as its header says: graph recovery improves with n
// (edge F1 at n = 2000 above that at n = 250, and the parameter error falls at every step), and
// at n = 2000 the EBIC-selected graph reaches F1 ≥ 0.9. Each cell leaves the selected graph as
// edges.csv and the path in summary.json's report.
func TestGraphStudyRecoveryImprovesWithN(t *testing.T) {
	out := filepath.Join(t.TempDir(), "study")
	var stdout, stderr bytes.Buffer
	require.NoError(t, call("study", []string{"../../examples/studies/graph-ising12.toml", "--out", out, "--quiet"}, &stdout, &stderr), stderr.String())
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
