package sdk

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/stats"
)

// watchdogPeriod is how often the plugin checks that its parent is still the host.
const watchdogPeriod = 500 * time.Millisecond

// watchdog ends the plugin when the host goes away: when its parent process changes (the
// host died and the plugin was re-parented), or when the host's gRPC connection closes after
// having been open. The host also sets a parent-death signal on Linux; the watchdog covers
// the systems and the races that the signal does not.
type watchdog struct {
	log    hclog.Logger
	mu     sync.Mutex
	open   int
	opened bool
}

func startWatchdog(log hclog.Logger) *watchdog {
	w := &watchdog{log: log}
	ppid := os.Getppid()
	go func() {
		for range time.Tick(watchdogPeriod) {
			if p := os.Getppid(); p != ppid {
				w.exit("the host process is gone", "ppid", ppid, "now", p)
			}
		}
	}()
	return w
}

func (w *watchdog) exit(msg string, kv ...any) {
	w.log.Debug(msg+"; exiting", kv...)
	os.Exit(0)
}

// TagConn implements stats.Handler.
func (w *watchdog) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// TagRPC implements stats.Handler.
func (w *watchdog) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

// HandleRPC implements stats.Handler.
func (w *watchdog) HandleRPC(context.Context, stats.RPCStats) {}

// HandleConn counts the host's connections and exits when the last one closes.
func (w *watchdog) HandleConn(_ context.Context, s stats.ConnStats) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch s.(type) {
	case *stats.ConnBegin:
		w.open++
		w.opened = true
	case *stats.ConnEnd:
		w.open--
		if w.opened && w.open == 0 {
			w.exit("the host closed its connection")
		}
	}
}
