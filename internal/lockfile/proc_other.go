//go:build !linux

package lockfile

import (
	"errors"
	"os"
	"syscall"
)

func bootID() string { return "" }

func processStart(int) string { return "" }

// alive reports whether process pid exists. Without /proc the start time is not checked, so a
// reused process id keeps a stale lock until StaleAfter.
func alive(pid int, _ string) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
