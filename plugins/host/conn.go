package host

import (
	"time"

	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Conn is a raw connection to one plugin process, for tools that speak the protocol
// themselves (the conformance kit): no validation, no restart, no θ bookkeeping.
type Conn struct {
	// RPC is the plugin's Energy service.
	RPC  pb.EnergyClient
	inst *instance
}

// Dial starts one process of the plugin (or attaches to cfg.Reattach) and completes the
// handshake. The caller must Close the connection.
func Dial(c Config) (*Conn, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.SHA256 != "" && cfg.Reattach == nil {
		if err := verifySHA256(cfg.Argv, cfg.SHA256); err != nil {
			return nil, err
		}
	}
	label := programLabel(cfg.Argv)
	inst, err := start(&cfg, label)
	if err != nil {
		pe := &Error{Plugin: label, Request: "start", Err: err}
		if inst != nil {
			pe.PID, pe.Stderr = inst.pid, inst.stderr.tail(errorTail)
		}
		return nil, pe
	}
	return &Conn{RPC: inst.rpc, inst: inst}, nil
}

// PID returns the plugin's process id.
func (c *Conn) PID() int { return c.inst.pid }

// Exited reports whether the process has ended.
func (c *Conn) Exited() bool { return c.inst.exited() }

// Stderr returns up to n of the last lines the plugin wrote to stderr.
func (c *Conn) Stderr(n int) []string { return c.inst.stderr.tail(n) }

// Close ends the process, gracefully when the plugin implements GRPCController.Shutdown,
// and returns how long that took.
func (c *Conn) Close() time.Duration {
	t := time.Now()
	c.inst.kill()
	return time.Since(t)
}
