package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/run"
)

// validateOptions are the flags of ebm validate: those of ebm train that change what it
// checks.
type validateOptions struct {
	out   string
	force bool
	sets  []string
	json  bool
}

func newValidateCmd() *cobra.Command {
	var o validateOptions
	c := &cobra.Command{
		Use:   "validate CONFIG.toml [flags]",
		Short: "check a run file, its data and its run folder without training",
		Long: `Validate runs every check that ebm train runs before its first step (run.Check, the same
code): every key of the run file, every data file (train, valid, test) and its shape and
domain, the energy (a plugin is started), the components built from them and their start-up,
such as an estimator that does not fit the data's domain, and the folder the run would train
into (give the --out and --force you would give ebm train). It trains nothing and writes
nothing. Exit status 0 means ebm train would start; 2 says what is wrong.`,
		Example: `  ebm validate examples/ring8-sm.toml
  ebm validate examples/ising10-pl.toml --set trainer.method=rm --out runs/ising10-rm`,
		RunE: func(c *cobra.Command, args []string) error {
			return runValidate(c, args, &o)
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.out, "out", "", "run folder `DIR` that ebm train would be given")
	fs.BoolVar(&o.force, "force", false, "as ebm train --force: a finished or interrupted run in the folder would be replaced")
	setFlag(fs, &o.sets, "override a key of the run file with `key=value` (repeatable)")
	jsonFlag(fs, &o.json)
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
	name := strings.TrimSuffix(filepath.Base(pos[0]), filepath.Ext(pos[0]))
	dir, err := cfg.OutputDir(o.out, name)
	if err != nil {
		return usageError{err}
	}
	start := time.Now()
	var built *run.Built
	if cfg.Trainer.Method == "" && cfg.Sampler != nil {
		// A file that only samples: the checks of ebm sample.
		built, err = run.BuildContext(c.Context(), cfg, reg)
	} else {
		built, err = run.Check(c.Context(), cfg, reg, dir, o.force)
	}
	if err != nil {
		return err // exitCode: every error of the checks is a usage or configuration error
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
			RunDir  string `json:"run_dir"`
		}{pos[0], true, cfg.Trainer.Method, built.Spec.Name, len(built.Run.Theta), n, d, built.Train.Domain().String(), dir})
	}
	if cfg.Trainer.Method == "" {
		fmt.Fprintf(stdout, "%s: valid for ebm sample (%s on %s, %d parameters; data %d×%d %s; checked in %s)\n", pos[0],
			cfg.Sampler.Method, built.Spec.Name, len(built.Run.Theta), n, d, built.Train.Domain(), time.Since(start).Round(time.Millisecond))
		return nil
	}
	fmt.Fprintf(stdout, "%s: valid (%s on %s, %d parameters; data %d×%d %s; would train into %s; checked in %s)\n", pos[0],
		cfg.Trainer.Method, built.Spec.Name, len(built.Run.Theta), n, d, built.Train.Domain(), dir, time.Since(start).Round(time.Millisecond))
	return nil
}
