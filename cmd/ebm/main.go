// Command ebm trains, samples and evaluates energy-based models described by TOML files.
//
//	ebm train CONFIG.toml [--out DIR] [--set key=value ...] | ebm train --resume RUN_DIR
//	ebm sample CONFIG.toml|RUN_DIR [--n N] [--out FILE.csv]
//	ebm eval RUN_DIR [--data FILE] [--metric a,b,...]
//	ebm study STUDY.toml [--out DIR] [--workers N] [--plan | --cell LIST | --merge | --slurm]
//	ebm validate CONFIG.toml [--set key=value ...]
//	ebm list [energies|trainers|optimizers|samplers]
//	ebm plugin check|info -- ARGV...
//	ebm bench [--peers]
//	ebm version
//
// `ebm help COMMAND` (or `ebm COMMAND --help`) describes a command and its flags. The
// command line is built with cobra; every command is declared in its own file by a
// newXxxCmd function, and does its work through the packages run, eval, study and samplers.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/run"
)

// Version is the goebm release this command belongs to. `make release` sets it at link time
// (go build -ldflags "-X main.Version=v1.2.3"); otherwise it is the module version Go
// recorded in the build (a tag, or a pseudo-version from the commit), else "dev".
var Version = ""

func init() {
	if Version == "" {
		Version = buildVersion(debug.ReadBuildInfo())
	}
	// Commands are listed in the order they are added (the order a user meets them), not
	// alphabetically.
	cobra.EnableCommandSorting = false
}

// buildVersion returns the main module's version from the build information, or "dev".
func buildVersion(bi *debug.BuildInfo, ok bool) string { return run.ModuleVersion(bi, ok) }

func main() {
	os.Exit(main1(os.Args[1:], os.Stdout, os.Stderr))
}

// main1 runs the command line args with the given standard output and error and returns
// the exit status. Errors are printed to stderr as "ebm COMMAND: error".
func main1(args []string, stdout, stderr io.Writer) int {
	cmd, err := execute(args, stdout, stderr)
	if err == nil {
		return exitOK
	}
	name := "ebm"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return exitCode(err)
}

// execute runs the command line args and returns the command that ran and its error.
func execute(args []string, stdout, stderr io.Writer) (*cobra.Command, error) {
	root := newRootCmd()
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContextC(context.WithValue(context.Background(), argsKey{}, args))
}

// newRootCmd returns the ebm command with every subcommand.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ebm",
		Short: "energy-based models, trained from TOML files",
		Long: `ebm trains, samples and evaluates energy-based models p(x; θ) ∝ exp(−E(x; θ)) described by
TOML run files, and compares estimators over grids of runs (studies).

` + exitStatusHelp,
		Example: `  ebm train examples/gauss20-sm.toml --out runs/gauss20
  ebm sample runs/gauss20 --n 1000
  ebm eval runs/gauss20
  ebm help train`,
		Version:       Version,
		SilenceErrors: true, // main1 prints errors, once, with the command's name
		SilenceUsage:  true,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(c, args[0])
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			c.SetOut(c.ErrOrStderr())
			c.Help()
			return usagef("missing command")
		},
	}
	root.SetVersionTemplate("ebm {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.SetHelpCommand(newHelpCmd())
	root.AddCommand(newTrainCmd(), newSampleCmd(), newEvalCmd(), newStudyCmd(), newValidateCmd(),
		newListCmd(), newPluginCmd(), newBenchCmd(), newVersionCmd())
	return root
}

// newHelpCmd returns `ebm help [COMMAND...]`: the command's help on stdout, exit status 0; a
// command that does not exist is a usage error with suggestions.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "describe a command and its flags",
		Long:  "Help describes a command, its arguments and its flags: ebm help COMMAND is ebm COMMAND --help.",
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil {
				return usageError{err}
			}
			if len(rest) > 0 {
				return unknownCommand(target, rest[0])
			}
			target.InitDefaultHelpFlag() // as ebm COMMAND --help shows it
			return target.Help()
		},
	}
}

// unknownCommand is the usage error for a command name that parent does not have, with the
// closest names as suggestions.
func unknownCommand(parent *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if parent.SuggestionsMinimumDistance <= 0 {
		parent.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
	}
	if s := parent.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", quoteJoin(s, " or "))
	}
	return usagef("%s; '%s --help' lists the commands", msg, parent.CommandPath())
}

// groupRunE is the RunE of a command that only groups subcommands: without one, or with an
// unknown one, it is a usage error.
func groupRunE(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		var names []string
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				names = append(names, s.Name())
			}
		}
		return usagef("missing subcommand: one of %s (see '%s --help')", strings.Join(names, ", "), c.CommandPath())
	}
	return unknownCommand(c, args[0])
}

func quoteJoin(s []string, sep string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, sep)
}
