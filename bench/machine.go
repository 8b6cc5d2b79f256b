package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What makes a machine too busy for a ratio table. The thresholds are in cores (one core's
// worth of CPU time per second of wall time), because they are about how much of the
// machine was taken from the benchmark, and a fraction of the machine would let a larger
// machine hide a busy core.
const (
	// BusyLoad is the 1-minute load average at or above which the machine is busy before
	// the benchmark starts. It is judged before the first run only: after the runs the load
	// average holds the benchmark's own work (2 busy threads give about 2 on any machine).
	BusyLoad = 1.0
	// BusyCPU is the CPU time, in cores, that other processes may take while the benchmark
	// samples the machine (before the first run and after the last) or runs: at or above
	// it the machine is busy. Other processes are everything but the benchmark's own
	// process and its children (the peers, ebm train), counted from /proc/stat, which also
	// sees processes too short-lived to show in a per-process sample.
	BusyCPU = 0.1
	// ShowCPU is the share of a core above which another process is named in the report.
	ShowCPU = 0.02
	// SampleWindow is how long the machine is watched before the first run and after the
	// last.
	SampleWindow = 2 * time.Second
	// SettleStep is how often a Watcher with Settle reads the load average while it waits.
	SettleStep = 5 * time.Second
)

// clockTicks is USER_HZ, the unit of /proc/stat and /proc/PID/stat times: 100 on every
// Linux architecture (the kernel exports it fixed, whatever its internal HZ).
const clockTicks = 100

// LoadAvg is /proc/loadavg.
type LoadAvg struct {
	One     float64 `json:"load1"`
	Five    float64 `json:"load5"`
	Fifteen float64 `json:"load15"`
}

func (l LoadAvg) String() string { return fmt.Sprintf("%.2f %.2f %.2f", l.One, l.Five, l.Fifteen) }

// ProcInfo is one process of a /proc snapshot.
type ProcInfo struct {
	PID, PPID int
	Comm      string
	Ticks     uint64 // utime + stime, in clock ticks
	Start     uint64 // start time after boot, in clock ticks: with PID, the process's identity
}

// Snapshot is the state of the machine at one moment: the CPU time of the whole machine
// (busy and total, in clock ticks, from the first line of /proc/stat) and of every process.
type Snapshot struct {
	At          time.Time
	Busy, Total uint64
	Procs       map[int]ProcInfo
}

// ProcSource reads the machine's state. FS reads /proc; tests give their own.
type ProcSource interface {
	LoadAvg() (LoadAvg, error)
	Snapshot() (*Snapshot, error)
	// Self is the benchmark's own process id: it and its descendants are not "others".
	Self() int
	// OwnCPU is the CPU time in seconds used so far by the benchmark's process and its
	// waited-for children (getrusage).
	OwnCPU() float64
	Sleep(time.Duration)
}

// FS is the ProcSource of a /proc folder (Root, "/proc" when empty).
type FS struct{ Root string }

var _ ProcSource = FS{}

func (f FS) root() string {
	if f.Root == "" {
		return "/proc"
	}
	return f.Root
}

// LoadAvg reads loadavg.
func (f FS) LoadAvg() (LoadAvg, error) {
	b, err := os.ReadFile(filepath.Join(f.root(), "loadavg"))
	if err != nil {
		return LoadAvg{}, fmt.Errorf("bench: load average: %w", err)
	}
	return parseLoadAvg(string(b))
}

func parseLoadAvg(s string) (LoadAvg, error) {
	fs := strings.Fields(s)
	if len(fs) < 3 {
		return LoadAvg{}, fmt.Errorf("bench: /proc/loadavg %q: want three numbers", s)
	}
	var v [3]float64
	for i := range v {
		x, err := strconv.ParseFloat(fs[i], 64)
		if err != nil {
			return LoadAvg{}, fmt.Errorf("bench: /proc/loadavg %q: %w", s, err)
		}
		v[i] = x
	}
	return LoadAvg{v[0], v[1], v[2]}, nil
}

// Snapshot reads stat and every PID/stat. A process that exits while it is read is left out.
func (f FS) Snapshot() (*Snapshot, error) {
	b, err := os.ReadFile(filepath.Join(f.root(), "stat"))
	if err != nil {
		return nil, fmt.Errorf("bench: CPU times: %w", err)
	}
	s := &Snapshot{At: time.Now(), Procs: map[int]ProcInfo{}}
	if s.Busy, s.Total, err = parseStat(string(b)); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(f.root())
	if err != nil {
		return nil, fmt.Errorf("bench: processes: %w", err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(f.root(), e.Name(), "stat"))
		if err != nil {
			continue // gone
		}
		if p, err := parsePIDStat(string(b)); err == nil && p.PID == pid {
			s.Procs[pid] = p
		}
	}
	return s, nil
}

// parseStat returns the busy and total clock ticks of the "cpu" line of /proc/stat: busy is
// everything but idle and iowait (as the peers count it).
func parseStat(s string) (busy, total uint64, err error) {
	line, _, _ := strings.Cut(s, "\n")
	fs := strings.Fields(line)
	if len(fs) < 5 || fs[0] != "cpu" {
		return 0, 0, fmt.Errorf("bench: /proc/stat: first line %q is not the cpu line", line)
	}
	for i, f := range fs[1:min(len(fs), 9)] { // user nice system idle iowait irq softirq steal
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: /proc/stat: %w", err)
		}
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total, nil
}

// parsePIDStat reads /proc/PID/stat: pid (comm) state ppid ... utime stime (fields 14, 15)
// ... starttime (22). comm may hold spaces and parentheses: it runs to the last ')'.
func parsePIDStat(s string) (ProcInfo, error) {
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return ProcInfo{}, fmt.Errorf("bench: PID/stat %q: no (comm)", s)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return ProcInfo{}, fmt.Errorf("bench: PID/stat: %w", err)
	}
	rest := strings.Fields(s[close+1:]) // field k of the file is rest[k−3]
	if len(rest) < 20 {
		return ProcInfo{}, fmt.Errorf("bench: PID/stat of %d: %d fields after comm, want ≥ 20", pid, len(rest))
	}
	ppid, err1 := strconv.Atoi(rest[1])
	ut, err2 := strconv.ParseUint(rest[11], 10, 64)
	st, err3 := strconv.ParseUint(rest[12], 10, 64)
	start, err4 := strconv.ParseUint(rest[19], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return ProcInfo{}, fmt.Errorf("bench: PID/stat of %d: %w", pid, err)
	}
	return ProcInfo{PID: pid, PPID: ppid, Comm: s[open+1 : close], Ticks: ut + st, Start: start}, nil
}

