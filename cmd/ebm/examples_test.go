package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/run"
)

// Every example run file trains with a small step budget (and every sampling file samples),
// so that no example in the repository can rot.
func TestExamplesRun(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.toml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".toml")
		t.Run(name, func(t *testing.T) {
			code, _, errs := ebm(t, "validate", f)
			if strings.Contains(name, "plugin") && code != 0 {
				// The plugin example names ../bin/mlp, which `make plugins` builds.
				assert.Contains(t, errs, "bin/mlp")
				t.Skip("plugin binary not built (make plugins); covered by TestPluginTrainingBitIdentical")
			}
			require.Equal(t, 0, code, errs)
			out := filepath.Join(t.TempDir(), "run")
			if strings.HasSuffix(name, "-sample") {
				code, _, errs = ebm(t, "sample", f, "--n", "20", "--out", filepath.Join(t.TempDir(), "s.csv"),
					"--set", "sampler.warmup=10", "--quiet")
				require.Equal(t, 0, code, errs)
				return
			}
			code, _, errs = ebm(t, "train", f, "--out", out, "--quiet", "--set", "train.steps=3", "--set", "train.batch=64")
			require.Equal(t, 0, code, errs)
			s, err := run.ReadSummary(out)
			require.NoError(t, err)
			assert.Equal(t, 3, s.Steps)
		})
	}
}
