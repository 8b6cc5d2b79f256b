package host

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

// python3 returns /usr/bin/python3 when it has grpcio, protobuf and numpy; CI must.
func python3(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import grpc, numpy, google.protobuf").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have python3-grpcio, python3-protobuf and python3-numpy: %v", err)
		}
		t.Skipf("%s lacks grpcio, protobuf or numpy: %v", py, err)
	}
	return py
}

// sys.exit in a Python handler is answered at once with an error that says so (not a hang
// until call_timeout), the plugin exits with that status, and the next request runs on a new
// process.
func TestPythonSysExitIsAClearError(t *testing.T) {
	cfg := Config{Argv: []string{python3(t), "testdata/sysexit.py"}, Env: framework.Env{Dim: 2}, Logger: discardLogger()}
	e := open(t, cfg)
	theta := make([]float64, 4)
	require.NoError(t, e.InitParams(theta, rand.New(rand.NewPCG(1, 1))))
	req := &framework.Request{Outputs: framework.OutEnergy, X: randDense(rand.New(rand.NewPCG(2, 2)), 3, 2), Theta: theta}
	req.X.Set(0, 0, 777)
	pid := e.PIDs()[0]
	start := time.Now()
	_, err := eval(e, req)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.ErrorIs(t, err, ErrPluginFailed)
	assert.Contains(t, err.Error(), "the plugin called sys.exit(3) while serving this request; it exits (status 3)")
	waitDead(t, pid, 3*time.Second)
	req.X.Set(0, 0, 0.5)
	_, err = eval(e, req)
	require.NoError(t, err, "a new process serves the next request")
}

// A Python plugin whose child inherits its stderr, in a session of its own, closes within
// seconds and leaves the child no time to outlive it.
func TestPythonChildEndsWithPlugin(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pids")
	t.Setenv("GOEBM_TEST_PIDFILE", file)
	e := open(t, Config{Argv: []string{python3(t), "testdata/spawner.py"}, Env: framework.Env{Dim: 2}, Logger: discardLogger()})
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.True(t, alive(child))
	start := time.Now()
	require.NoError(t, e.Close())
	assert.Less(t, time.Since(start), 3*time.Second)
	waitDead(t, child, 2*time.Second)
}
