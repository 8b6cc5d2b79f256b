package host

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/examples/doublewell/doublewell"
)

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func waitDead(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running after %v", pid, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func open(t testing.TB, cfg Config) *Energy {
	t.Helper()
	e, err := Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return e
}

// evalDirect evaluates req on the in-process double well.
func evalDirect(t *testing.T, d int, req *framework.Request) *framework.Result {
	t.Helper()
	var res framework.Result
	res.Reset(req.Outputs, req.Rows(), d, 2*d)
	require.NoError(t, doublewell.New(d, *doublewell.DefaultOptions()).Evaluate(req, &res))
	return &res
}

func energyRequest(rng *rand.Rand, n, d int) *framework.Request {
	theta := make([]float64, 2*d)
	doublewell.New(d, *doublewell.DefaultOptions()).InitParams(theta, rng)
	return &framework.Request{Outputs: framework.OutEnergy | framework.OutGradX | framework.OutParamVJP,
		X: randDense(rng, n, d), Theta: theta}
}

func eval(e framework.Energy, req *framework.Request) (*framework.Result, error) {
	var res framework.Result
	s := e.Spec()
	res.Reset(req.Outputs, req.Rows(), s.Dim, s.NumParams())
	return &res, e.Evaluate(req, &res)
}

func TestHandshakeAndClose(t *testing.T) {
	cfg := pluginConfig(t, "ok")
	cfg.Env = framework.Env{Dim: 3}
	e := open(t, cfg)
	assert.Equal(t, viaSDK(doublewell.New(3, doublewell.Options{}).Spec()), e.Spec())
	assert.Contains(t, e.label, "doublewell")
	req := energyRequest(rand.New(rand.NewPCG(1, 1)), 10, 3)
	res, err := eval(e, req)
	require.NoError(t, err)
	assert.Equal(t, evalDirect(t, 3, req), res)
	pid := e.PIDs()[0]
	require.True(t, alive(pid))
	start := time.Now()
	require.NoError(t, e.Close())
	waitDead(t, pid, time.Second)
	assert.Less(t, time.Since(start), 1500*time.Millisecond, "a Go plugin shuts down gracefully, without go-plugin's 2 s kill")
	_, err = eval(e, req)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		mode string
		want []string
	}{
		{"cookie", []string{"exited before its handshake", "This binary is a plugin"}},
		{"v2", []string{"protocol 2", "this ebm speaks 1", "upgrade ebm"}},
		{"stdout", []string{"stdout is reserved", "hello from a plugin"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cfg := pluginConfig(t, tt.mode)
			cfg.Env = framework.Env{Dim: 2}
			cfg.StartTimeout = 10 * time.Second
			_, err := Open(cfg)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	t.Run("missing program", func(t *testing.T) {
		_, err := Open(Config{Argv: []string{"/nonexistent/plugin"}, Logger: discardLogger()})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "/nonexistent/plugin")
	})
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
		key    string
		msg    string
	}{
		{"unknown key", map[string]any{"depth": int64(2)}, "config.depth", "unknown key; the plugin accepts dim, init_center, init_log_scale, jitter"},
		{"wrong type", map[string]any{"jitter": "big"}, "config.jitter", "want float, got string"},
		{"int for float is fine, plugin's Validate", map[string]any{"jitter": int64(-1)}, "config.jitter", "must be a number ≥ 0, got -1"},
		{"float for int", map[string]any{"dim": 2.5}, "config.dim", "want int, got float"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pluginConfig(t, "ok")
			cfg.Env, cfg.Config = framework.Env{Dim: 2}, tt.config
			_, err := Open(cfg)
			var ke *framework.KeyError
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, tt.key, ke.Key)
			assert.Equal(t, tt.msg, ke.Msg)
		})
	}
	t.Run("accepted", func(t *testing.T) {
		cfg := pluginConfig(t, "ok")
		cfg.Env, cfg.Config = framework.Env{Dim: 2}, map[string]any{"dim": int64(4), "init_center": int64(2), "jitter": 0.0}
		_, err := Open(cfg)
		require.ErrorContains(t, err, "the energy has dimension 4 but the data has 2 columns")
		cfg.Env = framework.Env{Dim: 4}
		e := open(t, cfg)
		theta := make([]float64, 8)
		require.NoError(t, e.InitParams(theta, rand.New(rand.NewPCG(1, 2))))
		assert.Equal(t, []float64{0, 0, 0, 0, 2, 2, 2, 2}, theta, "init_center 2 and no jitter reach the plugin")
	})
}

