package study

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// SlurmKeys is the [slurm] table of a study file: what each cell's job asks of a Slurm
// cluster. A cell's CPUs (sbatch --cpus-per-task) are its compute.workers, 1 unless [set]
// or the grid says otherwise. Every key is optional.
type SlurmKeys struct {
	Partition string   `toml:"partition" help:"partition of every job (sbatch --partition); default: the cluster's default partition"`
	Time      string   `toml:"time" help:"time limit of each job (sbatch --time): MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS; default: the partition's"`
	Mem       string   `toml:"mem" help:"memory of each job (sbatch --mem): a number of MiB, or with a suffix K, M, G or T, e.g. \"4G\"; default: the partition's"`
	Options   []string `toml:"options" help:"further sbatch options for every job, one per string, e.g. [\"--account=lab\", \"--qos=short\"]"`
}

var (
	slurmTime      = regexp.MustCompile(`^(\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2}){0,2}|UNLIMITED|INFINITE)$`)
	slurmMem       = regexp.MustCompile(`^\d+[KMGT]?$`)
	slurmPartition = regexp.MustCompile(`^[A-Za-z0-9_.,-]+$`)
)

// reservedOptions are the sbatch options that ebm study --slurm sets itself.
var reservedOptions = []struct{ long, short string }{
	{"--array", "-a"}, {"--dependency", "-d"}, {"--output", "-o"}, {"--error", "-e"},
	{"--cpus-per-task", "-c"}, {"--job-name", "-J"}, {"--parsable", ""}, {"--wrap", ""},
}

// checkOption returns why an sbatch option cannot be used, or "".
func checkOption(opt string) string {
	switch {
	case !strings.HasPrefix(opt, "-"):
		return fmt.Sprintf("%q: an sbatch option starts with -, e.g. \"--account=lab\"", opt)
	case strings.ContainsAny(opt, "\n\r"):
		return fmt.Sprintf("%q: an option cannot hold a line break", opt)
	}
	for _, r := range reservedOptions {
		if opt == r.long || strings.HasPrefix(opt, r.long+"=") || strings.HasPrefix(opt, r.long+" ") ||
			(r.short != "" && strings.HasPrefix(opt, r.short) && !strings.HasPrefix(opt, "--")) {
			return fmt.Sprintf("%q: ebm study --slurm sets %s itself", opt, r.long)
		}
	}
	return ""
}

// check validates the table; errors name the key (the caller locates them in the file).
func (k *SlurmKeys) check() error {
	fail := func(key, msg string) error { return &run.Error{Key: "slurm." + key, Msg: msg} }
	if k.Time != "" && !slurmTime.MatchString(k.Time) {
		return fail("time", fmt.Sprintf("%q is not a Slurm time: write MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, e.g. \"2:00:00\"", k.Time))
	}
	if k.Mem != "" && !slurmMem.MatchString(k.Mem) {
		return fail("mem", fmt.Sprintf("%q is not a Slurm memory size: write a number of MiB or one with a suffix K, M, G or T, e.g. \"4G\"", k.Mem))
	}
	if k.Partition != "" && !slurmPartition.MatchString(k.Partition) {
		return fail("partition", fmt.Sprintf("%q is not a partition name (letters, digits, _ . - and commas)", k.Partition))
	}
	for i, o := range k.Options {
		if msg := checkOption(o); msg != "" {
			return fail("options", fmt.Sprintf("[%d] %s", i, msg))
		}
	}
	return nil
}

// SplitOptions splits the value of --sbatch ("--account=lab --qos short") into options, one
// per string, as a POSIX shell would split it (single and double quotes, backslashes), with
// each option's separate values joined to it and words with blanks or quotes in double
// quotes, as an #SBATCH line takes them: ["--account=lab", "--qos short"].
func SplitOptions(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("--sbatch %q: unterminated '", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, fmt.Errorf("--sbatch %q: unterminated \"", s)
			}
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	var opts []string
	for _, w := range words {
		if strings.ContainsAny(w, " \t\"\\'") {
			w = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
		}
		if !strings.HasPrefix(w, "-") && len(opts) > 0 {
			opts[len(opts)-1] += " " + w
			continue
		}
		opts = append(opts, w)
	}
	for _, o := range opts {
		if msg := checkOption(o); msg != "" {
			return nil, fmt.Errorf("--sbatch %s", msg)
		}
	}
	return opts, nil
}

