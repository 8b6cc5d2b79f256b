package main

import (
	"fmt"
	"os"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/conformance"
	"github.com/goebm/goebm/plugins/host"
)

// pluginOptions are the flags of ebm plugin check and ebm plugin info.
type pluginOptions struct {
	config                    string
	dim                       int
	seed                      uint64
	callTimeout, startTimeout time.Duration
	json                      bool
}

// newPluginCmd returns `ebm plugin check|info [flags] -- ARGV...`.
func newPluginCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "plugin",
		Short: "conformance check of a plugin, or what it declares",
		Long: `Plugin runs a plugin program given after -- (never through a shell): check runs the
conformance kit (handshake, spec, shapes, gradients against finite differences, determinism,
error handling); info prints what the plugin declares. See docs/plugins.md.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	c.AddCommand(newPluginSubCmd("check", "run the conformance kit on a plugin"),
		newPluginSubCmd("info", "print what a plugin declares (spec, capabilities, options)"))
	return c
}

func newPluginSubCmd(name, short string) *cobra.Command {
	var o pluginOptions
	c := &cobra.Command{
		Use:     name + " [flags] -- ARGV...",
		Short:   short,
		Example: "  ebm plugin " + name + " --dim 2 -- bin/doublewell",
		RunE: func(c *cobra.Command, args []string) error {
			return runPlugin(c, name, args, &o)
		},
	}
	fs := c.Flags()
	fs.SetInterspersed(false) // everything after the program's path is the program's own
	fs.StringVar(&o.config, "config", "", "the [energy.config] table to configure the plugin with, as JSON or a TOML file")
	fs.IntVar(&o.dim, "dim", 0, "data dimension passed to the plugin (0: the dimension the plugin declares; a plugin that takes it from the data needs --dim)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of θ₀, the test points and the check's directions")
	fs.DurationVar(&o.callTimeout, "call-timeout", host.DefaultCallTimeout, "time for one request, as [energy] call_timeout")
	fs.DurationVar(&o.startTimeout, "start-timeout", host.DefaultStartTimeout, "time from start to handshake, as [energy] start_timeout")
	jsonFlag(fs, &o.json)
	return c
}

func runPlugin(c *cobra.Command, sub string, argv []string, o *pluginOptions) error {
	stdout := c.OutOrStdout()
	if len(argv) == 0 {
		return usagef("no plugin command: put it after --, e.g. ebm plugin %s -- bin/doublewell", sub)
	}
	cfg, err := pluginConfig(o.config)
	if err != nil {
		return usageError{err}
	}
	if o.dim < 0 || o.callTimeout <= 0 || o.startTimeout <= 0 {
		return usagef("--dim must be ≥ 0 and the timeouts positive")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if argv, err = host.ResolveArgv(argv, wd); err != nil {
		return usageError{err}
	}
	opts := conformance.Options{Config: cfg, Env: framework.Env{Dim: o.dim, Dir: wd}, Seed: o.seed,
		CallTimeout: o.callTimeout, StartTimeout: o.startTimeout}
	if sub == "info" {
		if !o.json {
			return conformance.Info(argv, opts, stdout)
		}
		d, err := conformance.Describe(argv, opts)
		if err != nil {
			return err
		}
		return writeJSON(stdout, d)
	}
	if !o.json {
		_, err = conformance.Check(argv, opts, stdout)
		return err
	}
	// The steps as they run go to stderr; stdout holds the report.
	rep, err := conformance.Check(argv, opts, c.ErrOrStderr())
	if rep != nil {
		type step struct {
			Name   string `json:"name"`
			Pass   bool   `json:"pass"`
			Warn   bool   `json:"warn,omitempty"`
			Detail string `json:"detail"`
		}
		out := struct {
			Plugin string `json:"plugin"`
			OK     bool   `json:"ok"`
			Steps  []step `json:"steps"`
		}{Plugin: rep.Plugin, OK: rep.OK(), Steps: []step{}}
		for _, s := range rep.Steps {
			out.Steps = append(out.Steps, step{s.Name, s.Pass, s.Warn, s.Detail})
		}
		if werr := writeJSON(stdout, out); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// pluginConfig reads --config: inline JSON, or a TOML file holding the table.
func pluginConfig(s string) (map[string]any, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]any{}
	if s[0] == '{' {
		m, err := conformance.ConfigFromJSON(s)
		if err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		return m, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	if _, err := toml.Decode(string(b), &m); err != nil {
		return nil, fmt.Errorf("--config %s: %w", s, err)
	}
	return m, nil
}