func TestSHA256(t *testing.T) {
	cfg := pluginConfig(t, "ok")
	cfg.Env = framework.Env{Dim: 2}
	b, err := os.ReadFile(cfg.Argv[0])
	require.NoError(t, err)
	cfg.SHA256 = fmt.Sprintf("%x", sha256.Sum256(b))
	open(t, cfg)
	cfg.SHA256 = strings.Repeat("ab", 32)
	_, err = Open(cfg)
	var ke *framework.KeyError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "sha256", ke.Key)
	assert.Contains(t, ke.Msg, "want "+cfg.SHA256)

	// For an interpreter the script is pinned.
	p, err := pinnedFile([]string{"/usr/bin/python3", "-u", "/some/dir/plugin.py"})
	require.NoError(t, err)
	assert.Equal(t, "/some/dir/plugin.py", p)
}

func TestLargePayloadAndSplit(t *testing.T) {
	const d, n = 64, 10000 // X alone is 5.1 MB, over gRPC's default 4 MiB
	cfg := pluginConfig(t, "ok")
	cfg.Env = framework.Env{Dim: d}
	e := open(t, cfg)
	req := energyRequest(rand.New(rand.NewPCG(2, 2)), n, d)
	want := evalDirect(t, d, req)
	got, err := eval(e, req)
	require.NoError(t, err)
	assert.Equal(t, want, got, "one request of 5 MB each way")
	assert.Equal(t, int64(1), e.RoundTrips())

	e.limit = 1 << 20 // force splitting into parts of ~1 MiB
	got, err = eval(e, req)
	require.NoError(t, err)
	assert.Greater(t, e.RoundTrips(), int64(5), "the request was split")
	assert.Equal(t, want.Energy, got.Energy)
	assert.Equal(t, want.GradX, got.GradX)
	// θ-sized outputs are sums over parts: equal up to rounding.
	for i := range want.ParamVJP {
		assert.InDelta(t, want.ParamVJP[i], got.ParamVJP[i], 1e-9*math.Max(1, math.Abs(want.ParamVJP[i])))
	}
}

func TestCrashRestartRetry(t *testing.T) {
	cfg := pluginConfig(t, "faulty")
	cfg.Env = framework.Env{Dim: 2}
	e := open(t, cfg)
	rng := rand.New(rand.NewPCG(3, 3))
	req := energyRequest(rng, 20, 2)
	want := evalDirect(t, 2, req)

	// Killed between requests: the next request restarts the process.
	pid := e.PIDs()[0]
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	waitDead(t, pid, time.Second)
	got, err := eval(e, req)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.NotEqual(t, pid, e.PIDs()[0])

	// Killed in the middle of a request: the request is retried on a new process.
	slow := *req
	slow.X = mat.DenseCopyOf(req.X)
	slow.X.Set(0, 0, trigSlow)
	wantSlow := evalDirect(t, 2, &slow)
	pid = e.PIDs()[0]
	go func() {
		time.Sleep(150 * time.Millisecond)
		syscall.Kill(pid, syscall.SIGKILL)
	}()
	got, err = eval(e, &slow)
	require.NoError(t, err)
	assert.Equal(t, wantSlow, got)
	assert.NotEqual(t, pid, e.PIDs()[0])

	// A process that dies on the request itself dies again on the retry: the error says so,
	// with the plugin's last stderr lines.
	bad := *req
	bad.X = mat.DenseCopyOf(req.X)
	bad.X.Set(0, 0, trigExit)
	_, err = eval(e, &bad)
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Error(), "failed again on the retry")
	assert.ErrorIs(t, err, ErrDied)
	assert.Contains(t, pe.Error(), "exit status 2", "a Go panic's exit status")
	assert.Contains(t, pe.Error(), "panic: the plugin dies on purpose")
	assert.Contains(t, pe.Error(), "goroutine", "with its stack")
	assert.Contains(t, pe.Error(), "Evaluate(energy,grad_x,param_vjp; 20 rows)")

	// And the energy still works.
	got, err = eval(e, req)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestPanicInHandler(t *testing.T) {
	cfg := pluginConfig(t, "faulty")
	cfg.Env = framework.Env{Dim: 2}
	e := open(t, cfg)
	req := energyRequest(rand.New(rand.NewPCG(4, 4)), 5, 2)
	req.X.Set(0, 0, trigPanic)
	pid := e.PIDs()[0]
	_, err := eval(e, req)
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, err.Error(), "boom: the energy panicked on purpose")
	assert.Contains(t, err.Error(), "goroutine", "the error carries the stack")
	assert.Contains(t, err.Error(), "host.faulty.Evaluate")
	assert.Equal(t, pid, pe.PID)
	assert.Equal(t, pid, e.PIDs()[0], "the plugin survives a panic in a handler")
	req.X.Set(0, 0, 0.5)
	_, err = eval(e, req)
	require.NoError(t, err)
}

