package bench

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simProc is a process of simMachine: its CPU rate (cores) before the runs (the first
// watching window), during them, and after them (the second window).
type simProc struct {
	comm  string
	ppid  int
	rates [3]float64
	cpu   float64 // seconds used so far
}

// simMachine is a ProcSource on a simulated clock: Sleep (the watching windows) and work
// (the runs) advance it, and every process uses CPU at its rate for the phase.
type simMachine struct {
	t           float64
	loadBefore  LoadAvg
	loadAfter   LoadAvg
	ran         bool // work has been called: the runs are over or going on
	self        int
	procs       map[int]*simProc
	snapshotErr error
}

var _ ProcSource = (*simMachine)(nil)

const simSelf = 100

// newSim returns a machine where ebm (pid 100) and its child (101) work during the runs at
// 1.9 cores and two other processes idle at 0.01 cores each.
func newSim() *simMachine {
	return &simMachine{
		self:       simSelf,
		loadBefore: LoadAvg{0.05, 0.10, 0.20}, loadAfter: LoadAvg{1.9, 0.9, 0.4},
		procs: map[int]*simProc{
			1:       {comm: "init", rates: [3]float64{0.01, 0.01, 0.01}},
			simSelf: {comm: "ebm", ppid: 50, rates: [3]float64{0, 1.0, 0}},
			101:     {comm: "python3", ppid: simSelf, rates: [3]float64{0, 0.9, 0}},
			200:     {comm: "sshd", ppid: 1, rates: [3]float64{0.01, 0.01, 0.01}},
		},
	}
}

func quietMachine() *simMachine { return newSim() }

func (m *simMachine) advance(d float64, phase int) {
	m.t += d
	for _, p := range m.procs {
		p.cpu += p.rates[phase] * d
	}
}

// work simulates d seconds of runs.
func (m *simMachine) work(d float64) {
	m.ran = true
	m.advance(d, 1)
}

// LoadAvg is loadAfter once the runs have started; before, the 1-minute figure decays as
// the kernel's does on an idle machine, exp(−t/60 s).
func (m *simMachine) LoadAvg() (LoadAvg, error) {
	if m.ran {
		return m.loadAfter, nil
	}
	l := m.loadBefore
	l.One *= math.Exp(-m.t / 60)
	return l, nil
}

func (m *simMachine) Snapshot() (*Snapshot, error) {
	if m.snapshotErr != nil {
		return nil, m.snapshotErr
	}
	s := &Snapshot{At: time.Unix(1e9, 0).Add(time.Duration(m.t * float64(time.Second))), Procs: map[int]ProcInfo{}}
	for pid, p := range m.procs {
		ticks := uint64(math.Round(p.cpu * clockTicks))
		s.Busy += ticks
		s.Procs[pid] = ProcInfo{PID: pid, PPID: p.ppid, Comm: p.comm, Ticks: ticks}
	}
	s.Total = s.Busy + uint64(m.t*2*clockTicks)
	return s, nil
}

func (m *simMachine) Self() int { return m.self }

// OwnCPU counts ebm and every descendant, as getrusage does for waited-for children.
func (m *simMachine) OwnCPU() float64 {
	s, _ := m.Snapshot()
	mine := descendants(s.Procs, m.self)
	own := 0.0
	for pid, p := range m.procs {
		if mine[pid] {
			own += p.cpu
		}
	}
	return own
}

func (m *simMachine) Sleep(d time.Duration) {
	phase := 0
	if m.ran {
		phase = 2
	}
	m.advance(d.Seconds(), phase)
}

// The machine is judged busy exactly by the documented rules: the 1-minute load average
// before the runs at or above BusyLoad, or other processes (not ebm, not its children)
// taking BusyCPU cores or more before, during or after the runs; the load average after the
// runs, which holds the benchmark's own work, does not count.
func TestWatcherJudgesBusy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(m *simMachine)
		busy   []string // substrings of the reasons, in order; none: quiet
		others [3]float64
	}{
		{name: "quiet, own work and a high load average after", edit: func(*simMachine) {}, others: [3]float64{0.02, 0.02, 0.02}},
		{name: "load before", edit: func(m *simMachine) { m.loadBefore.One = 1.0 },
			busy: []string{"1-minute load average 1.00 before the runs (limit 1)"}, others: [3]float64{0.02, 0.02, 0.02}},
		{name: "load just below", edit: func(m *simMachine) { m.loadBefore.One = 0.99 }, others: [3]float64{0.02, 0.02, 0.02}},
		{name: "a compiler during the runs", edit: func(m *simMachine) {
			m.procs[300] = &simProc{comm: "compile", ppid: 1, rates: [3]float64{0, 0.5, 0}}
		}, busy: []string{"other processes took 0.52 cores during the runs (limit 0.1): compile[300] 0.50"}, others: [3]float64{0.02, 0.52, 0.02}},
		{name: "a process before and after", edit: func(m *simMachine) {
			m.procs[400] = &simProc{comm: "tmux: server (1)", ppid: 1, rates: [3]float64{0.25, 0, 0.125}}
		}, busy: []string{"0.27 cores before the runs", "tmux: server (1)[400] 0.25", "0.14 cores after the runs"}, others: [3]float64{0.27, 0.02, 0.145}},
		{name: "just below the CPU limit", edit: func(m *simMachine) {
			m.procs[400] = &simProc{comm: "x", ppid: 1, rates: [3]float64{0.07, 0.07, 0.07}}
		}, others: [3]float64{0.09, 0.09, 0.09}},
		{name: "grandchildren of ebm are its own", edit: func(m *simMachine) {
			m.procs[102] = &simProc{comm: "ebm", ppid: 101, rates: [3]float64{0, 3, 0}}
		}, others: [3]float64{0.02, 0.02, 0.02}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newSim()
			tc.edit(m)
			w := &Watcher{Src: m, Window: 2 * time.Second}
			require.NoError(t, w.Start())
			m.work(10)
			c, err := w.Stop()
			require.NoError(t, err)
			assert.InDelta(t, tc.others[0], c.Before.OtherCores, 1e-9)
			assert.InDelta(t, tc.others[1], c.During.OtherCores, 1e-9)
			assert.InDelta(t, tc.others[2], c.After.OtherCores, 1e-9)
			assert.Equal(t, m.loadAfter, c.LoadAfter)
			if len(tc.busy) == 0 {
				assert.Empty(t, c.Busy)
				return
			}
			all := strings.Join(c.Busy, "; ")
			for _, want := range tc.busy {
				assert.Contains(t, all, want)
			}
		})
	}
}

