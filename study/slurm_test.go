package study_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/study"
)

// The [slurm] table is checked like every other key: an unknown key, a time or memory Slurm
// would not take, or an option ebm sets itself is an error at its file and line.
func TestSlurmTableChecked(t *testing.T) {
	dir := t.TempDir()
	path := writeStudy(t, dir)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	reg := registry()
	good := string(text) + "\n[slurm]\npartition = \"short\"\ntime = \"1-02:00:00\"\nmem = \"4G\"\noptions = [\"--account=lab\", \"--qos short\"]\n"
	require.NoError(t, os.WriteFile(path, []byte(good), 0o644))
	s, err := study.Load(path, reg)
	require.NoError(t, err)
	assert.Equal(t, study.SlurmKeys{Partition: "short", Time: "1-02:00:00", Mem: "4G", Options: []string{"--account=lab", "--qos short"}}, s.Slurm)
	for _, tc := range []struct{ from, to, want string }{
		{`partition = "short"`, `partiton = "short"`, `study.toml:%d: key slurm.partiton: unknown key (did you mean "partition"?)`},
		{`partition = "short"`, `partition = "a b"`, `study.toml:%d: key slurm.partition: "a b" is not a partition name`},
		{`time = "1-02:00:00"`, `time = "2h"`, `study.toml:%d: key slurm.time: "2h" is not a Slurm time`},
		{`time = "1-02:00:00"`, `time = 120`, `study.toml:%d: key slurm.time: want a string, got integer 120`},
		{`mem = "4G"`, `mem = "4 GB"`, `study.toml:%d: key slurm.mem: "4 GB" is not a Slurm memory size`},
		{`"--account=lab"`, `"--array=0-3"`, `study.toml:%d: key slurm.options: [0] "--array=0-3": ebm study --slurm sets --array itself`},
		{`"--account=lab"`, `"-c4"`, `sets --cpus-per-task itself`},
		{`"--account=lab"`, `"account=lab"`, `an sbatch option starts with -`},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		require.NotEqual(t, good, bad)
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
		_, err := study.Load(path, reg)
		want := tc.want
		for i, l := range strings.Split(bad, "\n") {
			if strings.Contains(l, tc.to) {
				want = strings.Replace(want, "%d", strconv.Itoa(i+1), 1)
			}
		}
		assert.ErrorContains(t, err, want, tc.to)
	}
}