// A plugin that hangs is killed at call_timeout and the request retried once on a new
// process; when it hangs again, the error says so.
func TestHungPlugin(t *testing.T) {
	cfg := pluginConfig(t, "faulty")
	cfg.Env = framework.Env{Dim: 2}
	cfg.CallTimeout = 300 * time.Millisecond
	e := open(t, cfg)
	req := energyRequest(rand.New(rand.NewPCG(5, 5)), 5, 2)
	req.X.Set(0, 0, trigHang)
	pid := e.PIDs()[0]
	start := time.Now()
	_, err := eval(e, req)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.ErrorIs(t, err, ErrHung)
	assert.Contains(t, err.Error(), "no answer within call_timeout 300ms")
	assert.Contains(t, err.Error(), "failed again on the retry, on a new process")
	waitDead(t, pid, 2*time.Second)
	req.X.Set(0, 0, 0.5)
	_, err = eval(e, req)
	require.NoError(t, err, "the next request restarts the plugin")
}

// A plugin that hangs once (the first process to see the request) is killed, and the retry
// on a new process answers with the same bits as a plugin that never hung.
func TestHangOnceRetried(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "hung")
	t.Setenv("GOEBM_TEST_HANG_MARKER", marker)
	cfg := pluginConfig(t, "hangonce")
	cfg.Env = framework.Env{Dim: 2}
	cfg.CallTimeout = 500 * time.Millisecond
	e := open(t, cfg)
	req := energyRequest(rand.New(rand.NewPCG(5, 6)), 7, 2)
	want := evalDirect(t, 2, req)
	pid := e.PIDs()[0]
	got, err := eval(e, req)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.FileExists(t, marker, "the first process hung")
	assert.NotEqual(t, pid, e.PIDs()[0], "the hung process was replaced")
	waitDead(t, pid, 2*time.Second)
}

// Cancelling the energy's context stops a request in flight at once, without restarting the
// plugin or retrying.
func TestContextCancelStopsRequest(t *testing.T) {
	cfg := pluginConfig(t, "faulty")
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Env = framework.Env{Dim: 2, Context: ctx}
	e := open(t, cfg)
	req := energyRequest(rand.New(rand.NewPCG(5, 7)), 5, 2)
	req.X.Set(0, 0, trigHang)
	pid := e.PIDs()[0]
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := eval(e, req)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 2*time.Second, "the hung request did not wait for call_timeout")
	assert.Equal(t, int64(0), e.restarts.Load(), "no restart")
	assert.Equal(t, pid, e.PIDs()[0])
}