func TestWatcherPassesErrorsOn(t *testing.T) {
	m := newSim()
	m.snapshotErr = errors.New("no /proc")
	err := (&Watcher{Src: m}).Start()
	assert.ErrorIs(t, err, m.snapshotErr)
}

// The /proc parsers on the kernel's formats, a comm with spaces and parentheses included,
// and FS reading a /proc tree.
func TestProcFS(t *testing.T) {
	l, err := parseLoadAvg("0.81 0.88 1.00 2/195 11071\n")
	require.NoError(t, err)
	assert.Equal(t, LoadAvg{0.81, 0.88, 1.00}, l)
	_, err = parseLoadAvg("0.81 x")
	assert.Error(t, err)

	busy, total, err := parseStat("cpu  100 5 20 1000 30 1 2 3 0 0\ncpu0 1 2 3 4\n")
	require.NoError(t, err)
	assert.Equal(t, uint64(100+5+20+1+2+3), busy)
	assert.Equal(t, uint64(100+5+20+1000+30+1+2+3), total)
	_, _, err = parseStat("intr 1 2 3\n")
	assert.Error(t, err)

	p, err := parsePIDStat("4242 (tmux: a (b) c) S 17 4242 4242 0 -1 4194560 1 2 3 4 250 75 0 0 20 0 1 0 5 6 7\n")
	require.NoError(t, err)
	assert.Equal(t, ProcInfo{PID: 4242, PPID: 17, Comm: "tmux: a (b) c", Ticks: 325, Start: 5}, p)
	_, err = parsePIDStat("12 (short) S 1 2")
	assert.Error(t, err)

	root := t.TempDir()
	write := func(rel, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, rel), []byte(text), 0o644))
	}
	write("loadavg", "1.50 0.50 0.25 1/100 99\n")
	write("stat", "cpu  10 0 10 100 0 0 0 0 0 0\n")
	write("7/stat", "7 (go build) R 1 7 7 0 -1 0 0 0 0 0 40 2 0 0 20 0 1 0 99 1000 10\n")
	write("8/stat", "garbage")
	write("self/stat", "7 (go build) R 1 7 7 0 -1 0 0 0 0 0 40 2 0 0 20 0 1 0 99 1000 10\n") // not a number: skipped
	fs := FS{Root: root}
	la, err := fs.LoadAvg()
	require.NoError(t, err)
	assert.Equal(t, 1.5, la.One)
	s, err := fs.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(20), s.Busy)
	assert.Equal(t, map[int]ProcInfo{7: {PID: 7, PPID: 1, Comm: "go build", Ticks: 42, Start: 99}}, s.Procs)
	_, err = FS{Root: filepath.Join(root, "none")}.LoadAvg()
	assert.Error(t, err)
}