func TestSplitOptions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"--account=lab --qos short", []string{"--account=lab", "--qos short"}, ""},
		{`--comment "two words" -A lab`, []string{`--comment "two words"`, "-A lab"}, ""},
		{`--comment='it''s'`, []string{"--comment=its"}, ""},
		{`--constraint=a\|b`, []string{"--constraint=a|b"}, ""},
		{`--comment "x`, nil, "unterminated"},
		{"--array=1-3", nil, "sets --array itself"},
		{"--dependency afterok:1", nil, "sets --dependency itself"},
		{"-J name", nil, "sets --job-name itself"},
	} {
		got, err := study.SplitOptions(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

// fakeSbatch writes a stand-in for sbatch that records its arguments, one call per line, and
// prints job ids 101, 102, ...
func fakeSbatch(t *testing.T) (cmd, calls string) {
	dir := t.TempDir()
	cmd = filepath.Join(dir, "sbatch")
	calls = filepath.Join(dir, "calls")
	script := `#!/bin/sh
n=$(wc -l < "` + calls + `" 2>/dev/null || echo 0)
echo "$@" >> "` + calls + `"
echo "$((101 + n));cluster"
`
	require.NoError(t, os.WriteFile(cmd, []byte(script), 0o755))
	return cmd, calls
}

// Submit writes one job array per distinct compute.workers (its --cpus-per-task) with one task
// per cell not done, named by the cell's index, throttled by workers, with the [slurm]
// resources and the extra options, each task running `EXE study STUDY --out OUT --cell
// $SLURM_ARRAY_TASK_ID`; then a merge job that depends on every array with afterany. It
// submits them in that order and records the ids; a second submission after some cells are
// done names only the others; nothing is submitted when every cell is done.
func TestSubmit(t *testing.T) {
	dir := t.TempDir()
	path := writeStudy(t, dir)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	text = []byte(strings.Replace(string(text), "seeds = [1, 2]", "seeds = [1, 2]\nworkers = 3", 1) +
		"\n[[grid]]\nkey = \"compute.workers\"\nname = \"cores\"\nvalues = [1, 2]\n\n[slurm]\ntime = \"0:30:00\"\nmem = \"2G\"\noptions = [\"--account=lab\"]\n")
	require.NoError(t, os.WriteFile(path, text, 0o644))
	s, err := study.Load(path, registry())
	require.NoError(t, err)
	require.Len(t, s.Cells, 12)
	out := filepath.Join(dir, "out")
	_, err = s.Run(t.Context(), study.Options{Out: out, Cells: []int{0, 3}})
	require.NoError(t, err)

	sbatch, calls := fakeSbatch(t)
	sub, err := s.Submit(t.Context(), study.SlurmOptions{Out: out, Executable: "/opt/ebm/bin/ebm", Command: sbatch, Sbatch: []string{`--comment "a b"`}})
	require.NoError(t, err)
	require.Len(t, sub.Arrays, 2)
	one, two := sub.Arrays[0], sub.Arrays[1]
	assert.Equal(t, study.SlurmArray{Script: filepath.Join(out, "slurm", "cells-cpus1.sbatch"), Cells: []int{1, 4, 5, 8, 9}, CPUs: 1, Spec: "1,4-5,8-9%3", JobID: "101"}, one)
	assert.Equal(t, study.SlurmArray{Script: filepath.Join(out, "slurm", "cells-cpus2.sbatch"), Cells: []int{2, 6, 7, 10, 11}, CPUs: 2, Spec: "2,6-7,10-11%3", JobID: "102"}, two)
	assert.Equal(t, "103", sub.MergeJobID)
	assert.Equal(t, 2, sub.Done)
	assert.Equal(t, "--parsable "+one.Script+"\n--parsable "+two.Script+"\n--parsable --dependency=afterany:101:102 "+sub.MergeScript+"\n", readFile(t, calls))

	script := readFile(t, two.Script)
	for _, line := range []string{
		"#SBATCH --job-name=ebm-study\n", "#SBATCH --time=0:30:00\n", "#SBATCH --mem=2G\n", "#SBATCH --account=lab\n",
		"#SBATCH --comment \"a b\"\n", "#SBATCH --array=2,6-7,10-11%3\n", "#SBATCH --cpus-per-task=2\n",
		"#SBATCH --output=" + filepath.Join(out, "slurm", "logs") + "/cell-%3a-job%A.out\n",
		"\nexec /opt/ebm/bin/ebm study " + path + " --out " + out + " --cell \"$SLURM_ARRAY_TASK_ID\"\n",
	} {
		assert.Contains(t, script, line)
	}
	merge := readFile(t, sub.MergeScript)
	assert.Contains(t, merge, "\nexec /opt/ebm/bin/ebm study "+path+" --out "+out+" --merge\n")
	assert.Contains(t, merge, "#SBATCH --output="+filepath.Join(out, "slurm", "logs")+"/merge-job%j.out\n")
	assert.NotContains(t, merge, "--array")
	assert.Contains(t, readFile(t, filepath.Join(out, "slurm", "submissions.log")), "array 101 (cells 1,4-5,8-9%3, 1 CPUs each) array 102 (cells 2,6-7,10-11%3, 2 CPUs each) merge 103")

	// After more cells are done, only the others; KeepFailed passes --retry-failed=false.
	_, err = s.Run(t.Context(), study.Options{Out: out, Cells: []int{1, 2, 4, 5, 6, 7, 8, 9, 10}})
	require.NoError(t, err)
	sub, err = s.Submit(t.Context(), study.SlurmOptions{Out: out, Executable: "/opt/ebm/bin/ebm", Command: sbatch, Throttle: 1, KeepFailed: true})
	require.NoError(t, err)
	require.Len(t, sub.Arrays, 1)
	assert.Equal(t, "11%1", sub.Arrays[0].Spec)
	assert.Equal(t, filepath.Join(out, "slurm", "cells.sbatch"), sub.Arrays[0].Script)
	assert.Contains(t, readFile(t, sub.Arrays[0].Script), `--cell "$SLURM_ARRAY_TASK_ID" --retry-failed=false`+"\n")
	assert.Equal(t, "--parsable --dependency=afterany:104 "+sub.MergeScript, lastLine(readFile(t, calls)))

	_, err = s.Run(t.Context(), study.Options{Out: out, Cells: []int{11}})
	require.NoError(t, err)
	sub, err = s.Submit(t.Context(), study.SlurmOptions{Out: out, Executable: "/opt/ebm/bin/ebm", Command: sbatch})
	require.NoError(t, err)
	assert.Empty(t, sub.Arrays)
	assert.Equal(t, 12, sub.Done)
	assert.Equal(t, 5, strings.Count(readFile(t, calls), "\n"), "nothing more submitted")

	// A refusing sbatch is an error that says what it printed.
	bad := filepath.Join(t.TempDir(), "sbatch")
	require.NoError(t, os.WriteFile(bad, []byte("#!/bin/sh\necho 'sbatch: error: invalid partition' >&2\nexit 1\n"), 0o755))
	require.NoError(t, os.RemoveAll(filepath.Join(out, "cells", s.Cells[11].Dir)))
	_, err = s.Submit(t.Context(), study.SlurmOptions{Out: out, Executable: "/opt/ebm/bin/ebm", Command: bad})
	require.ErrorIs(t, err, study.ErrSbatch)
	assert.ErrorContains(t, err, "invalid partition")
	_, err = s.Submit(t.Context(), study.SlurmOptions{Out: out, Executable: "/opt/ebm/bin/ebm", Command: filepath.Join(t.TempDir(), "none")})
	require.ErrorIs(t, err, study.ErrSbatch)
	assert.ErrorContains(t, err, "not found")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
