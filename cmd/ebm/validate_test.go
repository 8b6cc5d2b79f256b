package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ebm validate runs every check that ebm train runs before its first step, so that the two
// agree: an estimator that does not fit the data's domain, a test file whose columns differ
// from the training data's, and a folder that holds a finished run are refused by both with
// exit status 2, and train touches no folder.
func TestValidateAgreesWithTrain(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	write("train.csv", "a,b\n0.1,0.2\n-0.3,0.4\n0.5,-0.6\n")
	write("test3.csv", "a,b,c\n0.1,0.2,0.3\n")
	shape := write("shape.toml", "[data]\ntrain = \"train.csv\"\ntest = \"test3.csv\"\n[energy]\nbuiltin = \"gaussian\"\n[trainer]\nmethod = \"sm\"\n[train]\nbatch = 3\nsteps = 2\n")
	finished := filepath.Join(dir, "done")
	code, _, errs := ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", finished, "--quiet", "--set", "trainer.closed_form=true")
	require.Equal(t, exitOK, code, errs)

	for _, tc := range []struct {
		name string
		args []string // after ebm validate / ebm train
		want string
	}{
		{"sm on spins", []string{"../../examples/ising10-pl.toml", "--set", "trainer.method=sm"}, "sm needs a continuous one"},
		{"test file shape", []string{shape}, "test3.csv has 3 columns, the training data 2"},
		{"finished folder", []string{"../../examples/gauss20-sm.toml", "--out", finished}, "holds a finished run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+tc.name)
			args := tc.args
			if len(args) == 1 || args[1] != "--out" {
				args = append(args, "--out", out)
			}
			code, stdout, errs := ebm(t, append([]string{"validate"}, args...)...)
			assert.Equal(t, exitUsage, code, errs)
			assert.Empty(t, stdout)
			assert.Contains(t, errs, tc.want)
			code, _, errs = ebm(t, append([]string{"train", "--quiet"}, args...)...)
			assert.Equal(t, exitUsage, code, errs)
			assert.Contains(t, errs, tc.want)
			assert.NoDirExists(t, out, "train refused before making its folder")
		})
	}
	// What train would accept, validate accepts: --force on the finished folder.
	code, stdout, errs := ebm(t, "validate", "../../examples/gauss20-sm.toml", "--out", finished, "--force")
	assert.Equal(t, exitOK, code, errs)
	assert.Contains(t, stdout, "valid (sm on gaussian")
}