// On a busy machine the ratio table is refused (ErrBusy) unless --allow-busy, which marks
// every time and ratio with † and names the load in a footnote; a table without ratios is
// printed, marked.
func TestBusyMachineRefusesRatios(t *testing.T) {
	m := newSim()
	m.procs[300] = &simProc{comm: "stress", ppid: 1, rates: [3]float64{1, 1, 1}}
	w := Workload{Name: "g/w", Group: "g", Peer: "w", Unit: "step", Accuracy: "acc",
		Run: func(ctx context.Context, env *Env) (*Sample, error) {
			m.work(1)
			return &Sample{PerStep: 1e-3, Accuracy: 1}, nil
		}}
	peer := func(ctx context.Context, env *PeerEnv, group string, ws []Workload) (map[string]PeerSample, string, error) {
		m.work(3)
		return map[string]PeerSample{"g/w": {PerStep: 5e-3, Loop: 6e-3, Accuracy: 1}}, "fake", nil
	}
	o := Options{Workloads: []Workload{w}, Peers: true, Repeats: 2, Watching: Watching{Machine: m}, runPeer: peer}
	res, err := Compare(context.Background(), o)
	require.NoError(t, err)
	require.NotEmpty(t, res.Conditions.Busy)

	var buf bytes.Buffer
	err = res.WriteTable(&buf, false)
	require.ErrorIs(t, err, ErrBusy)
	assert.Contains(t, err.Error(), "stress[300] 1.00")
	assert.Contains(t, err.Error(), "--allow-busy")
	assert.Empty(t, buf.String(), "nothing printed")

	require.NoError(t, res.WriteTable(&buf, true))
	out := buf.String()
	assert.Contains(t, out, "| g/w | step | 1 ms† | 5 ms† | **5×**† | acc | 1 | 1 |")
	assert.Contains(t, out, "† Measured on a busy machine (--allow-busy): other processes took 1.02 cores before the runs")
	assert.Contains(t, out, "during the runs")

	// goebm alone: no ratio to refuse, the times are marked
	o.Peers = false
	m2 := newSim()
	m2.loadBefore.One = 3
	o.Watching.Machine = m2
	res, err = Compare(context.Background(), o)
	require.NoError(t, err)
	buf.Reset()
	require.NoError(t, res.WriteTable(&buf, false))
	assert.Contains(t, buf.String(), "| g/w | step | 1 ms† | acc | 1 |")
	assert.Contains(t, buf.String(), "1-minute load average 3.00 before the runs")
}

// A process is known by its PID and start time: a kernel worker that renames itself is the
// same process (its time before the window is not counted), a reused PID is a new one (all
// its time is in the window).
func TestActivityIdentity(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	a := &Snapshot{At: t0, Busy: 5000, Procs: map[int]ProcInfo{
		12: {PID: 12, PPID: 2, Comm: "kworker/u8:0-ext4", Ticks: 1000, Start: 5},
		13: {PID: 13, PPID: 1, Comm: "old", Ticks: 700, Start: 5},
	}}
	b := &Snapshot{At: t0.Add(time.Second), Busy: 5040, Procs: map[int]ProcInfo{
		12: {PID: 12, PPID: 2, Comm: "kworker/u8:0-events", Ticks: 1010, Start: 5},
		13: {PID: 13, PPID: 1, Comm: "new", Ticks: 30, Start: 900},
	}}
	act := activity(a, b, 999, 0)
	assert.InDelta(t, 0.4, act.OtherCores, 1e-12)
	assert.Equal(t, []BusyProc{{PID: 13, Comm: "new", Cores: 0.3}, {PID: 12, Comm: "kworker/u8:0-events", Cores: 0.1}}, act.Procs)
}

// With Settle, Start waits for the 1-minute load average to fall below BusyLoad, in steps of
// SettleStep, and no longer than Settle: 2.0 falls below 1 after 60·ln 2 ≈ 41.6 s, so the
// first reading below is at 45 s; with 30 s to wait the machine stays busy.
func TestWatcherSettles(t *testing.T) {
	for _, tc := range []struct {
		settle time.Duration
		waited float64
		busy   bool
	}{
		{0, 0, true},
		{30 * time.Second, 30, true},
		{90 * time.Second, 45, false},
	} {
		m := newSim()
		m.loadBefore.One = 2
		var log bytes.Buffer
		w := &Watcher{Src: m, Window: time.Second, Settle: tc.settle, Log: &log}
		require.NoError(t, w.Start())
		assert.InDelta(t, tc.waited+1, m.t, 1e-9, "waited, then one window")
		m.work(1)
		c, err := w.Stop()
		require.NoError(t, err)
		assert.Equal(t, tc.busy, len(c.Busy) > 0, "settle %v: %v", tc.settle, c.Busy)
		assert.InDelta(t, 2*math.Exp(-tc.waited/60), c.LoadBefore.One, 1e-12)
		if tc.settle > 0 {
			assert.Contains(t, log.String(), "1-minute load average 2.00 ≥ 1: waiting up to "+tc.settle.String())
		}
	}
}
