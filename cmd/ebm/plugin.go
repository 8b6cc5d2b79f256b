package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/BurntSushi/toml"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/conformance"
)

// runPlugin serves `ebm plugin check|info [flags] -- ARGV...`.
func runPlugin(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "info") {
		return usagef("want `ebm plugin check -- ARGV...` or `ebm plugin info -- ARGV...`")
	}
	sub := args[0]
	fs := flag.NewFlagSet("plugin "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgJSON := fs.String("config", "", "the [energy.config] table to configure the plugin with, as JSON or a TOML file")
	dim := fs.Int("dim", 0, "data dimension passed to the plugin (0: the plugin's own)")
	seed := fs.Uint64("seed", 1, "seed of θ₀, the test points and the check's directions")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return usagef("no plugin command: put it after --, e.g. ebm plugin %s -- bin/doublewell", sub)
	}
	cfg, err := pluginConfig(*cfgJSON)
	if err != nil {
		return usageError{err}
	}
	opts := conformance.Options{Config: cfg, Env: framework.Env{Dim: *dim}, Seed: *seed}
	if sub == "info" {
		return conformance.Info(argv, opts, stdout)
	}
	rep, err := conformance.Check(argv, opts, stdout)
	if err != nil {
		return err
	}
	_ = rep
	return nil
}

// pluginConfig reads --config: inline JSON, or a TOML file holding the table.
func pluginConfig(s string) (map[string]any, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]any{}
	if s[0] == '{' {
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("--config: not a JSON object: %w", err)
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
