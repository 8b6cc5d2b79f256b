package host

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/goebm/goebm/framework"
)

// Defaults of Config and Options. Each knob has one default, used by run files, by the host
// and by `ebm plugin check` alike.
const (
	// DefaultStartTimeout bounds the time from exec to the handshake line: long enough for
	// an interpreter that imports torch on a cold disk.
	DefaultStartTimeout = 60 * time.Second
	// DefaultCallTimeout bounds one request. A plugin that takes longer is taken for hung:
	// it is killed, restarted and the request retried once. It is long because a request is
	// a whole batch, and exact second-order outputs of a large batch through autograd can
	// honestly take minutes; lower it to detect hangs sooner.
	DefaultCallTimeout = 10 * time.Minute
	// DefaultMaxRestarts is how many times in its life an energy restarts dead or hung
	// plugin processes before it gives up.
	DefaultMaxRestarts = 10
	// DefaultLogLevel is the lowest level of plugin log lines that reach the host's log.
	DefaultLogLevel = slog.LevelWarn
	// DefaultLogRate bounds the plugin log lines per second (with bursts of DefaultLogBurst)
	// that reach the host's log; the others are counted and the count reported.
	DefaultLogRate  = 20
	DefaultLogBurst = 100
)

// Config says how to start and talk to a plugin.
type Config struct {
	// Argv is the plugin's command line: the program and its arguments, never run through
	// a shell. A relative program or script is resolved against Dir (see ResolveArgv).
	Argv []string
	// Dir is the folder the plugin runs in; empty means the host's working directory.
	// Relative arguments are relative to it. Env.Dir is passed to the plugin as is.
	Dir string
	// Instances is the number of plugin processes; zero means one.
	Instances int
	// StartTimeout bounds the time from exec to the handshake line; zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// CallTimeout bounds one request; zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// SHA256, when set, is the hex sha256 the plugin's program must have: argv[0], or for
	// `interpreter script …` (argv[0] is python, node, Rscript, …) the script.
	SHA256 string
	// Config is the [energy.config] table, checked against the plugin's schema.
	Config map[string]any
	// Env is the run's environment, passed to the plugin's Configure. Env.Context, when
	// set, bounds every request: cancelling it stops the requests in flight at once.
	Env framework.Env
	// Logger receives the plugin's stderr lines; nil means slog.Default().
	Logger *slog.Logger
	// LogLevel is the lowest level of plugin lines passed to Logger; zero means
	// DefaultLogLevel (warn). Every line is kept for error reports whatever its level.
	LogLevel *slog.Level
	// LogRate and LogBurst bound the lines per second passed to Logger; zero means
	// DefaultLogRate and DefaultLogBurst, a negative rate means no bound.
	LogRate, LogBurst int
	// MaxRestarts bounds restarts of dead processes over the energy's life; zero means
	// DefaultMaxRestarts, negative means never restart.
	MaxRestarts int
	// Reattach connects to a plugin already serving, e.g. one served in-process by
	// sdk.ServeTest, instead of starting Argv. Such a plugin cannot be restarted.
	Reattach *plugin.ReattachConfig
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if len(out.Argv) == 0 && out.Reattach == nil {
		return out, &framework.KeyError{Key: "plugin", Msg: "empty command line: want [\"path\", \"arg\", ...]"}
	}
	if len(out.Argv) > 0 && out.Argv[0] == "" {
		return out, &framework.KeyError{Key: "plugin", Msg: "the first element must be the plugin's program"}
	}
	if out.Instances < 0 {
		return out, &framework.KeyError{Key: "instances", Msg: fmt.Sprintf("must be ≥ 1, got %d", out.Instances)}
	}
	if out.Instances == 0 {
		out.Instances = 1
	}
	if out.StartTimeout < 0 {
		return out, &framework.KeyError{Key: "start_timeout", Msg: "must not be negative"}
	}
	if out.CallTimeout < 0 {
		return out, &framework.KeyError{Key: "call_timeout", Msg: "must not be negative"}
	}
	if out.StartTimeout == 0 {
		out.StartTimeout = DefaultStartTimeout
	}
	if out.CallTimeout == 0 {
		out.CallTimeout = DefaultCallTimeout
	}
	if out.MaxRestarts == 0 {
		out.MaxRestarts = DefaultMaxRestarts
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.LogLevel == nil {
		l := DefaultLogLevel
		out.LogLevel = &l
	}
	if out.LogRate == 0 {
		out.LogRate = DefaultLogRate
	}
	if out.LogBurst <= 0 {
		out.LogBurst = DefaultLogBurst
	}
	if out.Env.Context == nil {
		out.Env.Context = context.Background()
	}
	if len(out.Argv) > 0 && out.Reattach == nil {
		argv, err := ResolveArgv(out.Argv, out.Dir)
		if err != nil {
			return out, err
		}
		out.Argv = argv
	}
	return out, nil
}