// Self returns os.Getpid().
func (FS) Self() int { return os.Getpid() }

// OwnCPU returns the user and system time of this process and its waited-for children.
func (FS) OwnCPU() float64 {
	t := 0.0
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			t += tv(ru.Utime) + tv(ru.Stime)
		}
	}
	return t
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// Sleep is time.Sleep.
func (FS) Sleep(d time.Duration) { time.Sleep(d) }

// BusyProc is another process that used CPU while the machine was watched.
type BusyProc struct {
	PID   int     `json:"pid"`
	Comm  string  `json:"comm"`
	Cores float64 `json:"cores"` // CPU seconds per second of the window
}

// Activity is what other processes did during a window.
type Activity struct {
	Seconds float64 `json:"window_sec"`
	// OtherCores is the CPU time of the machine less the benchmark's own, per second of the
	// window: the cores other processes took.
	OtherCores float64 `json:"other_cores"`
	// Procs are the other processes that took more than ShowCPU, busiest first.
	Procs []BusyProc `json:"busy_processes,omitempty"`
}

// activity compares two snapshots; own is the benchmark's own CPU seconds in between.
func activity(a, b *Snapshot, self int, own float64) Activity {
	win := b.At.Sub(a.At).Seconds()
	act := Activity{Seconds: win}
	if win <= 0 {
		return act
	}
	machine := float64(b.Busy-min(a.Busy, b.Busy)) / clockTicks
	act.OtherCores = max(0, machine-own) / win
	mine := descendants(b.Procs, self)
	for pid, p := range b.Procs {
		if mine[pid] {
			continue
		}
		var before uint64 // a process started in the window used all its time in it
		if q, ok := a.Procs[pid]; ok && q.Start == p.Start {
			before = q.Ticks // the same process (a kernel worker renames itself: not the comm)
		}
		if p.Ticks < before {
			continue
		}
		c := float64(p.Ticks-before) / clockTicks / win
		if c > ShowCPU {
			act.Procs = append(act.Procs, BusyProc{PID: pid, Comm: p.Comm, Cores: c})
		}
	}
	slices.SortFunc(act.Procs, func(x, y BusyProc) int {
		if x.Cores != y.Cores {
			if x.Cores > y.Cores {
				return -1
			}
			return 1
		}
		return x.PID - y.PID
	})
	return act
}

