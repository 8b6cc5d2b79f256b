package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shCommands returns the command lines of the ```sh blocks of a Markdown file, without their
// comments.
func shCommands(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var cmds []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in:
			if i := strings.Index(line, " #"); i >= 0 {
				line = line[:i]
			}
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				cmds = append(cmds, line)
			}
		}
	}
	require.NoError(t, sc.Err())
	return cmds
}

// Every command of the README's sh blocks runs as written and in order, from a folder laid
// out as the repository's root (its examples folder, and a fresh runs/): each ebm command
// exits with status 0; a make line names a target of the Makefile (CI runs make test and
// make study-small itself, and the test's ebm is what make build makes); export sets up the
// shell; ebm bench lines are TestBenchCommandsInDocs's.
func TestReadmeCommandsRun(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	cmds := shCommands(t, filepath.Join(root, "README.md"))
	require.NotEmpty(t, cmds)
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(root, "examples"), filepath.Join(dir, "examples")))
	t.Chdir(dir)
	ran := 0
	for _, c := range cmds {
		args := strings.Fields(c)
		switch args[0] {
		case "make":
			for _, target := range args[1:] {
				assert.Regexp(t, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(target)+`:`), string(makefile), "%s: no such target", c)
			}
			continue
		case "export":
			continue
		case "ebm":
			if len(args) > 1 && args[1] == "bench" {
				continue
			}
		default:
			t.Fatalf("README.md runs a command this test does not know: %s", c)
		}
		code, _, errs := ebm(t, args[1:]...)
		require.Equal(t, exitOK, code, "%s\n%s", c, errs)
		ran++
	}
	assert.GreaterOrEqual(t, ran, 5)
	assert.FileExists(t, filepath.Join(dir, "runs", "gauss20-dsm", "samples.csv"))
	assert.FileExists(t, filepath.Join(dir, "runs", "gauss20-dsm", "report.html"))
	assert.FileExists(t, filepath.Join(dir, "runs", "ring8-dsm", "summary.json"))
}
