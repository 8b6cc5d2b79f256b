package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/internal/lockfile"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/study"
)

// clusterCommands are the commands of the "Studies on a cluster" section of
// examples/studies/README.md, in order, as written there; TestStudyOnSlurm (make test-slurm)
// runs every one of them from the repository's root, and .ci/run runs the scripts.
var clusterCommands = []string{
	"ebm study examples/studies/gauss20-small.toml --plan",
	"ebm study examples/studies/gauss20-small.toml --cell 3,5-9",
	"ebm study examples/studies/gauss20-small.toml --merge",
	"ebm study examples/studies/gauss20-small.toml --merge --partial",
	"ebm study examples/studies/gauss20-small.toml --slurm --dry-run",
	"ebm study examples/studies/gauss20-small.toml --slurm",
	"squeue --me",
	"scancel --name=ebm-gauss20-small",
	"make release",
	"scripts/slurm-local/start.sh",
	"make test-slurm",
	"scripts/slurm-local/stop.sh",
}

// readmeSection returns the text of the section of examples/studies/README.md under the
// heading, up to the next heading of its level or above.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/studies/README.md")
	require.NoError(t, err)
	text := string(b)
	i := strings.Index(text, "\n"+heading+"\n")
	require.GreaterOrEqual(t, i, 0, heading)
	level := strings.Index(heading, " ")
	rest := text[i+len(heading)+2:]
	stop := regexp.MustCompile(`(?m)^#{1,` + string(rune('0'+level)) + `} `)
	if j := stop.FindStringIndex(rest); j != nil {
		rest = rest[:j[0]]
	}
	return rest
}

// The commands of the cluster section are the ones the Slurm test runs, exactly.
func TestClusterDocsCommands(t *testing.T) {
	sec := readmeSection(t, "## Studies on a cluster")
	var got []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(sec, -1) {
		got = append(got, strings.Split(strings.TrimSpace(block[1]), "\n")...)
	}
	assert.Equal(t, clusterCommands, got)
	assert.Contains(t, sec, "`dist/ebm-linux-amd64 version`", "run by TestStudyOnSlurm too")
}

// setupStates makes a study folder whose cells are in every state: 0 done, 1 failed, 2
// running (a lock this process holds), the others todo. It returns the study file, the folder
// and the lock to release.
func setupStates(t *testing.T) (string, string, *lockfile.Lock) {
	t.Helper()
	dir := t.TempDir()
	path := writeSharedStudy(t, dir, sharedBase, `[{method = "sm"}, {method = "dsm", sigma = 0.2}]`, `["sm_loss"]`, "[1, 2]")
	out := filepath.Join(dir, "out")
	s, err := study.Load(path, registry())
	require.NoError(t, err)
	code, _, stderr := ebm(t, "study", path, "--out", out, "--cell", "0", "--quiet")
	require.Equal(t, 0, code, stderr)
	require.NoError(t, os.MkdirAll(filepath.Join(out, "cells", s.Cells[1].Dir, run.ParamsFile, "x"), 0o755))
	code, _, stderr = ebm(t, "study", path, "--out", out, "--cell", "1")
	require.Equal(t, exitFail, code, "a failed cell fails its --cell run")
	assert.Contains(t, stderr, "ebm study: cell failed: 1 of 1: cell 1 (trainer=sm seed=2): training: ")
	lock, err := lockfile.Acquire(filepath.Join(out, "cells", s.Cells[2].Dir+study.LockSuffix), lockfile.Options{Purpose: "a test"})
	require.NoError(t, err)
	t.Cleanup(func() { lock.Release() })
	return path, out, lock
}

// keyPaths lists the field paths of a JSON value: "a.b" for objects, "a[]" for the elements
// of arrays of objects; the objects at leaves (here labels) are not entered.
func keyPaths(prefix string, v any, leaves map[string]bool, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			into[p] = true
			if !leaves[p] {
				keyPaths(p, e, leaves, into)
			}
		}
	case []any:
		for _, e := range x {
			if _, isObj := e.(map[string]any); isObj {
				keyPaths(prefix+"[]", e, leaves, into)
			}
		}
	}
}