// SlurmOptions are the settings of Submit.
type SlurmOptions struct {
	// Out is the study folder; empty: the study file's out. It must be on a file system that
	// every node of the cluster mounts.
	Out string
	// Executable is the ebm binary the jobs run (absolute; a release build runs on any Linux
	// node of its architecture).
	Executable string
	// Throttle is how many array tasks run at once, the %N of --array; 0: the study file's
	// workers, else no limit.
	Throttle int
	// Sbatch are further sbatch options, after the [slurm] table's (see SplitOptions).
	Sbatch []string
	// KeepFailed leaves failed cells failed: they are not submitted, and the jobs run with
	// --retry-failed=false.
	KeepFailed bool
	// DryRun writes the scripts and submits nothing.
	DryRun bool
	// Command is the sbatch program; empty: "sbatch" from PATH.
	Command string
}

// SlurmArray is one job array of a submission: the cells that need the same CPUs.
type SlurmArray struct {
	Script string // the batch script, in the study folder
	Cells  []int  // the cells, which are the array's task ids
	CPUs   int    // sbatch --cpus-per-task
	Spec   string // the value of --array, "0-3,7%2"
	JobID  string // "" in a dry run
}

// SlurmSubmission is what Submit wrote and submitted.
type SlurmSubmission struct {
	Out, Dir    string // the study folder (absolute) and its slurm/ folder
	Logs        string // the jobs' output files' folder
	Arrays      []SlurmArray
	MergeScript string
	MergeJobID  string      // "" in a dry run, or when there is nothing to submit
	Running     []CellState // cells other processes run, not submitted
	Done        int         // cells finished (done, and failed ones kept), not submitted
	DryRun      bool
}

// Commands returns the sbatch commands of the submission, as Slurm runs them (or would, in a
// dry run; $ARRAY_JOB stands for an array's job id).
func (sub *SlurmSubmission) Commands() []string {
	var cmds, deps []string
	for i, a := range sub.Arrays {
		cmds = append(cmds, "sbatch --parsable "+shellQuote(a.Script))
		id := a.JobID
		if id == "" {
			id = fmt.Sprintf("$ARRAY_JOB_%d", i+1)
		}
		deps = append(deps, id)
	}
	if len(sub.Arrays) > 0 {
		cmds = append(cmds, fmt.Sprintf("sbatch --parsable --dependency=afterany:%s %s", strings.Join(deps, ":"), shellQuote(sub.MergeScript)))
	}
	return cmds
}

// ErrSbatch is wrapped by the errors of a submission that sbatch refused or could not make.
var ErrSbatch = errors.New("sbatch failed")

