package host

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/examples/doublewell/doublewell"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
	"github.com/goebm/goebm/plugins/sdk"
)

// The test binary doubles as the plugins of the subprocess tests: run with
// GOEBM_TEST_PLUGIN=<mode> it serves a plugin instead of running tests.
const modeEnv = "GOEBM_TEST_PLUGIN"

// Trigger values: a request whose X[0][0] equals one of these misbehaves.
const (
	trigPanic = 999 // panic in the handler
	trigHang  = 666 // block forever
	trigSlow  = 555 // sleep 400 ms
	trigNaN   = 888 // answer NaN
	trigExit  = 777 // the process dies of a panic outside the handler
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(modeEnv); mode != "" {
		servePluginMode(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// faulty wraps the double well and misbehaves on trigger values.
type faulty struct{ framework.Energy }

func (f faulty) Evaluate(req *framework.Request, res *framework.Result) error {
	if n, _ := req.X.Dims(); n > 0 {
		switch req.X.At(0, 0) {
		case trigPanic:
			panic("boom: the energy panicked on purpose")
		case trigHang:
			select {}
		case trigSlow:
			time.Sleep(400 * time.Millisecond)
		case trigExit:
			// An unrecovered panic outside the handler kills the process; the runtime
			// writes it to file descriptor 2, which the host reads.
			// The handler waits forever, so that it can never answer before the runtime
			// has killed the process (a deferred close here would let it answer first).
			go func() { panic("the plugin dies on purpose") }()
			select {}
		case trigNaN:
			if err := f.Energy.Evaluate(req, res); err != nil {
				return err
			}
			if req.Outputs.Has(framework.OutEnergy) {
				res.Energy[n-1] = 0 * (res.Energy[n-1] / 0)
			}
			return nil
		}
	}
	return f.Energy.Evaluate(req, res)
}

func faultyEntry() framework.Entry[framework.Energy] {
	entry := doublewell.Entry()
	inner := entry.New
	entry.New = func(opts any, env framework.Env) (framework.Energy, error) {
		e, err := inner(opts, env)
		return faulty{e}, err
	}
	return entry
}

// hangOnce wraps the double well and hangs on its first Evaluate in the first process that
// creates the marker file; later processes answer.
type hangOnce struct {
	framework.Energy
	marker string
}

func (h hangOnce) Evaluate(req *framework.Request, res *framework.Result) error {
	if f, err := os.OpenFile(h.marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
		f.Close()
		select {}
	}
	return h.Energy.Evaluate(req, res)
}

func hangOnceEntry(marker string) framework.Entry[framework.Energy] {
	entry := doublewell.Entry()
	inner := entry.New
	entry.New = func(opts any, env framework.Env) (framework.Energy, error) {
		e, err := inner(opts, env)
		return hangOnce{e, marker}, err
	}
	return entry
}

// chatty wraps an energy and writes lines warn-level log lines to stderr per request.
type chatty struct {
	framework.Energy
	lines int
}

func (c chatty) Evaluate(req *framework.Request, res *framework.Result) error {
	for i := 0; i < c.lines; i++ {
		fmt.Fprintf(os.Stderr, `{"@level":"warn","@message":"chatty plugin line %d"}`+"\n", i)
	}
	return c.Energy.Evaluate(req, res)
}

func floodEntry() framework.Entry[framework.Energy] {
	entry := doublewell.Entry()
	inner := entry.New
	entry.New = func(opts any, env framework.Env) (framework.Energy, error) {
		e, err := inner(opts, env)
		return chatty{e, 500}, err
	}
	return entry
}

// bigMLPEntry serves an MLP 2→1414→1414→1 with softplus units: 2,005,053 parameters, 16 MB
// of θ, four times gRPC's default message limit.
func bigMLPEntry() framework.Entry[framework.Energy] {
	return framework.Entry[framework.Energy]{Name: "mlp", New: func(_ any, env framework.Env) (framework.Energy, error) {
		return energy.NewMLP(env.Dim, []int{1414, 1414}, "softplus")
	}}
}

// mlpEntry serves goebm's built-in MLP with two hidden layers of 16 softplus units.
func mlpEntry() framework.Entry[framework.Energy] {
	return framework.Entry[framework.Energy]{Name: "mlp", New: func(_ any, env framework.Env) (framework.Energy, error) {
		return energy.NewMLP(env.Dim, []int{16, 16}, "softplus")
	}}
}

// shortAnswer is a raw server of a 2-d energy without parameters whose Evaluate answers
// one energy too few.
type shortAnswer struct{ pb.UnimplementedEnergyServer }

var shortSpec = &pb.Spec{Name: "short", Dim: 2}

func (shortAnswer) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	return &pb.DescribeResponse{ProtocolMajor: 1, Spec: shortSpec}, nil
}

func (shortAnswer) Configure(context.Context, *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	return &pb.ConfigureResponse{Spec: shortSpec}, nil
}

func (shortAnswer) Evaluate(_ context.Context, req *pb.EvaluateRequest) (*pb.EvaluateResponse, error) {
	n := int(req.X.Shape[0])
	return &pb.EvaluateResponse{Energy: make([]byte, 8*(n-1))}, nil
}

func servePluginMode(mode string) {
	serveRaw := func(hs plugin.HandshakeConfig, srv pb.EnergyServer) {
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  hs,
			VersionedPlugins: map[int]plugin.PluginSet{int(hs.ProtocolVersion): {wire.PluginName: &wire.GRPCPlugin{Impl: srv}}},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
	}
	switch mode {
	case "ok":
		sdk.ServeEntry(doublewell.Entry())
	case "mlp":
		sdk.ServeEntry(mlpEntry())
	case "mlp64":
		sdk.ServeEntry(framework.Entry[framework.Energy]{Name: "mlp", New: func(_ any, env framework.Env) (framework.Energy, error) {
			return energy.NewMLP(env.Dim, []int{64, 64}, "softplus")
		}})
	case "ising": // exact per-row θ-gradients (capability param-jac)
		sdk.ServeEntry(framework.Entry[framework.Energy]{Name: "ising", New: func(_ any, env framework.Env) (framework.Energy, error) {
			return energy.NewIsing(env.Dim, true)
		}})
	case "faulty":
		sdk.ServeEntry(faultyEntry())
	case "bigmlp":
		sdk.ServeEntry(bigMLPEntry(), sdk.WithMaxMessageBytes(4<<20))
	case "gaussian": // linear in θ: Statistics
		sdk.ServeEntry(framework.Entry[framework.Energy]{Name: "gaussian", New: func(_ any, env framework.Env) (framework.Energy, error) {
			return energy.NewGaussian(env.Dim, false)
		}})
	case "rbm": // exact block Gibbs: BlockGibbs
		sdk.ServeEntry(framework.Entry[framework.Energy]{Name: "rbm", New: func(_ any, env framework.Env) (framework.Energy, error) {
			return energy.NewRBM(env.Dim, 5)
		}})
	case "flood": // 500 warn lines on stderr per request
		sdk.ServeEntry(floodEntry())
	case "chattymlp": // the MLP 2→64→64→1, logging 50 warn lines per request
		sdk.ServeEntry(framework.Entry[framework.Energy]{Name: "mlp", New: func(_ any, env framework.Env) (framework.Energy, error) {
			m, err := energy.NewMLP(env.Dim, []int{64, 64}, "softplus")
			return chatty{m, 50}, err
		}})
	case "grandchild":
		spawnGrandchildren()
		sdk.ServeEntry(doublewell.Entry())
	case "hangonce":
		sdk.ServeEntry(hangOnceEntry(os.Getenv("GOEBM_TEST_HANG_MARKER")))
	case "badlog":
		for _, l := range []string{`{"@message": 42}`, `{"@level": 7, "@message": "x"}`, `{"@timestamp": [], "@message": {"a": 1}}`,
			`{"@message"`, "\x00\xff\xfe binary", strings.Repeat("long ", 40000), `[ERROR] plain error`, `{"@level":"warn","@message":"structured","k":1}`} {
			fmt.Fprintln(os.Stderr, l)
		}
		fmt.Fprint(os.Stderr, "no newline at the end of this part ")
		sdk.ServeEntry(doublewell.Entry())
	case "stdout":
		fmt.Println("hello from a plugin that prints before its handshake")
		sdk.ServeEntry(doublewell.Entry())
	case "v2":
		hs := wire.Handshake
		hs.ProtocolVersion = 2
		serveRaw(hs, nil)
	case "cookie":
		hs := wire.Handshake
		hs.MagicCookieKey, hs.MagicCookieValue = "SOME_OTHER_COOKIE", "x"
		serveRaw(hs, nil)
	case "short":
		serveRaw(wire.Handshake, shortAnswer{})
	case "host":
		runHostMode()
	default:
		fmt.Fprintf(os.Stderr, "unknown plugin mode %q\n", mode)
		os.Exit(3)
	}
}

// spawnGrandchildren starts two children that inherit the plugin's stderr and outlive it
// unless something kills them: one in the plugin's process group, one in a session of its
// own (out of the group's reach). It appends "pid child1 child2 socketdir" to the file
// $GOEBM_TEST_PIDFILE.
func spawnGrandchildren() {
	var pids []string
	for _, setsid := range []bool{false, true} {
		c := exec.Command("sleep", "300")
		c.Stderr = os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid}
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(5)
		}
		pids = append(pids, strconv.Itoa(c.Process.Pid))
	}
	f, err := os.OpenFile(os.Getenv("GOEBM_TEST_PIDFILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		os.Exit(6)
	}
	fmt.Fprintf(f, "%d %s %s\n", os.Getpid(), strings.Join(pids, " "), os.Getenv("PLUGIN_UNIX_SOCKET_DIR"))
	f.Close()
}

// runHostMode is an intermediate host: it opens a pool of two plugins, prints their pids
// and waits to be killed.
func runHostMode() {
	if os.Getenv(modeEnv+"_CHILD") == "" {
		os.Setenv(modeEnv, "ok") // the plugins it starts serve the double well
	} else {
		os.Setenv(modeEnv, os.Getenv(modeEnv+"_CHILD"))
	}
	e, err := Open(Config{Argv: []string{os.Args[0]}, Instances: 2, Env: framework.Env{Dim: 2},
		Logger: discardLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	_ = e
	fmt.Println(strings.Trim(fmt.Sprint(e.PIDs()), "[]"))
	select {}
}

// viaSDK is the spec a plugin built on the Go SDK declares for an energy with spec s: its own,
// plus CapMixedSelf, because the SDK forms the mixed product's direction itself.
func viaSDK(s framework.Spec) framework.Spec {
	s.Caps |= framework.CapMixedSelf
	return s
}
