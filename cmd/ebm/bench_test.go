package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runBench on two short workloads: the Markdown table on stdout with a row per workload, a
// line per run on stderr, and the JSON file with every run. (The command is reached through
// runBench until it joins the command table.)
func TestBenchCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bench.json")
	var out, errb bytes.Buffer
	err := call("bench", []string{"--only", "gauss20/exact_sm,langevin/ula", "--steps", "30", "--repeats", "2",
		"--no-request", "--data", "../../examples/data", "--json", path}, &out, &errb)
	require.NoError(t, err, errb.String())
	table := out.String()
	assert.Contains(t, table, "| workload | unit | goebm | accuracy figure | goebm |")
	assert.Contains(t, table, "| gauss20/exact_sm | step | ")
	assert.Contains(t, table, "| langevin/ula | step of 4096 chains | ")
	assert.Contains(t, table, "M chain-steps/s")
	assert.Equal(t, 4, strings.Count(errb.String(), "round "), errb.String())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var res struct {
		Command   string `json:"command"`
		Repeats   int    `json:"repeats"`
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
		{[]string{"--peers", "--peer-dir", "/nonexistent", "--data", "../../examples/data"}, "peer folder /nonexistent has no torch_mlp2d.py"},
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
