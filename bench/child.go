package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/goebm/goebm/framework"
)

// A child is a process that trains one run file in-process and reports its step times, so
// that the peak memory of one scaling point is that point's alone (a process's high-water
// mark only grows). The ebm command serves it as `ebm bench --child`, reading a ChildRequest
// on standard input and writing a ChildResult on standard output.

// ChildRequest is one run file for a child to train.
type ChildRequest struct {
	Name    string `json:"name"`     // the run file's name (in BaseDir)
	Text    string `json:"text"`     // the run file
	BaseDir string `json:"base_dir"` // relative paths resolve here
	Seed    uint64 `json:"seed"`
	Workers int    `json:"workers,omitempty"`
	Chunk   int    `json:"chunk,omitempty"`
}

// ChildResult is what a child reports.
type ChildResult struct {
	Sample *Sample `json:"sample"`
	// VmHWMKiB is the child's peak resident set (VmHWM of /proc/self/status) at the end of
	// the run, 0 where there is no /proc.
	VmHWMKiB int64 `json:"vmhwm_kib"`
}

// ServeChild reads a ChildRequest from r, trains it with framework.Train exactly as the
// workloads do (Env.train) and writes the ChildResult as one JSON line to w.
func ServeChild(ctx context.Context, r io.Reader, w io.Writer) error {
	var req ChildRequest
	if err := json.NewDecoder(r).Decode(&req); err != nil {
		return fmt.Errorf("bench: child request: %w", err)
	}
	env := &Env{DataDir: req.BaseDir, Seed: req.Seed, Workers: req.Workers, Chunk: req.Chunk}
	b, err := env.config(req.Name, req.Text)
	if err != nil {
		return err
	}
	defer b.Close()
	s, _, err := env.train(ctx, b)
	if err != nil {
		return err
	}
	res := ChildResult{Sample: s, VmHWMKiB: statusKiB("/proc/self/status", "VmHWM")}
	out, err := framework.MarshalJSON(res, false)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

// statusKiB returns a "Field:   123 kB" line of a /proc/PID/status file, 0 when absent.
func statusKiB(path, field string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			fs := strings.Fields(v)
			if len(fs) > 0 {
				n, _ := strconv.ParseInt(fs[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// runChild runs argv as a child with req on its standard input and returns its result and
// its peak resident set in KiB (getrusage of the finished child).
func runChild(ctx context.Context, argv []string, req ChildRequest) (*ChildResult, int64, error) {
	if len(argv) == 0 {
		return nil, 0, fmt.Errorf("bench: no child command")
	}
	in, err := json.Marshal(req)
	if err != nil {
		return nil, 0, fmt.Errorf("bench: %w", err)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	line := strings.Join(argv, " ")
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("bench: %s: %w\n%s", line, err, tail(stderr.String(), 2000))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res ChildResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res.Sample == nil {
		return nil, 0, fmt.Errorf("bench: %s: the last line of its output is not a child result: %v", line, err)
	}
	return &res, maxRSS(cmd.ProcessState), nil
}
