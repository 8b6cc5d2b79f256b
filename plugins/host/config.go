package host

import (
	"fmt"
	"log/slog"
	"time"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/goebm/goebm/framework"
)

// Defaults of Config.
const (
	DefaultStartTimeout = 60 * time.Second
	DefaultCallTimeout  = 10 * time.Minute
	// DefaultMaxRestarts is how many times in its life an energy restarts dead plugin
	// processes before it gives up.
	DefaultMaxRestarts = 10
)

// Config says how to start and talk to a plugin.
type Config struct {
	// Argv is the plugin's command line: the program and its arguments, never run through
	// a shell. The process runs in Env.Dir (the run file's folder) when it is set, so
	// relative arguments are relative to the run file.
	Argv []string
	// Instances is the number of plugin processes; zero means one.
	Instances int
	// StartTimeout bounds the time from exec to the handshake line; zero means 60 s.
	StartTimeout time.Duration
	// CallTimeout bounds one request; zero means 10 min.
	CallTimeout time.Duration
	// SHA256, when set, is the hex sha256 the plugin's program must have: argv[0], or for
	// `interpreter script …` (argv[0] is python, node, Rscript, …) the script argv[1].
	SHA256 string
	// Config is the [energy.config] table, checked against the plugin's schema.
	Config map[string]any
	// Env is the run's environment, passed to the plugin's Configure.
	Env framework.Env
	// Logger receives the plugin's stderr lines; nil means slog.Default().
	Logger *slog.Logger
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
	if out.StartTimeout < 0 || out.CallTimeout < 0 {
		return out, &framework.KeyError{Key: "start_timeout", Msg: "timeouts must not be negative"}
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
	return out, nil
}

// OpenPlugin has the signature of framework.Registry.OpenPlugin: it opens the plugin of an
// [energy] plugin = [...] table. Configuration problems are *framework.KeyError values
// whose keys are relative to [energy] ("config.hidden", "sha256", …).
func OpenPlugin(pc framework.PluginConfig, env framework.Env) (framework.Energy, error) {
	if env.Dim == 0 {
		env.Dim = pc.Dim
	}
	return Open(Config{
		Argv: pc.Argv, Instances: pc.Instances, StartTimeout: pc.StartTimeout, CallTimeout: pc.CallTimeout,
		SHA256: pc.SHA256, Config: pc.Config, Env: env,
	})
}
