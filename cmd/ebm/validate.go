package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/run"
)

// validateOptions are the flags of ebm validate.
type validateOptions struct {
	sets []string
	json bool
}

func newValidateCmd() *cobra.Command {
	var o validateOptions
	c := &cobra.Command{
		Use:   "validate CONFIG.toml [flags]",
		Short: "check a run file and its data without training",
		Long: `Validate runs the checks that ebm train runs before its first step: every key of the run
file, the data files, the energy, and the components built from them. It trains nothing and
writes nothing. Exit status 0 means ebm train would start; 2 names what is wrong.`,
		Example: `  ebm validate examples/ring8-sm.toml
  ebm validate examples/ising10-pl.toml --set trainer.method=rm`,
		RunE: func(c *cobra.Command, args []string) error {
			return runValidate(c, args, &o)
		},
	}
	setFlag(c.Flags(), &o.sets, "override a key of the run file with `key=value` (repeatable)")
	jsonFlag(c.Flags(), &o.json)
	return c
}

func runValidate(c *cobra.Command, pos []string, o *validateOptions) error {
	stdout := c.OutOrStdout()
	if len(pos) != 1 {
		return usagef("want one CONFIG.toml")
	}
	reg := registry()
	cfg, err := loadConfig(pos[0], o.sets, reg)
	if err != nil {
		return err
	}
	if len(cfg.Energy.Plugin) > 0 {
		argv, err := cfg.PluginArgv()
		if err != nil {
			return usageError{err}
		}
		w := stdout
		if o.json {
			w = c.ErrOrStderr() // stdout holds only the JSON
		}
		fmt.Fprintln(w, run.PluginWarning(argv))
	}
	start := time.Now()
	built, err := run.Build(cfg, reg)
	if err != nil {
		return usageError{err}
	}
	defer built.Close()
	n, d := built.Train.X.Dims()
	if o.json {
		return writeJSON(stdout, struct {
			File    string `json:"file"`
			Valid   bool   `json:"valid"`
			Trainer string `json:"trainer"`
			Energy  string `json:"energy"`
			Params  int    `json:"params"`
			Rows    int    `json:"rows"`
			Dim     int    `json:"dim"`
			Domain  string `json:"domain"`
		}{pos[0], true, cfg.Trainer.Method, built.Spec.Name, len(built.Run.Theta), n, d, built.Train.Domain().String()})
	}
	fmt.Fprintf(stdout, "%s: valid (%s on %s, %d parameters; data %d×%d %s; checked in %s)\n", pos[0],
		cfg.Trainer.Method, built.Spec.Name, len(built.Run.Theta), n, d, built.Train.Domain(), time.Since(start).Round(time.Millisecond))
	return nil
}
