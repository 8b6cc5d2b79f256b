package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"

	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// instance is one plugin process and its connection.
type instance struct {
	client  *plugin.Client
	rpc     pb.EnergyClient
	pid     int
	stderr  *stderrLog
	dir     string        // private folder for the plugin's unix socket
	owned   bool          // started by us (not reattached)
	release chan struct{} // ends the spawning thread
	version atomic.Uint64 // θ version the plugin has cached
	dead    atomic.Bool
	once    sync.Once
}

// start execs the plugin and connects to it (handshake, protocol version, dispense).
func start(cfg *Config, label string) (*instance, error) {
	inst := &instance{release: make(chan struct{}), stderr: newStderrLog(label, cfg.Logger)}
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
	}
	var cmd *exec.Cmd
	if cfg.Reattach != nil {
		cc.Reattach = cfg.Reattach
		cc.Plugins = cc.VersionedPlugins[wire.ProtocolMajor] // go-plugin reads Plugins on reattach
		inst.pid = cfg.Reattach.Pid
	} else {
		dir, err := os.MkdirTemp("", "goebm-plugin-")
		if err != nil {
			return nil, err
		}
		inst.dir, inst.owned = dir, true
		prog := cfg.Argv[0]
		if !filepath.IsAbs(prog) && filepath.Base(prog) != prog && cfg.Env.Dir != "" {
			prog = filepath.Join(cfg.Env.Dir, prog)
		}
		cmd = exec.Command(prog, cfg.Argv[1:]...)
		cmd.Dir = cfg.Env.Dir
		// go-plugin appends the host's environment and its own variables after these.
		cmd.Env = []string{"PLUGIN_UNIX_SOCKET_DIR=" + dir}
		cmd.SysProcAttr = sysProcAttr()
		cc.Cmd = cmd
	}
	inst.client = plugin.NewClient(cc)
	err := onSpawnThread(func() error {
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
	}, inst.release)
	if cmd != nil && cmd.Process != nil {
		inst.pid = cmd.Process.Pid
	}
	if err != nil {
		inst.kill()
		return inst, handshakeError(err)
	}
	return inst, nil
}

var pluginVersionRE = regexp.MustCompile(`Plugin version: (\d+)`)

// handshakeError explains go-plugin's start errors to a person.
func handshakeError(err error) error {
	msg := err.Error()
	switch {
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
	return in.client != nil && in.client.Exited()
}

// waitExit waits up to d for the process to end, so that its last stderr lines (a panic's
// stack) have been read.
func (in *instance) waitExit(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !in.exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// kill ends the process (gracefully through GRPCController.Shutdown, then SIGKILL after
// go-plugin's 2 s), its process group, and removes its socket folder. It is idempotent.
func (in *instance) kill() {
	in.once.Do(func() {
		in.dead.Store(true)
		if in.client != nil {
			in.client.Kill()
		}
		if in.owned {
			killGroup(in.pid)
		}
		in.stderr.flush()
		close(in.release)
		if in.dir != "" {
			_ = os.RemoveAll(in.dir)
		}
	})
}

// killNow ends a process that is known to misbehave (hung, or half dead) without the
// graceful Shutdown request and its 2 s wait.
func (in *instance) killNow() {
	if in.owned && in.pid > 0 {
		if p, err := os.FindProcess(in.pid); err == nil {
			_ = p.Kill()
		}
	}
	in.kill()
}

var errDead = errors.New("plugin process is not running")

// call runs one RPC with the call timeout.
func (in *instance) call(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	if in.dead.Load() || in.exited() {
		return errDead
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return f(cctx)
}
