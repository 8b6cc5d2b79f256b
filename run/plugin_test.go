package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

// pluginRegistry is testRegistry, which accepts plugin energies (never started here).
func pluginRegistry() *framework.Registry { return testRegistry() }

func executable(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755))
}

// A plugin program written as a path is that file, made absolute, and never a program of the
// same name found on $PATH; a bare name is looked up on $PATH; env is unwrapped so that the
// pin applies to the script.
func TestPluginArgvResolvesPrograms(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	onPath := filepath.Join(root, "path")
	for _, p := range []string{filepath.Join(work, "dw"), filepath.Join(onPath, "dw"), filepath.Join(onPath, "sh")} {
		executable(t, p)
	}
	require.NoError(t, os.MkdirAll(filepath.Join(work, "sub"), 0o755))
	t.Setenv("PATH", onPath)
	t.Chdir(work)

	cases := []struct {
		name, file, plugin string
		sets               []string
		want               []string
		err                string
	}{
		{"dot slash", "run.toml", `["./dw"]`, nil, []string{filepath.Join(work, "dw")}, ""},
		{"up into the working directory", "sub/run.toml", `["../dw"]`, nil, []string{filepath.Join(work, "dw")}, ""},
		{"relative path from --set is against the working directory", "sub/run.toml", `["x"]`, []string{`energy.plugin=["./dw", "a"]`}, []string{filepath.Join(work, "dw"), "a"}, ""},
		{"bare name is looked up on PATH", "run.toml", `["dw", "-v"]`, nil, []string{filepath.Join(onPath, "dw"), "-v"}, ""},
		{"bare name not on PATH", "run.toml", `["nosuch"]`, nil, nil, `program "nosuch" is not on $PATH`},
		{"env is unwrapped", "run.toml", `["/usr/bin/env", "sh", "script.sh"]`, nil, []string{filepath.Join(onPath, "sh"), "script.sh"}, ""},
		{"env with a path", "run.toml", `["/usr/bin/env", "./dw"]`, nil, []string{filepath.Join(work, "dw")}, ""},
		{"env with options is kept", "run.toml", `["/usr/bin/env", "-i", "sh", "x"]`, nil, []string{"/usr/bin/env", "-i", "sh", "x"}, ""},
		{"env with options cannot be pinned", "run.toml", `["/usr/bin/env", "A=1", "sh", "x"]`, []string{"energy.sha256=" + strings.Repeat("0", 64)}, nil, "cannot pin a plugin started through env"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := "[data]\ntrain = \"t.csv\"\n[energy]\nplugin = " + c.plugin + "\n"
			src, err := Parse(c.file, []byte(text), c.sets)
			require.NoError(t, err)
			cfg, err := Decode(src, pluginRegistry()) // which resolves the program, once
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			argv, err := cfg.PluginArgv()
			require.NoError(t, err)
			assert.Equal(t, c.want, argv)
		})
	}

	// A $PATH entry relative to the working directory is refused rather than followed.
	t.Setenv("PATH", ".")
	src, err := Parse("run.toml", []byte("[data]\ntrain = \"t.csv\"\n[energy]\nplugin = [\"dw\"]\n"), nil)
	require.NoError(t, err)
	_, err = Decode(src, pluginRegistry())
	require.ErrorContains(t, err, "only relative to the working directory")
}

// config.toml records the folder the run file's relative paths resolve against, so that a
// relative path the run folder's config cannot know about ([energy.config] init, a plugin's
// script) resolves as it did when the run started.
func TestResolvedKeepsTheBaseFolder(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train.csv"), []byte("a,b\n1,2\n3,4\n"), 0o644))
	src, err := Parse(filepath.Join(dir, "run.toml"), []byte(good), nil)
	require.NoError(t, err)
	cfg, err := Decode(src, testRegistry())
	require.NoError(t, err)
	res, err := cfg.Resolved()
	require.NoError(t, err)
	runDir := filepath.Join(t.TempDir(), "run")
	src2, err := Parse(filepath.Join(runDir, ConfigFile), res, nil)
	require.NoError(t, err)
	assert.Equal(t, dir, src2.Dir)
	assert.Equal(t, filepath.Join(dir, "init.json"), src2.Path("energy.config.init", "init.json"))
}
