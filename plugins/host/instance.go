package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// instance is one plugin process and its connection.
type instance struct {
	client  *plugin.Client
	rpc     pb.EnergyClient
	proc    *procRunner // nil when reattached
	pid     int
	stderr  *stderrLog
	version atomic.Uint64 // θ version the plugin has cached
	dead    atomic.Bool
	once    sync.Once
}

// start execs the plugin and connects to it (handshake, protocol version, dispense).
func start(cfg *Config, label string) (*instance, error) {
	inst := &instance{stderr: newStderrLog(label, cfg.Logger, *cfg.LogLevel, cfg.LogRate, cfg.LogBurst)}
	cc := &plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.PluginSet(nil),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     cfg.StartTimeout,
		// go-plugin's own parser of plugin stderr panics on some JSON lines; a logger at Off
		// skips it, and stderrLog reads the raw lines instead.
		Logger:     hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard}),
		Stderr:     inst.stderr,
		SyncStdout: inst.stderr,
		SyncStderr: inst.stderr,
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithInitialWindowSize(wire.WindowSize),
			grpc.WithInitialConnWindowSize(wire.WindowSize),
		},
	}
	if cfg.Reattach != nil {
		cc.Reattach = cfg.Reattach
		cc.Plugins = cc.VersionedPlugins[wire.ProtocolMajor] // go-plugin reads Plugins on reattach
		inst.pid = cfg.Reattach.Pid
	} else {
		cc.RunnerFunc = runnerFunc(cfg.Argv, cfg.Dir, &inst.proc)
	}
	inst.client = plugin.NewClient(cc)
	err := func() error {
		proto, err := inst.client.Client()
		if err != nil {
			return err
		}
		raw, err := proto.Dispense(wire.PluginName)
		if err != nil {
			return err
		}
		inst.rpc = raw.(pb.EnergyClient)
		return proto.Ping()
	}()
	if inst.proc != nil {
		inst.pid = inst.proc.pid
	}
	if err != nil {
		inst.waitExit(time.Second) // so that the stderr tail holds the plugin's last words
		inst.killNow()
		return inst, handshakeError(err)
	}
	return inst, nil
}

var pluginVersionRE = regexp.MustCompile(`Plugin version: (\d+)`)

// handshakeError explains go-plugin's start errors to a person. go-plugin's errors are plain
// strings, so this is the one place where the host reads error text.
func handshakeError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "cannot start the plugin"):
		return err
	case strings.Contains(msg, "incompatible API version"):
		m := pluginVersionRE.FindStringSubmatch(msg)
		v, _ := strconv.Atoi(m[len(m)-1])
		if v > wire.ProtocolMajor {
			return fmt.Errorf("the plugin speaks goebm plugin protocol %d and this ebm speaks %d: upgrade ebm, or use a build of the plugin for protocol %d (%w)", v, wire.ProtocolMajor, wire.ProtocolMajor, err)
		}
		return fmt.Errorf("the plugin speaks goebm plugin protocol %d and this ebm speaks %d: upgrade the plugin (rebuild it against the current goebm SDK) (%w)", v, wire.ProtocolMajor, err)
	case strings.Contains(msg, "Failed to read any lines from plugin's stdout"), strings.Contains(msg, "plugin exited before we could connect"):
		return fmt.Errorf("the plugin exited before its handshake (was it built for goebm, with a matching cookie? see its stderr) (%w)", err)
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		return fmt.Errorf("the plugin's first line on stdout is not a go-plugin handshake; stdout is reserved for the handshake, so a plugin must log to stderr and print nothing before it (%w)", err)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("no handshake within start_timeout (%w)", err)
	case strings.Contains(msg, "unsupported plugin protocol"):
		return fmt.Errorf("the plugin does not serve gRPC, the only protocol goebm speaks (%w)", err)
	}
	return err
}

// exited reports whether the process is known to have ended.
func (in *instance) exited() bool {
	if in.proc != nil {
		return in.proc.exited()
	}
	return in.client != nil && in.client.Exited()
}

// status describes how the process ended ("exit status 2", "killed by signal 9 (killed)"),
// or "" while it runs or when unknown.
func (in *instance) status() string {
	if in.proc != nil {
		return in.proc.status()
	}
	return ""
}

// waitExit waits up to d for the process to end, so that its last stderr lines (a panic's
// stack) have been read and its exit status is known.
func (in *instance) waitExit(d time.Duration) bool {
	if in.proc != nil {
		select {
		case <-in.proc.done:
			return true
		case <-time.After(d):
			return false
		}
	}
	deadline := time.Now().Add(d)
	for !in.exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// kill ends the process gracefully (GRPCController.Shutdown, then go-plugin's 2 s wait, then
// the runner's kill: the process group and, through the supervisor, every descendant) and
// removes its socket folder. It is idempotent.
func (in *instance) kill() {
	in.once.Do(func() {
		in.dead.Store(true)
		if in.client != nil {
			in.client.Kill()
		}
		in.stderr.flush()
	})
}

// killNow ends a process that is known to misbehave (hung, or half dead) without the
// graceful Shutdown request and its 2 s wait.
func (in *instance) killNow() {
	in.dead.Store(true)
	if in.proc != nil {
		_ = in.proc.Kill(context.Background())
	}
	in.kill()
}

var errDead = errors.New("plugin process is not running")

// call runs one RPC with the call timeout, under ctx.
func (in *instance) call(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	if in.dead.Load() || in.exited() {
		return errDead
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return f(cctx)
}
