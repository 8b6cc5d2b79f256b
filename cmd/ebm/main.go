// Command ebm trains, samples and evaluates energy-based models described by TOML files.
//
//	ebm train CONFIG.toml [--out DIR] [--set key=value ...] | ebm train --resume RUN_DIR
//	ebm sample CONFIG.toml|RUN_DIR --n N --out samples.csv
//	ebm eval RUN_DIR [--data FILE] [--metric a,b,...]
//	ebm study STUDY.toml [--out DIR] [--workers N] [--plan | --cell LIST | --merge | --slurm]
//	ebm plugin check|info -- ARGV...
//	ebm validate CONFIG.toml [--set key=value ...]
//	ebm list
//	ebm version
//
// Run `ebm help` for every command.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// Version is the goebm release this command belongs to. `make release` sets it at link time
// (go build -ldflags "-X main.Version=v1.2.3"); otherwise it is the module version Go
// recorded in the build (a tag, or a pseudo-version from the commit), else "dev".
var Version = ""

func init() {
	if Version == "" {
		Version = buildVersion(debug.ReadBuildInfo())
	}
}

// buildVersion returns the main module's version from the build information, or "dev".
func buildVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "dev"
	}
	return bi.Main.Version
}

// Exit codes: 0 success, 1 failure of the work, 2 bad usage or configuration.
const (
	exitOK          = 0
	exitFail        = 1
	exitUsage       = 2
	exitInterrupted = 3   // stopped by a signal after a checkpoint; resumable
	exitSignal      = 130 // a second signal: quit at once
)

type command struct {
	name, usage, help string
	run               func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"train", "ebm train CONFIG.toml [--out DIR] [--set key=value ...] [--quiet] | ebm train --resume RUN_DIR", "train a model; writes a run folder", runTrain},
		{"eval", "ebm eval RUN_DIR [--data FILE] [--metric a,b,...] [--eval FILE.toml] [--set eval.key=value ...]", "evaluate a finished run (NLL, KSD, MMD, parameter error, ...); prints JSON", runEval},
		{"study", studyUsage, "train and evaluate a grid of runs over estimators and seeds, in parallel, resumable, by any number of processes or on a Slurm cluster", runStudy},
		{"sample", "ebm sample CONFIG.toml|RUN_DIR --n N --out samples.csv [--set key=value ...]", "draw samples with the [sampler]; writes samples and diagnostics", runSample},
		{"plugin", "ebm plugin check|info [--config JSON|FILE] [--dim D] -- ARGV...", "conformance check of a plugin, or what it declares", runPlugin},
		{"bench", "ebm bench [--peers] [--repeats N] [--only w1,w2] [--json FILE]", "time the peer workloads, side by side with PyTorch and scikit-learn (--peers)", runBench},
		{"validate", "ebm validate CONFIG.toml [--set key=value ...]", "check a run file (and its data) without training", runValidate},
		{"list", "ebm list [energies|trainers|optimizers|samplers]", "list the built-in components with their TOML keys", runList},
		{"version", "ebm version", "print the version", runVersion},
	}
}

// usageError is a mistake on the command line or in a configuration: exit status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	os.Exit(main1(os.Args[1:], os.Stdout, os.Stderr))
}

func main1(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		if err == nil {
			return exitOK
		}
		fmt.Fprintf(stderr, "ebm %s: %v\n", c.name, err)
		var ue usageError
		var ie interrupted
		switch {
		case errors.As(err, &ue):
			return exitUsage
		case errors.As(err, &ie):
			return exitInterrupted
		}
		return exitFail
	}
	fmt.Fprintf(stderr, "ebm: unknown command %q\n\n", args[0])
	printHelp(stderr)
	return exitUsage
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "ebm %s: energy-based models, trained from TOML files\n\nCommands:\n", Version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n             %s\n", c.name, c.help, c.usage)
	}
	fmt.Fprintf(w, "\nExit status: 0 success, 1 failure, 2 bad usage or configuration, 3 interrupted (resumable), 130 quit at once.\n")
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fmt.Fprintf(stdout, "ebm %s\n", Version)
	return nil
}
