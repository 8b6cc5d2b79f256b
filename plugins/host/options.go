package host

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/goebm/goebm/framework"
)

// Name is the registry name of the plugin energy.
const Name = "plugin"

// Options are the keys of a run file's [energy] table for a plugin energy:
//
//	[energy]
//	plugin = ["../bin/doublewell"]
//	instances = 2
//	[energy.config]          # the plugin's own table, checked against its schema
//	init_center = 1.5
//
// Each key has one default, the one that Options returns and `ebm list energies` shows.
type Options struct {
	Plugin       []string       `toml:"plugin" help:"the plugin's command line: [\"program\", \"arg\", ...], never a shell string; a relative program or script is relative to the run file"`
	Instances    int            `toml:"instances" help:"plugin processes serving the energy; a request is split between them at chunk boundaries"`
	StartTimeout string         `toml:"start_timeout" help:"time from start to the plugin's handshake"`
	CallTimeout  string         `toml:"call_timeout" help:"time for one request; a plugin that takes longer is killed and restarted, and the request retried once"`
	SHA256       string         `toml:"sha256" help:"expected sha256 (hex) of the plugin's program, or of its script after an interpreter"`
	LogLevel     string         `toml:"log_level" help:"lowest level of the plugin's log lines shown: trace, debug, info, warn or error"`
	Config       map[string]any `toml:"config" help:"the plugin's own options ([energy.config]), checked against the schema it declares"`
}

// DefaultOptions returns the defaults of every key.
func DefaultOptions() *Options {
	return &Options{Instances: 1, StartTimeout: DefaultStartTimeout.String(), CallTimeout: DefaultCallTimeout.String(),
		LogLevel: strings.ToLower(DefaultLogLevel.String())}
}

// Validate checks the keys that need no plugin to check.
func (o *Options) Validate() error {
	switch {
	case len(o.Plugin) == 0 || o.Plugin[0] == "":
		return &framework.KeyError{Key: "plugin", Msg: "the first element must be the plugin's program: [\"path\", \"arg\", ...]"}
	case o.Instances < 1:
		return &framework.KeyError{Key: "instances", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Instances)}
	}
	for _, d := range []struct{ key, v string }{{"start_timeout", o.StartTimeout}, {"call_timeout", o.CallTimeout}} {
		if x, err := time.ParseDuration(d.v); err != nil || x <= 0 {
			return &framework.KeyError{Key: d.key, Msg: fmt.Sprintf("want a positive duration like \"30s\" or \"2m\", got %q", d.v)}
		}
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		return &framework.KeyError{Key: "log_level", Msg: err.Error()}
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "trace":
		return slog.LevelDebug - 4, nil
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("want trace, debug, info, warn or error, got %q", s)
}

// SetArgv sets the plugin's command line to argv, whose program is resolved (an absolute
// path), with the script after an interpreter made absolute by abs: so that the run starts
// the same plugin from any working directory and its resolved configuration (a run folder's
// config.toml) names exactly what ran.
func (o *Options) SetArgv(argv []string, abs func(path string) (string, error)) error {
	argv = append([]string(nil), argv...)
	if i := scriptIndex(argv); i > 0 {
		p, err := abs(argv[i])
		if err != nil {
			return &framework.KeyError{Key: "plugin", Msg: err.Error()}
		}
		argv[i] = p
	}
	o.Plugin = argv
	return nil
}

// HostConfig returns the host configuration of these options in the run's environment.
func (o *Options) HostConfig(env framework.Env) (Config, error) {
	if err := o.Validate(); err != nil {
		return Config{}, err
	}
	st, _ := time.ParseDuration(o.StartTimeout)
	ct, _ := time.ParseDuration(o.CallTimeout)
	level, _ := parseLevel(o.LogLevel)
	return Config{Argv: o.Plugin, Dir: env.Dir, Instances: o.Instances, StartTimeout: st, CallTimeout: ct,
		SHA256: o.SHA256, LogLevel: &level, Config: o.Config, Env: env}, nil
}

// Entry returns the registry entry of the plugin energy. New starts the plugin's processes;
// the energy it returns must be closed (framework.Closer). Configuration problems are
// *framework.KeyError values whose keys are relative to [energy] ("config.hidden",
// "sha256", …).
func Entry() framework.Entry[framework.Energy] {
	return framework.Entry[framework.Energy]{
		Name:    Name,
		Help:    "an energy served by a plugin process (plugin = [\"program\", ...]; see docs/plugins.md)",
		Options: func() any { return DefaultOptions() },
		New: func(opts any, env framework.Env) (framework.Energy, error) {
			cfg, err := opts.(*Options).HostConfig(env)
			if err != nil {
				return nil, err
			}
			return Open(cfg)
		},
	}
}

// Register adds the plugin energy to reg under Name.
func Register(reg *framework.Registry) {
	reg.Energies[Name] = Entry()
}
