package host

import (
	"errors"
	"fmt"
	"strings"
)

// ErrClosed is returned by requests on an energy whose plugins have been closed.
var ErrClosed = errors.New("plugin energy is closed")

// Error is a failed plugin request: it names the plugin, the process, the request and what
// was wrong, with the last lines the plugin wrote to stderr.
type Error struct {
	Plugin  string   // the energy's name, or the plugin's program
	PID     int      // the process, 0 when unknown
	Request string   // e.g. "Evaluate(energy,grad_x; 256 rows)"
	Err     error    // what was wrong
	Stderr  []string // the plugin's last stderr lines, oldest first
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s", e.Plugin)
	if e.PID > 0 {
		fmt.Fprintf(&b, " (pid %d)", e.PID)
	}
	if e.Request != "" {
		fmt.Fprintf(&b, ", %s", e.Request)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if len(e.Stderr) > 0 {
		b.WriteString("\nlast lines of the plugin's stderr:")
		for _, l := range e.Stderr {
			b.WriteString("\n  | ")
			b.WriteString(l)
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errorTail is how many stderr lines an Error carries: enough for a Go panic's stack.
const errorTail = 60
