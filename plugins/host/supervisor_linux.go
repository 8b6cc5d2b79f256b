package host

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The supervisor is the host's own executable started with supervisorEnv set: the package's
// init runs it instead of the program, so every program that imports this package (ebm, a
// test binary, a third-party host) can supervise its plugins without a helper binary.
const (
	supervisorEnv  = "GOEBM_PLUGIN_SUPERVISOR"
	supervisorArg0 = "goebm-plugin-supervisor"
)

func init() {
	if os.Getenv(supervisorEnv) != "" {
		os.Exit(supervise(os.Args[1:]))
	}
}

// supervisorPath returns the executable to start as a supervisor.
func supervisorPath() (string, bool) {
	if os.Getenv("GOEBM_PLUGIN_NO_SUPERVISOR") != "" {
		return "", false
	}
	self, err := os.Executable()
	if err != nil {
		return "", false
	}
	if _, err := os.Stat(self); err != nil {
		return "", false
	}
	return self, true
}

// groupAttr starts a process in its own process group: a terminal's Ctrl-C reaches the host
// only, which shuts its plugins down in order.
func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the process group led by pid.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// treeEnv marks the environment of a plugin and so of every process it starts (they inherit
// it), with a value unique to the supervisor: how the supervisor finds a descendant that left
// both the plugin's process group and its parentage.
const treeEnv = "GOEBM_PLUGIN_TREE"

// supervise runs the plugin args[1:] (after "--") and returns the exit code to end with.
//
// It becomes the subreaper of the plugin's descendants (PR_SET_CHILD_SUBREAPER), so that a
// child the plugin leaves behind is re-parented to the supervisor rather than to init, and
// starts the plugin in its own process group, with a parent-death signal and a mark in its
// environment. When the plugin ends, when the host sends SIGTERM, or when the host dies (the
// lifeline on fd 3 reads end of file: the kernel closed the host's end), it kills the plugin's
// group, every child left to it and every process that carries the mark, reaps them, removes
// the plugin's socket folder, and ends as the plugin ended.
func supervise(args []string) int {
	if len(args) < 2 || args[0] != "--" {
		fmt.Fprintln(os.Stderr, "goebm plugin supervisor: want -- ARGV...")
		return 2
	}
	argv := args[1:]
	runtime.LockOSThread() // the plugin's parent-death signal follows this thread
	lifeline := os.NewFile(3, "lifeline")
	syscall.CloseOnExec(3)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "goebm plugin supervisor: cannot become subreaper: %v\n", err)
	}
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)

	mark := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, supervisorEnv+"=") && !strings.HasPrefix(kv, treeEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, treeEnv+"="+mark)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	sock := os.Getenv("PLUGIN_UNIX_SOCKET_DIR")
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot start the plugin: %v\n", err)
		_ = os.RemoveAll(sock)
		return 127
	}
	plugin := cmd.Process.Pid

	// One goroutine reaps every child (the plugin and the orphans re-parented to us). The
	// kernel reports the plugin only once all its threads have ended, and so once every child
	// of theirs has been re-parented to us: pluginGone is closed then.
	var status syscall.WaitStatus
	pluginGone := make(chan struct{})
	go func() {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, 0, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return // ECHILD: nothing left
			}
			if pid == plugin {
				status = ws
				close(pluginGone)
			}
		}
	}()
	hostGone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, lifeline)
		close(hostGone)
	}()

	exited := false
	select {
	case <-pluginGone:
		exited = true
	case <-stop:
	case <-hostGone:
	}
	cleanup(plugin, mark, sock, pluginGone)
	if !exited {
		return 0
	}
	if status.Signaled() {
		// End as the plugin ended, so that the host sees the plugin's signal.
		_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
		sig := status.Signal()
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second)
		return 128 + int(sig)
	}
	return status.ExitStatus()
}

// cleanup kills the plugin's process group, every process re-parented to the supervisor and
// every process marked as the plugin's, until the plugin has been reaped (pluginGone: all its
// threads ended, so no child of theirs can still be re-parented) and none is left; then it
// removes the socket folder. It gives up after 5 s.
func cleanup(plugin int, mark, sock string, pluginGone <-chan struct{}) {
	_ = syscall.Kill(-plugin, syscall.SIGKILL)
	_ = syscall.Kill(plugin, syscall.SIGKILL)
	self := os.Getpid()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		kids := descendants(self, treeEnv+"="+mark)
		for _, k := range kids {
			_ = syscall.Kill(-k, syscall.SIGKILL)
			_ = syscall.Kill(k, syscall.SIGKILL)
		}
		select {
		case <-pluginGone:
			if len(kids) == 0 {
				deadline = time.Time{}
			}
		default:
		}
		time.Sleep(2 * time.Millisecond) // the reaper goroutine collects them
	}
	if sock != "" {
		_ = os.RemoveAll(sock)
	}
}

// descendants lists the live processes (not zombies) whose parent is pid or whose environment
// holds the entry mark.
func descendants(pid int, mark string) []int {
	want := []byte(mark + "\x00")
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		k, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == pid {
			out = append(out, k)
			continue
		}
		if k == pid {
			continue
		}
		if env, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil && bytes.Contains(env, want) {
			out = append(out, k)
		}
	}
	return out
}
