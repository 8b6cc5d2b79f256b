package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// pipeGrace bounds how long the host keeps reading a plugin's stdout and stderr after the
// plugin has ended and its process group has been killed. A descendant that escaped the
// group (setsid) may hold the pipes open; the host stops waiting for it.
const pipeGrace = 500 * time.Millisecond

// killGrace bounds how long Kill waits for the supervisor to clean up before it kills the
// supervisor itself.
const killGrace = 2 * time.Second

// procRunner starts and ends one plugin process for go-plugin (a runner.Runner). Unlike
// go-plugin's own runner it never waits on the plugin's pipes to learn that the plugin
// ended: it waits for the process, kills its process group, and then gives the pipes a
// bounded time to drain. So a child that inherited the plugin's stderr cannot make the host
// wait for it.
//
// On Linux the process it starts is a supervisor (the host's own executable, see
// supervise): the supervisor starts the plugin in its own process group, becomes the
// subreaper of the plugin's descendants, and kills all of them and removes the socket
// folder when the plugin ends, when the host asks, or when the host dies (its lifeline
// pipe closes). Elsewhere the plugin is started directly, in its own process group where
// the system has them.
type procRunner struct {
	argv []string
	dir  string
	env  []string
	sock string // the private socket folder go-plugin made

	cmd      *exec.Cmd
	lifeline *os.File // write end of the supervisor's lifeline; closed when the host dies
	out, err *deadlineReader
	pid      int

	done  chan struct{} // closed when the process has ended
	mu    sync.Mutex
	state *os.ProcessState
	werr  error
}

var _ runner.Runner = (*procRunner)(nil)

// runnerFunc returns a go-plugin RunnerFunc that starts argv in dir and stores the runner
// in *dst.
func runnerFunc(argv []string, dir string, dst **procRunner) func(hclog.Logger, *exec.Cmd, string) (runner.Runner, error) {
	return func(_ hclog.Logger, spec *exec.Cmd, sock string) (runner.Runner, error) {
		r := &procRunner{argv: argv, dir: dir, env: spec.Env, sock: sock, done: make(chan struct{})}
		*dst = r
		return r, nil
	}
}

// Start starts the supervisor (or the plugin) with fresh pipes for stdout and stderr and
// stdin closed.
func (r *procRunner) Start(context.Context) error {
	if err := checkProgram(r.argv[0]); err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	var lifeR *os.File
	if self, ok := supervisorPath(); ok {
		var lifeW *os.File
		if lifeR, lifeW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			errR.Close()
			errW.Close()
			return err
		}
		r.lifeline = lifeW
		r.cmd = exec.Command(self, append([]string{"--"}, r.argv...)...)
		r.cmd.Args[0] = supervisorArg0
		r.cmd.Env = append(append([]string(nil), r.env...), supervisorEnv+"=1")
		r.cmd.ExtraFiles = []*os.File{lifeR}
	} else {
		r.cmd = exec.Command(r.argv[0], r.argv[1:]...)
		r.cmd.Env = r.env
	}
	r.cmd.Dir = r.dir
	r.cmd.Stdout, r.cmd.Stderr = outW, errW
	r.cmd.SysProcAttr = groupAttr()
	err = r.cmd.Start()
	outW.Close()
	errW.Close()
	if lifeR != nil {
		lifeR.Close()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		if r.lifeline != nil {
			r.lifeline.Close()
		}
		return err
	}
	r.pid = r.cmd.Process.Pid
	r.out, r.err = &deadlineReader{f: outR}, &deadlineReader{f: errR}
	go r.wait()
	return nil
}

// checkProgram reports a plugin program that cannot be started, naming it.
func checkProgram(prog string) error {
	st, err := os.Stat(prog)
	switch {
	case err != nil:
		return fmt.Errorf("cannot start the plugin: %w", err)
	case st.IsDir():
		return fmt.Errorf("cannot start the plugin: %s is a folder", prog)
	case st.Mode()&0o111 == 0:
		return fmt.Errorf("cannot start the plugin: %s is not executable (chmod +x, or name its interpreter first)", prog)
	}
	return nil
}

// wait reaps the process, kills its group (what it left behind), and ends the readers of its
// pipes after pipeGrace.
func (r *procRunner) wait() {
	err := r.cmd.Wait()
	killGroup(r.pid)
	r.mu.Lock()
	r.state, r.werr = r.cmd.ProcessState, err
	r.mu.Unlock()
	if r.lifeline != nil {
		r.lifeline.Close()
	}
	deadline := time.Now().Add(pipeGrace)
	r.out.f.SetReadDeadline(deadline)
	r.err.f.SetReadDeadline(deadline)
	close(r.done)
}

// Wait implements runner.Runner: it returns when the process has ended.
func (r *procRunner) Wait(context.Context) error {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.werr
}

// Kill implements runner.Runner: the supervisor is asked to end the plugin and everything it
// started (SIGTERM), and killed if it has not within killGrace; a plugin started directly is
// killed with its process group.
func (r *procRunner) Kill(context.Context) error {
	if r.cmd == nil || r.cmd.Process == nil {
		return nil
	}
	if r.lifeline != nil {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
			return nil
		case <-time.After(killGrace):
		}
	}
	killGroup(r.pid)
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-r.done
	return nil
}

// exited reports whether the process has ended.
func (r *procRunner) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// status describes how the process ended, e.g. "exit status 1" or "killed by signal 9
// (killed)", or "" while it runs.
func (r *procRunner) status() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return describeState(r.state)
}

func describeState(st *os.ProcessState) string {
	if st == nil {
		return ""
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("exit status %d", st.ExitCode())
}

func (r *procRunner) Stdout() io.ReadCloser           { return r.out }
func (r *procRunner) Stderr() io.ReadCloser           { return r.err }
func (r *procRunner) Name() string                    { return filepath.Base(r.argv[0]) }
func (r *procRunner) ID() string                      { return strconv.Itoa(r.pid) }
func (r *procRunner) Diagnose(context.Context) string { return "" }

func (r *procRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *procRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

// deadlineReader reads a pipe until its deadline, which then reads as the end of the file.
type deadlineReader struct{ f *os.File }

func (d *deadlineReader) Read(p []byte) (int, error) {
	n, err := d.f.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = io.EOF
	}
	return n, err
}

func (d *deadlineReader) Close() error { return d.f.Close() }