// The fields of `--plan --json` are exactly the ones examples/studies/README.md lists, and
// every state shows: done, failed with its error, running with its holder, todo.
func TestPlanJSONDocumented(t *testing.T) {
	path, out, _ := setupStates(t)
	code, stdout, stderr := ebm(t, "study", path, "--out", out, "--plan", "--json")
	require.Equal(t, 0, code, stderr)
	var v any
	require.NoError(t, json.Unmarshal([]byte(stdout), &v))
	got := map[string]bool{}
	keyPaths("", v, map[string]bool{"cells[].labels": true}, got)

	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z.\\[\\]_]+)` \\|").FindAllStringSubmatch(readmeSection(t, "### The plan as JSON"), -1) {
		documented = append(documented, m[1])
	}
	var seen []string
	for k := range got {
		seen = append(seen, k)
	}
	sort.Strings(seen)
	sort.Strings(documented)
	assert.Equal(t, documented, seen)

	var p study.Plan
	require.NoError(t, json.Unmarshal([]byte(stdout), &p))
	assert.Equal(t, study.PlanFormat, p.Format)
	assert.Equal(t, study.PlanCounts{Todo: 1, Running: 1, Done: 1, Failed: 1}, p.Counts)
	assert.Equal(t, []string{"trainer"}, p.Axes)
	assert.Equal(t, "a test", p.Cells[2].Holder.Purpose)
	assert.Contains(t, p.Cells[1].Error, "training: ")

	// The table form shows the same.
	code, stdout, _ = ebm(t, "study", path, "--out", out, "--plan")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "4 cells in "+out+": 1 done, 1 running, 1 failed, 1 todo")
	assert.Regexp(t, `(?m)^2 +running +dsm +1 +cells/002-dsm-s1 +pid \d+ on `, stdout)
}

// Usage errors exit 2 before anything runs; --merge of an unfinished study exits 1 and names
// the cells missing, --merge --partial writes what there is.
func TestStudyCommandModes(t *testing.T) {
	path, out, lock := setupStates(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--json", "--merge"}, "--json goes with --plan, --cell or a study's run"},
		{[]string{"--partial"}, "--partial goes with --merge"},
		{[]string{"--dry-run"}, "--sbatch and --dry-run go with --slurm"},
		{[]string{"--plan", "--merge"}, "exclude each other"},
		{[]string{"--cell", "4"}, "--cell: no such cell 4: the study has 4 cells, 0 to 3"},
		{[]string{"--cell", "2-1"}, `--cell: no such cell: "2-1" in "2-1"`},
		{[]string{"--slurm", "--sbatch", "--array=1"}, `"--array=1": ebm study --slurm sets --array itself`},
	} {
		code, _, stderr := ebm(t, append([]string{"study", path, "--out", out}, tc.args...)...)
		assert.Equal(t, exitUsage, code, tc.args)
		assert.Contains(t, stderr, tc.want, tc.args)
	}
	code, _, stderr := ebm(t, "study", path, "--out", out, "--merge")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "cells not finished: 2 of 4: cell 2 (trainer=dsm seed=1): running (pid ")
	assert.Contains(t, stderr, "cell 3 (trainer=dsm seed=2): todo")
	assert.NoFileExists(t, filepath.Join(out, "results.csv"))
	code, stdout, stderr := ebm(t, "study", path, "--out", out, "--merge", "--partial")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "merged 2 cells (1 done, 1 failed); 2 not finished")
	assert.FileExists(t, filepath.Join(out, "results.csv"))

	// --slurm writes the scripts with this binary, skips the running cell and submits with
	// the sbatch on PATH.
	executable = func() (string, error) { return "/opt/goebm/ebm", nil }
	defer func() { executable = defaultExecutable }()
	code, stdout, stderr = ebm(t, "study", path, "--out", out, "--slurm", "--dry-run", "--workers", "1")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "study study: 4 cells: 2 to submit, 1 finished, 1 running elsewhere\n")
	assert.Contains(t, stdout, "#SBATCH --array=1,3%1\n")
	assert.Contains(t, stdout, "exec /opt/goebm/ebm study "+path+" --out "+out+" --cell \"$SLURM_ARRAY_TASK_ID\"\n")
	assert.Contains(t, stdout, "dry run: nothing submitted")

	fake := t.TempDir()
	calls := filepath.Join(fake, "calls")
	require.NoError(t, os.WriteFile(filepath.Join(fake, "sbatch"), []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\nn=$(wc -l < "+calls+")\necho $((100 + n))\n"), 0o755))
	t.Setenv("PATH", fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	code, stdout, stderr = ebm(t, "study", path, "--out", out, "--slurm", "--sbatch", "--account=lab", "--retry-failed=false")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "study study: 4 cells: 1 to submit, 2 finished, 1 running elsewhere\n")
	assert.Contains(t, stdout, "submitted job 101: cells 3%1 (1 CPUs each)")
	assert.Contains(t, stdout, "submitted job 102: merge when job 101 has ended (afterany)")
	assert.Contains(t, stdout, "watch:   squeue -j 101,102\n")
	assert.Contains(t, stdout, "cancel:  scancel 101 102\n")
	b, err := os.ReadFile(calls)
	require.NoError(t, err)
	assert.Equal(t, "--parsable "+filepath.Join(out, "slurm", "cells.sbatch")+"\n--parsable --dependency=afterany:101 "+filepath.Join(out, "slurm", "merge.sbatch")+"\n", string(b))
	script, err := os.ReadFile(filepath.Join(out, "slurm", "cells.sbatch"))
	require.NoError(t, err)
	assert.Contains(t, string(script), "#SBATCH --account=lab\n")
	assert.Contains(t, string(script), "--retry-failed=false\n")

	// Once the cells are finished, nothing to submit.
	require.NoError(t, lock.Release())
	code, _, stderr = ebm(t, "study", path, "--out", out, "--cell", "2,3", "--quiet")
	require.Equal(t, 0, code, stderr)
	code, stdout, _ = ebm(t, "study", path, "--out", out, "--slurm", "--retry-failed=false")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "nothing to submit; when no cell is running any more, merge with: ebm study "+path+" --out "+out+" --merge\n")
	b2, _ := os.ReadFile(calls)
	assert.Equal(t, string(b), string(b2), "sbatch not called")
	code, stdout, stderr = ebm(t, "study", path, "--out", out, "--merge", "--quiet")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "merged 4 cells (3 done, 1 failed)")
}

// buildVersion reads the module's version from the build information; `make release` stamps
// one in with -ldflags -X main.Version, which ebm version prints.
func TestVersionStamped(t *testing.T) {
	assert.Equal(t, "dev", buildVersion(nil, false))
	assert.Equal(t, "dev", buildVersion(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true))
	assert.Equal(t, "v1.2.3", buildVersion(&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true))
	bin := filepath.Join(t.TempDir(), "ebm")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.Version=v1.2.3-test", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	out, err = exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err)
	assert.Equal(t, "ebm v1.2.3-test\n", string(out))
}
