package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
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

// Every example run file's commands run exactly as its top comment says, from the repository
// root (the folder its paths imply), with only a smaller step budget and a temporary run
// folder added to `ebm train` and `ebm sample`; a file without commands is trained the same
// way. Nothing is skipped: a command that fails fails the test.
func TestExamplesRun(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.toml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	t.Chdir(root)
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
				case "make":
					out, err := exec.Command("make", args[1:]...).CombinedOutput()
					require.NoError(t, err, "%s\n%s", c, out)
					continue
				case "ebm":
				default:
					t.Fatalf("%s: the example's comment has a command this test does not know: %s", rel, c)
				}
				require.Contains(t, c, rel, "a command in %s's comment runs another file", rel)
				code, _, errs := ebm(t, "validate", rel)
				require.Equal(t, 0, code, "ebm validate %s: %s", rel, errs)
				out := filepath.Join(t.TempDir(), "run")
				switch args[1] {
				case "sample":
					args = append(args, "--out", filepath.Join(t.TempDir(), "s.csv"), "--set", "sampler.warmup=10", "--quiet")
				case "train":
					args = append(args, "--out", out, "--quiet", "--set", "train.steps=3", "--set", "train.batch=64")
				}
				code, _, errs = ebm(t, args[1:]...)
				require.Equal(t, 0, code, "%s: %s", c, errs)
				if args[1] == "train" {
					s, err := run.ReadSummary(out)
					require.NoError(t, err)
					if !s.ClosedForm {
						assert.Equal(t, 3, s.Steps)
					}
				}
				ran = true
			}
			require.True(t, ran, "%s's comment runs no ebm command", rel)
		})
	}
}
