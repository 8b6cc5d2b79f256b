package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/run"
)

// exampleCommands returns the commands in the top comment of a run file: the comment lines
// indented by three spaces ("#   ebm train examples/x.toml").
func exampleCommands(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var cmds []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			break
		}
		if c, ok := strings.CutPrefix(line, "#   "); ok && strings.TrimSpace(c) != "" {
			cmds = append(cmds, strings.TrimSpace(c))
		}
	}
	return cmds
}

// mirrorRoot returns a fresh folder that looks like the repository's root to a command run in
// it: every top-level entry of root is a symbolic link to the real one, except the folders
// that commands write into (runs, bin, dist), which start empty. A command typed "from the
// repository's root" then runs exactly as written without touching the user's runs/ or bin/.
func mirrorRoot(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		switch e.Name() {
		case "runs", "bin", "dist", ".git":
			continue
		}
		require.NoError(t, os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())))
	}
	return dir
}

// Every example run file's commands run exactly as its top comment says, from the repository
// root (the folder its paths imply; here a mirror of it, so that the runs/ and bin/ the
// commands write are the test's own), with `ebm` on the PATH; a file without commands is
// trained by `ebm train FILE`. Nothing is added to the commands and nothing is skipped: a
// command that fails fails the test, and every run it trains must finish.
func TestExamplesRun(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.toml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	bin := buildEBM(t)
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Chdir(mirrorRoot(t, root))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".toml")
		rel := filepath.Join("examples", filepath.Base(f))
		cmds := exampleCommands(t, f)
		if len(cmds) == 0 {
			cmds = []string{"ebm train " + rel}
		}
		t.Run(name, func(t *testing.T) {
			ran := false
			for _, c := range cmds {
				args := strings.Fields(c)
				switch args[0] {
				case "make", "ebm":
				default:
					t.Fatalf("%s: the example's comment has a command this test does not know: %s", rel, c)
				}
				out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
				require.NoError(t, err, "%s\n%s", c, out)
				if args[0] != "ebm" {
					continue
				}
				require.Contains(t, c, rel, "a command in %s's comment runs another file", rel)
				if args[1] == "train" {
					dir := filepath.Join("runs", name)
					if i := slices.Index(args, "--out"); i >= 0 {
						dir = args[i+1]
					}
					s, err := run.ReadSummary(dir)
					require.NoError(t, err, "%s: the run folder %s holds a finished run", c, dir)
					if !s.ClosedForm && s.Solver == nil {
						assert.Positive(t, s.Steps)
					}
				}
				if args[1] == "sample" {
					i, j := slices.Index(args, "--out"), slices.Index(args, "--n")
					require.True(t, i >= 0 && j >= 0, "%s: a sample command of an example names --n and --out", c)
					b, err := os.ReadFile(args[i+1])
					require.NoError(t, err)
					assert.Equal(t, args[j+1], strconv.Itoa(strings.Count(string(b), "\n")-1), "%s: rows of %s", c, args[i+1])
				}
				ran = true
			}
			require.True(t, ran, "%s's comment runs no ebm command", rel)
		})
	}
}
