package host

import (
	"runtime"
	"syscall"
)

// sysProcAttr puts the plugin in its own process group (a terminal's Ctrl-C goes to the
// host, which shuts plugins down in order, and Close can kill workers the plugin forked)
// and asks the kernel to SIGKILL it when its parent thread dies, so a host that is killed
// leaves no plugin behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// onSpawnThread runs start on an OS thread that stays alive until release is closed.
// Linux delivers the parent-death signal when the thread that forked the child exits, not
// the process, and the Go runtime may end threads; a thread locked for the plugin's life
// makes the signal mean "the host died".
func onSpawnThread(start func() error, release <-chan struct{}) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: when this goroutine returns after release, the thread ends
		// with it, and by then the plugin has been killed.
		errc <- start()
		<-release
	}()
	return <-errc
}

// killGroup kills the plugin's process group (workers it forked), after the plugin itself.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
