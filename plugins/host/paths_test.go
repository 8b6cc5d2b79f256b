package host

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScriptIndex(t *testing.T) {
	tests := []struct {
		argv []string
		want int
	}{
		{[]string{"bin/mlp"}, -1},
		{[]string{"bin/mlp", "gaussian"}, -1},
		{[]string{"/usr/bin/python3", "plugin.py"}, 1},
		{[]string{"python3.11", "-u", "-W", "ignore", "p.py", "--x"}, 4},
		{[]string{"python3", "-m", "mypkg.plugin"}, -1},
		{[]string{"/usr/bin/env", "python3", "p.py"}, 2},
		{[]string{"/usr/bin/env", "-u", "X", "A=1", "python3", "-u", "p.py"}, 6},
		{[]string{"node", "--eval", "x"}, -1},
		{[]string{"Rscript", "plugin.R"}, 1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, scriptIndex(tt.argv), "%q", tt.argv)
	}
}

// ResolveArgv makes the program and the script absolute against the folder, and finds bare
// names on PATH; resolving twice changes nothing.
func TestResolveArgv(t *testing.T) {
	dir := t.TempDir()
	got, err := ResolveArgv([]string{"../bin/mlp", "gaussian"}, filepath.Join(dir, "examples"))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "bin", "mlp"), "gaussian"}, got)

	sh, err := ResolveArgv([]string{"sh", "-e", "x"}, dir)
	require.NoError(t, err)
	assert.True(t, filepath.IsAbs(sh[0]), sh[0])

	py, err := ResolveArgv([]string{"/usr/bin/python3", "-u", "p/plugin.py", "data.csv"}, dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"/usr/bin/python3", "-u", filepath.Join(dir, "p", "plugin.py"), "data.csv"}, py,
		"the script is resolved, other arguments are relative to the folder the plugin runs in")
	again, err := ResolveArgv(py, "/elsewhere")
	require.NoError(t, err)
	assert.Equal(t, py, again)

	_, err = ResolveArgv([]string{"no-such-program-goebm"}, dir)
	assert.ErrorContains(t, err, "no-such-program-goebm is not a program on PATH")
}

// SetArgv makes the script after an interpreter absolute, and nothing else.
func TestOptionsSetArgv(t *testing.T) {
	dir := t.TempDir()
	abs := func(p string) (string, error) { return filepath.Join(dir, p), nil }
	o := DefaultOptions()
	require.NoError(t, o.SetArgv([]string{"/usr/bin/python3", "-u", "plugin.py", "w.pt"}, abs))
	assert.Equal(t, []string{"/usr/bin/python3", "-u", filepath.Join(dir, "plugin.py"), "w.pt"}, o.Plugin)
	require.NoError(t, o.SetArgv([]string{"/opt/bin/mlp", "gaussian"}, abs))
	assert.Equal(t, []string{"/opt/bin/mlp", "gaussian"}, o.Plugin)
}