// descendants returns self and every process whose chain of parents reaches it.
func descendants(procs map[int]ProcInfo, self int) map[int]bool {
	mine := map[int]bool{self: true}
	for pid := range procs {
		var chain []int
		for p, hops := pid, 0; p > 1 && hops < 64; hops++ {
			if mine[p] {
				for _, c := range chain {
					mine[c] = true
				}
				break
			}
			chain = append(chain, p)
			q, ok := procs[p]
			if !ok {
				break
			}
			p = q.PPID
		}
	}
	return mine
}

// Conditions are the load on the machine before, during and after a benchmark.
type Conditions struct {
	LoadBefore LoadAvg  `json:"loadavg_before"`
	LoadAfter  LoadAvg  `json:"loadavg_after"`
	Before     Activity `json:"before"`
	During     Activity `json:"during"`
	After      Activity `json:"after"`
	// Busy holds the reasons the machine counts as busy; empty when it was quiet.
	Busy []string `json:"busy,omitempty"`
}

// Watcher records Conditions around a benchmark: Start before the first run, Stop after
// the last.
type Watcher struct {
	Src    ProcSource
	Window time.Duration // 0: SampleWindow
	// Settle, when positive, is how long Start waits for the 1-minute load average to fall
	// below BusyLoad (a build or a benchmark just before leaves it high for a minute or
	// two); it waits, and judges nothing differently.
	Settle time.Duration
	// Log receives a line when Start waits (nil: none).
	Log io.Writer

	cond  Conditions
	start *Snapshot
	own0  float64
}

func (w *Watcher) window() time.Duration {
	if w.Window > 0 {
		return w.Window
	}
	return SampleWindow
}

// sample watches the machine for one window.
func (w *Watcher) sample() (Activity, *Snapshot, error) {
	a, err := w.Src.Snapshot()
	if err != nil {
		return Activity{}, nil, err
	}
	own := w.Src.OwnCPU()
	w.Src.Sleep(w.window())
	b, err := w.Src.Snapshot()
	if err != nil {
		return Activity{}, nil, err
	}
	return activity(a, b, w.Src.Self(), w.Src.OwnCPU()-own), b, nil
}

// Start reads the load average (waiting up to Settle for it to fall below BusyLoad) and
// watches the machine for a window.
func (w *Watcher) Start() error {
	var err error
	for waited := time.Duration(0); ; waited += SettleStep {
		if w.cond.LoadBefore, err = w.Src.LoadAvg(); err != nil {
			return err
		}
		if w.cond.LoadBefore.One < BusyLoad || waited+SettleStep > w.Settle {
			break
		}
		if w.Log != nil && waited == 0 {
			fmt.Fprintf(w.Log, "1-minute load average %.2f ≥ %.2g: waiting up to %s for it to fall (--settle)\n", w.cond.LoadBefore.One, BusyLoad, w.Settle)
		}
		w.Src.Sleep(SettleStep)
	}
	if w.cond.Before, w.start, err = w.sample(); err != nil {
		return err
	}
	w.own0 = w.Src.OwnCPU()
	return nil
}

