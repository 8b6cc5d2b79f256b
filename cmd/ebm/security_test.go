package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/run"
)

// doublewellRun writes a run file in dir that starts the plugin named by plugin (a TOML array).
func doublewellRun(t *testing.T, dir, plugin, extra string) string {
	t.Helper()
	cfg := filepath.Join(dir, "run.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("[data]\ntrain = %q\n[energy]\nplugin = %s\n%s[trainer]\nmethod = \"sm\"\n", ring8Data, plugin, extra)), 0o644))
	return cfg
}

// ring8Data is the absolute path of a small data set, for run files written anywhere.
var ring8Data = func() string {
	p, err := filepath.Abs("../../examples/data/ring8_test.csv")
	if err != nil {
		panic(err)
	}
	return p
}()

// A plugin written as ./dw runs the file dw in the run file's folder, never a program named
// dw found earlier on $PATH (which here would leave a mark).
func TestPluginPathNeverLooksUpPATH(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	plugin := buildPlugin(t, "../../plugins/examples/doublewell")
	work, impostor := t.TempDir(), t.TempDir()
	mark := filepath.Join(t.TempDir(), "impostor-ran")
	require.NoError(t, os.WriteFile(filepath.Join(impostor, "dw"), []byte("#!/bin/sh\ntouch "+mark+"\nexit 1\n"), 0o755))
	b, err := os.ReadFile(plugin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, "dw"), b, 0o755))
	t.Setenv("PATH", impostor+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Chdir(work)
	require.NoError(t, os.Mkdir(filepath.Join(work, "sub"), 0o755))
	doublewellRun(t, work, `["./dw"]`, "")
	doublewellRun(t, filepath.Join(work, "sub"), `["../dw"]`, "")
	// The run files are named relative to the working directory, as a user types them.
	for _, file := range []string{"run.toml", "sub/run.toml"} {
		code, out, errs := ebm(t, "validate", file)
		require.Equal(t, 0, code, "%s: %s%s", file, out, errs)
		assert.Contains(t, out, "valid")
		assert.NoFileExists(t, mark, "%s ran the dw found on $PATH", file)
	}
}

// sha256 pins the script when the interpreter is named through env, not env itself; and
// validate says plainly that a run file runs the program it names.
func TestPluginPinThroughEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	plugin := buildPlugin(t, "../../plugins/examples/doublewell")
	dir := t.TempDir()
	script := filepath.Join(dir, "dw.sh")
	text := []byte("#!/bin/sh\nexec " + plugin + " \"$@\"\n")
	require.NoError(t, os.WriteFile(script, text, 0o755))
	sum := sha256.Sum256(text)
	argv := `["/usr/bin/env", "sh", "dw.sh"]`

	code, out, errs := ebm(t, "validate", doublewellRun(t, dir, argv, fmt.Sprintf("sha256 = %q\n", hex.EncodeToString(sum[:]))))
	require.Equal(t, 0, code, "%s%s", out, errs)
	assert.Contains(t, out, "valid")
	assert.Contains(t, out, "warning: this run file starts the program")
	assert.Contains(t, out, "dw.sh")

	code, _, errs = ebm(t, "validate", doublewellRun(t, dir, argv, fmt.Sprintf("sha256 = %q\n", hex.EncodeToString(make([]byte, 32)))))
	assert.Equal(t, exitUsage, code, errs)
	assert.Contains(t, errs, script+" has sha256 "+hex.EncodeToString(sum[:]), "the pinned file is the script")
}

// A relative path in [energy.config] (the ising init file) resolves against the run file's
// folder when the run starts, and again when the run folder's config.toml is opened (by
// --resume, eval or sample), from any working directory.
func TestRelativeEnergyConfigPathSurvivesTheRunFolder(t *testing.T) {
	src := t.TempDir()
	for _, f := range []string{"ising10_train.csv", "ising10_params.csv"} {
		b, err := os.ReadFile(filepath.Join("../../examples/data", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(src, f), b, 0o644))
	}
	cfg := filepath.Join(src, "run.toml")
	require.NoError(t, os.WriteFile(cfg, []byte("[data]\ntrain = \"ising10_train.csv\"\n[energy]\nbuiltin = \"ising\"\n[energy.config]\nspins = true\ninit = \"ising10_params.csv\"\n[trainer]\nmethod = \"pl\"\n[train]\nbatch = 100\nsteps = 2\n"), 0o644))
	out := filepath.Join(t.TempDir(), "run")
	code, _, errs := ebm(t, "train", cfg, "--out", out, "--quiet")
	require.Equal(t, 0, code, errs)

	t.Chdir(t.TempDir())
	s, err := run.Load(filepath.Join(out, run.ConfigFile), nil)
	require.NoError(t, err)
	c, err := run.Decode(s, registry())
	require.NoError(t, err)
	b, err := run.Build(c, registry())
	require.NoError(t, err, "the run folder's config.toml must build where it is")
	b.Close()
}