// Submit writes, into the study folder's slurm/ folder, one job-array batch script per
// distinct cell CPU count, with one array task per cell not yet finished nor running
// elsewhere (its task id is the cell's index; each task runs `ebm study STUDY --out OUT
// --cell $SLURM_ARRAY_TASK_ID` with the same binary), and a merge script that runs `ebm
// study STUDY --out OUT --merge`; then, unless DryRun, it submits the arrays and the merge
// job, which depends on them with afterany (a failed cell must not leave it pending forever;
// the merge checks the cells itself). With nothing to submit it writes and submits nothing.
func (s *Study) Submit(ctx context.Context, o SlurmOptions) (*SlurmSubmission, error) {
	out, err := filepath.Abs(s.folder(o.Out))
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(o.Executable) {
		return nil, fmt.Errorf("slurm: the ebm binary must be an absolute path, got %q", o.Executable)
	}
	studyPath, err := filepath.Abs(s.Path)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{out, studyPath, o.Executable} {
		if strings.ContainsAny(p, "\"\n\r") {
			return nil, fmt.Errorf("slurm: %q: a path with a double quote or a line break cannot go into a batch script", p)
		}
	}
	states, err := s.States(out)
	if err != nil {
		return nil, err
	}
	sub := &SlurmSubmission{Out: out, Dir: filepath.Join(out, "slurm"), DryRun: o.DryRun}
	sub.Logs = filepath.Join(sub.Dir, "logs")
	sub.MergeScript = filepath.Join(sub.Dir, "merge.sbatch")
	byCPUs := map[int][]int{}
	for _, cs := range states {
		switch {
		case cs.State == StateRunning:
			sub.Running = append(sub.Running, cs)
		case cs.State == StateDone || (cs.State == StateFailed && o.KeepFailed):
			sub.Done++
		default:
			w := cs.Cell.cfg.Compute.Workers
			if w < 1 {
				return nil, fmt.Errorf("cell %d (%s) has compute.workers = %d (every core of the node): give each cell a number of cores, e.g. [set] \"compute.workers\" = 4, which becomes its sbatch --cpus-per-task",
					cs.Cell.Index, s.describe(cs.Cell), w)
			}
			byCPUs[w] = append(byCPUs[w], cs.Cell.Index)
		}
	}
	if len(byCPUs) == 0 {
		return sub, nil
	}
	if err := os.MkdirAll(sub.Logs, 0o755); err != nil {
		return nil, fmt.Errorf("study folder: %w", err)
	}
	cpus := make([]int, 0, len(byCPUs))
	for c := range byCPUs {
		cpus = append(cpus, c)
	}
	sort.Ints(cpus)
	opts := append(append([]string(nil), s.Slurm.Options...), o.Sbatch...)
	width := len(s.Cells[0].Dir) - len(strings.TrimLeft(s.Cells[0].Dir, "0123456789"))
	flags := ""
	if o.KeepFailed {
		flags = " --retry-failed=false"
	}
	for _, n := range cpus {
		cells := byCPUs[n]
		throttle := o.Throttle
		if throttle <= 0 {
			throttle = s.Workers
		}
		if throttle <= 0 {
			throttle = len(cells)
		}
		a := SlurmArray{Cells: cells, CPUs: n, Spec: fmt.Sprintf("%s%%%d", FormatCells(cells), throttle)}
		a.Script = filepath.Join(sub.Dir, "cells.sbatch")
		if len(cpus) > 1 {
			a.Script = filepath.Join(sub.Dir, fmt.Sprintf("cells-cpus%d.sbatch", n))
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "#!/bin/bash\n")
		fmt.Fprintf(&b, "# Written by `ebm study --slurm`: one array task per cell of study %s not yet done (%d cells,\n", s.Name, len(cells))
		fmt.Fprintf(&b, "# %d CPUs each); the task id is the cell's index. A task runs its cell in the shared study\n", n)
		fmt.Fprintf(&b, "# folder and exits non-zero if the cell fails; a cancelled cell continues from its checkpoint\n")
		fmt.Fprintf(&b, "# when it runs again. Submit again with `ebm study STUDY.toml --slurm`, which resubmits only\n")
		fmt.Fprintf(&b, "# the cells not done.\n")
		s.sbatchHeader(&b, opts)
		fmt.Fprintf(&b, "#SBATCH --array=%s\n", a.Spec)
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", n)
		fmt.Fprintf(&b, "#SBATCH --output=%s\n", sbatchPath(filepath.Join(sub.Logs, fmt.Sprintf("cell-%%%da-job%%A.out", width))))
		fmt.Fprintf(&b, "\nexec %s study %s --out %s --cell \"$SLURM_ARRAY_TASK_ID\"%s\n",
			shellQuote(o.Executable), shellQuote(studyPath), shellQuote(out), flags)
		if err := framework.WriteFileAtomic(a.Script, b.Bytes()); err != nil {
			return nil, err
		}
		sub.Arrays = append(sub.Arrays, a)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# Written by `ebm study --slurm`: merges the cells of study %s once its arrays have ended\n", s.Name)
	fmt.Fprintf(&b, "# (afterany): writes results.csv, timing.csv, summary.md and the plots, or lists the cells not\n")
	fmt.Fprintf(&b, "# finished and exits non-zero.\n")
	s.sbatchHeader(&b, opts)
	fmt.Fprintf(&b, "#SBATCH --cpus-per-task=1\n")
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", sbatchPath(filepath.Join(sub.Logs, "merge-job%j.out")))
	fmt.Fprintf(&b, "\nexec %s study %s --out %s --merge\n", shellQuote(o.Executable), shellQuote(studyPath), shellQuote(out))
	if err := framework.WriteFileAtomic(sub.MergeScript, b.Bytes()); err != nil {
		return nil, err
	}
	if o.DryRun {
		return sub, nil
	}

	command := o.Command
	if command == "" {
		command = "sbatch"
	}
	var ids []string
	for i := range sub.Arrays {
		id, err := sbatch(ctx, command, sub.Arrays[i].Script)
		if err != nil {
			if len(ids) > 0 {
				err = fmt.Errorf("%w (submitted before it: job %s; cancel with scancel %s, or let it run and submit again)", err, strings.Join(ids, ", "), strings.Join(ids, " "))
			}
			return sub, err
		}
		sub.Arrays[i].JobID = id
		ids = append(ids, id)
	}
	id, err := sbatch(ctx, command, "--dependency=afterany:"+strings.Join(ids, ":"), sub.MergeScript)
	if err != nil {
		return sub, fmt.Errorf("%w (the cells' job %s is submitted: when it ends, run ebm study with --merge)", err, strings.Join(ids, ", "))
	}
	sub.MergeJobID = id
	line := fmt.Sprintf("%s submitted", time.Now().UTC().Format(time.RFC3339))
	for _, a := range sub.Arrays {
		line += fmt.Sprintf(" array %s (cells %s, %d CPUs each)", a.JobID, a.Spec, a.CPUs)
	}
	line += " merge " + id + "\n"
	if err := appendFile(filepath.Join(sub.Dir, "submissions.log"), line); err != nil {
		return sub, err
	}
	return sub, nil
}

// sbatchHeader writes the #SBATCH lines that every job of the study has.
func (s *Study) sbatchHeader(b *bytes.Buffer, opts []string) {
	fmt.Fprintf(b, "#SBATCH --job-name=ebm-%s\n", sanitize(s.Name))
	if s.Slurm.Partition != "" {
		fmt.Fprintf(b, "#SBATCH --partition=%s\n", s.Slurm.Partition)
	}
	if s.Slurm.Time != "" {
		fmt.Fprintf(b, "#SBATCH --time=%s\n", s.Slurm.Time)
	}
	if s.Slurm.Mem != "" {
		fmt.Fprintf(b, "#SBATCH --mem=%s\n", s.Slurm.Mem)
	}
	for _, o := range opts {
		fmt.Fprintf(b, "#SBATCH %s\n", o)
	}
}

// sbatchPath writes a path for an #SBATCH --output line: % doubled (sbatch expands % in
// file names), double quotes around a path with blanks.
func sbatchPath(p string) string {
	dir, base := filepath.Split(p)
	p = strings.ReplaceAll(dir, "%", "%%") + base
	if strings.ContainsAny(p, " \t") {
		return `"` + p + `"`
	}
	return p
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=+,:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sbatch submits a script with --parsable and returns the job id.
func sbatch(ctx context.Context, command string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, command, append([]string{"--parsable"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s not found: run this on a machine that submits to the cluster (a login node), or write the scripts only with --dry-run", ErrSbatch, command)
		}
		return "", fmt.Errorf("%w: %s %s: %v: %s", ErrSbatch, command, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	id, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), ";")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("%w: %s printed %q, not a job id", ErrSbatch, command, stdout.String())
	}
	return id, nil
}

// appendFile appends text to the file at path, creating it (mode 0666 less the umask).
func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(text)
	return errors.Join(werr, f.Close())
}