// Stop measures what others took during the runs, watches the machine for a window and
// judges the whole: see Busy.
func (w *Watcher) Stop() (Conditions, error) {
	end, err := w.Src.Snapshot()
	if err != nil {
		return w.cond, err
	}
	w.cond.During = activity(w.start, end, w.Src.Self(), w.Src.OwnCPU()-w.own0)
	if w.cond.After, _, err = w.sample(); err != nil {
		return w.cond, err
	}
	if w.cond.LoadAfter, err = w.Src.LoadAvg(); err != nil {
		return w.cond, err
	}
	w.cond.Busy = w.cond.judge()
	return w.cond, nil
}

// judge returns why the machine was busy: the 1-minute load average at or above BusyLoad
// before the first run, or other processes taking BusyCPU cores or more before, during or
// after the runs.
func (c *Conditions) judge() []string {
	var why []string
	if c.LoadBefore.One >= BusyLoad {
		why = append(why, fmt.Sprintf("1-minute load average %.2f before the runs (limit %.2g)", c.LoadBefore.One, BusyLoad))
	}
	for _, p := range []struct {
		when string
		a    Activity
	}{{"before the runs", c.Before}, {"during the runs", c.During}, {"after the runs", c.After}} {
		if p.a.OtherCores >= BusyCPU {
			why = append(why, fmt.Sprintf("other processes took %.2f cores %s (limit %.2g)%s", p.a.OtherCores, p.when, BusyCPU, p.a.names()))
		}
	}
	return why
}

// names lists the busiest processes of a window: ": go 0.95, python3 0.10".
func (a Activity) names() string {
	if len(a.Procs) == 0 {
		return ""
	}
	var s []string
	for i, p := range a.Procs {
		if i == 5 {
			s = append(s, "…")
			break
		}
		s = append(s, fmt.Sprintf("%s[%d] %.2f", p.Comm, p.PID, p.Cores))
	}
	return ": " + strings.Join(s, ", ")
}

// Summary is one line on the load: "load average 0.12 0.20 0.31 before, 1.90 … after;
// other processes 0.01 cores before, 0.02 during, 0.00 after".
func (c Conditions) Summary() string {
	return fmt.Sprintf("load average %s before, %s after; other processes took %.2f cores before, %.2f during, %.2f after the runs",
		c.LoadBefore, c.LoadAfter, c.Before.OtherCores, c.During.OtherCores, c.After.OtherCores)
}

// Watching is how a benchmark watches the machine: the source (FS{}, /proc, when nil), the
// window and the settling time of a Watcher, and where it says that it waits.
type Watching struct {
	Machine ProcSource
	Window  time.Duration
	Settle  time.Duration
	Log     io.Writer
}

// start starts a Watcher.
func (o Watching) start() (*Watcher, error) {
	src := o.Machine
	if src == nil {
		src = FS{}
	}
	w := &Watcher{Src: src, Window: o.Window, Settle: o.Settle, Log: o.Log}
	return w, w.Start()
}

// scratchDir returns dir when given, else a new temporary folder; cleanup removes what it
// made (nothing for a given dir) and is never nil.
func scratchDir(dir, pattern string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", func() {}, fmt.Errorf("bench: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// inRound returns the index of the i-th of n items in round r: forward in even rounds,
// backward in odd ones, so that no item always goes first.
func inRound(r, i, n int) int {
	if r%2 == 1 {
		return n - 1 - i
	}
	return i
}

// ErrBusy is returned (wrapped) when the machine was busy and no busy table was allowed.
var ErrBusy = errors.New("the machine was busy")
