//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// terminalWidth returns the number of columns of the terminal f, else $COLUMNS, else 0.
func terminalWidth(f *os.File) int {
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		return int(ws.Col)
	}
	n, _ := strconv.Atoi(os.Getenv("COLUMNS"))
	return n
}
