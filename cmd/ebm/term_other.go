//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import (
	"os"
	"strconv"
)

// terminalWidth returns $COLUMNS, else 0: this system's terminal size is not asked.
func terminalWidth(f *os.File) int {
	n, _ := strconv.Atoi(os.Getenv("COLUMNS"))
	return n
}
