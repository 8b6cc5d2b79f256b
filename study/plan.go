package study

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goebm/goebm/internal/lockfile"
)

// State is where a cell stands in its study folder.
type State string

// The states of a cell.
const (
	StateTodo    State = "todo"    // not started, interrupted, or to be evaluated again
	StateRunning State = "running" // a live process holds the cell's lock
	StateDone    State = "done"    // trained and evaluated
	StateFailed  State = "failed"  // training or evaluation failed; the error is recorded
)

// Holder is the process that holds a cell's lock.
type Holder struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
	Purpose string    `json:"purpose"`
}

// CellState is a cell with its state in a study folder.
type CellState struct {
	Cell   *Cell
	State  State
	Error  string  // the recorded error of a failed cell
	Holder *Holder // who runs a running cell
}

// lockPath is the path of cell c's lock file in the study folder out.
func lockPath(out string, c *Cell) string {
	return filepath.Join(out, "cells", c.Dir+LockSuffix)
}

// States reads the state of every cell in the study folder out (the study file's out when
// empty) without changing anything. A missing folder is a study with every cell to do.
func (s *Study) States(out string) ([]CellState, error) {
	out = s.folder(out)
	states := make([]CellState, len(s.Cells))
	for i, c := range s.Cells {
		st, err := s.readCell(filepath.Join(out, "cells", c.Dir), c)
		if err != nil {
			return nil, err
		}
		cs := CellState{Cell: c, State: st.state, Error: st.err}
		if st.state != StateDone {
			info, stale, err := lockfile.Inspect(lockPath(out, c), lockfile.Options{})
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				return nil, err
			case !stale:
				cs.State = StateRunning
				cs.Holder = &Holder{Host: info.Host, PID: info.PID, Since: info.Since, Purpose: info.Purpose}
			}
		}
		states[i] = cs
	}
	return states, nil
}

// PlanFormat is the version of the Plan's JSON form. Fields are only ever added to it; a
// change that removes or redefines one increments it.
const PlanFormat = 1

// Plan is what `ebm study STUDY.toml --plan --json` prints: every cell with its state. Its
// fields are listed in examples/studies/README.md, and a test holds the list to the output.
type Plan struct {
	Format int        `json:"format"` // PlanFormat
	Study  string     `json:"study"`  // the study's name
	Out    string     `json:"out"`    // the study folder, absolute
	Axes   []string   `json:"axes"`   // the grid's column names, in order
	Counts PlanCounts `json:"counts"`
	Cells  []PlanCell `json:"cells"`
}

// PlanCounts counts the cells in each state.
type PlanCounts struct {
	Todo    int `json:"todo"`
	Running int `json:"running"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
}

// PlanCell is one cell of a Plan.
type PlanCell struct {
	Index  int               `json:"index"`  // the cell's number: --cell takes it, Slurm's array task id is it
	Dir    string            `json:"dir"`    // its run folder, relative to the study folder
	Point  int               `json:"point"`  // the grid point (the cell without its seed)
	Labels map[string]string `json:"labels"` // axis name → the label of the cell's value
	Seed   uint64            `json:"seed"`
	State  State             `json:"state"`  // todo, running, done or failed
	Error  string            `json:"error"`  // a failed cell's error, else ""
	Holder *Holder           `json:"holder"` // a running cell's process, else null
}

// Plan returns the cells of the study with their states in the study folder out.
func (s *Study) Plan(out string) (*Plan, error) {
	out = s.folder(out)
	states, err := s.States(out)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	p := &Plan{Format: PlanFormat, Study: s.Name, Out: abs, Axes: []string{}, Cells: []PlanCell{}}
	for _, ax := range s.Axes {
		p.Axes = append(p.Axes, ax.Name)
	}
	for _, cs := range states {
		c := cs.Cell
		p.Cells = append(p.Cells, PlanCell{Index: c.Index, Dir: filepath.ToSlash(filepath.Join("cells", c.Dir)), Point: c.Point,
			Labels: s.cellInfo(c).Labels, Seed: c.Seed, State: cs.State, Error: cs.Error, Holder: cs.Holder})
		switch cs.State {
		case StateTodo:
			p.Counts.Todo++
		case StateRunning:
			p.Counts.Running++
		case StateDone:
			p.Counts.Done++
		case StateFailed:
			p.Counts.Failed++
		}
	}
	return p, nil
}

// ErrNoSuchCell is wrapped by ParseCells' errors.
var ErrNoSuchCell = errors.New("no such cell")

// ParseCells reads a list of cell indices like "3,5-9" (numbers and ascending ranges, comma
// separated) for a study of n cells, and returns them in ascending order without repeats.
func ParseCells(list string, n int) ([]int, error) {
	seen := map[int]bool{}
	var cells []int
	add := func(i int) error {
		if i < 0 || i >= n {
			return fmt.Errorf("%w %d: the study has %d cells, 0 to %d", ErrNoSuchCell, i, n, n-1)
		}
		if !seen[i] {
			seen[i] = true
			cells = append(cells, i)
		}
		return nil
	}
	bad := func(part string) error {
		return fmt.Errorf("%w: %q in %q: want numbers and ranges, e.g. 3,5-9", ErrNoSuchCell, part, list)
	}
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, bad(part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, bad(part)
			}
		}
		for i := a; i <= b; i++ {
			if err := add(i); err != nil {
				return nil, err
			}
		}
	}
	sort.Ints(cells)
	return cells, nil
}

// FormatCells writes cell indices as ParseCells reads them, with runs as ranges: "0-3,5,7-9".
func FormatCells(cells []int) string {
	c := append([]int(nil), cells...)
	sort.Ints(c)
	var parts []string
	for i := 0; i < len(c); {
		j := i
		for j+1 < len(c) && c[j+1] <= c[j]+1 {
			j++
		}
		if c[j] == c[i] {
			parts = append(parts, strconv.Itoa(c[i]))
		} else {
			parts = append(parts, strconv.Itoa(c[i])+"-"+strconv.Itoa(c[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