func TestNonFiniteAndBadShape(t *testing.T) {
	cfg := pluginConfig(t, "faulty")
	cfg.Env = framework.Env{Dim: 2}
	e := open(t, cfg)
	req := energyRequest(rand.New(rand.NewPCG(6, 6)), 5, 2)
	req.X.Set(0, 0, trigNaN)
	_, err := eval(e, req)
	var nf *framework.NonFiniteError
	require.ErrorAs(t, err, &nf)
	assert.Equal(t, 4, nf.Index)
	assert.Equal(t, "energy", nf.Quantity)
	assert.Contains(t, err.Error(), "plugin doublewell")
	assert.Contains(t, err.Error(), "Evaluate(energy,grad_x,param_vjp; 5 rows)")

	cfg = pluginConfig(t, "short")
	cfg.Env = framework.Env{Dim: 2}
	s := open(t, cfg)
	_, err = eval(s, &framework.Request{Outputs: framework.OutEnergy, X: mat.NewDense(3, 2, nil)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plugin short")
	assert.Contains(t, err.Error(), "answer has energy for 2 rows, want 3")
}

// captureHandler records log records.
type captureHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

func TestMalformedLogLines(t *testing.T) {
	cfg := pluginConfig(t, "badlog")
	cfg.Env = framework.Env{Dim: 2}
	h := &captureHandler{}
	cfg.Logger = slog.New(h)
	trace := slog.LevelDebug - 4
	cfg.LogLevel = &trace
	e := open(t, cfg)
	req := energyRequest(rand.New(rand.NewPCG(7, 7)), 5, 2)
	_, err := eval(e, req)
	require.NoError(t, err)
	h.mu.Lock()
	msgs := strings.Join(h.msgs, "\n")
	h.mu.Unlock()
	assert.Contains(t, msgs, "INFO 42", `{"@message": 42} is logged as text`)
	assert.Contains(t, msgs, "ERROR plain error")
	assert.Contains(t, msgs, "WARN structured")
	assert.Contains(t, msgs, `DEBUG {"@message"`)
}

// A host that is SIGKILLed leaves nothing behind: its plugins, their children (even one in
// a session of its own) and their socket folders are gone within seconds.
func TestHostKilledLeavesNoPlugin(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "pids")
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), modeEnv+"=host", modeEnv+"_CHILD=grandchild", "GOEBM_TEST_PIDFILE="+file)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the intermediate host printed its plugins' pids")
	require.Len(t, strings.Fields(line), 2)
	pids, dirs := pluginTree(t, file, 2)
	for _, pid := range pids {
		require.True(t, alive(pid))
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	for _, pid := range pids {
		waitDead(t, pid, 3*time.Second)
	}
	for _, d := range dirs {
		waitGone(t, d, time.Second)
	}
}

// pluginTree reads the lines the grandchild plugins wrote: each process's pid, its two
// children's, and its socket folder.
func pluginTree(t *testing.T, file string, processes int) (pids []int, dirs []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, processes)
	for _, l := range lines {
		f := strings.Fields(l)
		require.Len(t, f, 4, l)
		for _, s := range f[:3] {
			pid, err := strconv.Atoi(s)
			require.NoError(t, err)
			pids = append(pids, pid)
		}
		dirs = append(dirs, f[3])
	}
	return pids, dirs
}

func waitGone(t *testing.T, dir string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket folder %s still there after %v", dir, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A plugin whose children inherit its stderr (one in its process group, one in a session of
// its own) closes within seconds, and leaves no process and no socket folder behind.
func TestDescendantsEndWithPlugin(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pids")
	t.Setenv("GOEBM_TEST_PIDFILE", file)
	cfg := pluginConfig(t, "grandchild")
	cfg.Env = framework.Env{Dim: 2}
	e := open(t, cfg)
	_, err := eval(e, energyRequest(rand.New(rand.NewPCG(8, 8)), 3, 2))
	require.NoError(t, err)
	pids, dirs := pluginTree(t, file, 1)
	for _, pid := range pids {
		require.True(t, alive(pid), "pid %d", pid)
	}
	start := time.Now()
	require.NoError(t, e.Close())
	assert.Less(t, time.Since(start), 3*time.Second)
	for _, pid := range pids {
		waitDead(t, pid, 2*time.Second)
	}
	waitGone(t, dirs[0], time.Second)
}
