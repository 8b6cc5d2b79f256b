package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/run"
)

func newVersionCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version [flags]",
		Short: "print the version (also ebm --version)",
		Long: `Version prints the goebm version of this ebm; --json adds the commit it was built from, the Go
version, and the vector kernels the energies use on this machine.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if asJSON {
				p := run.NewProvenance(Version)
				return writeJSON(c.OutOrStdout(), struct {
					Version     string   `json:"version"`
					Commit      string   `json:"commit,omitempty"`
					Modified    bool     `json:"commit_modified,omitempty"`
					Go          string   `json:"go"`
					OS          string   `json:"os"`
					Arch        string   `json:"arch"`
					CPUFeatures []string `json:"cpu_features"`
					Kernels     string   `json:"kernels"`
				}{p.Version, p.Commit, p.Modified, p.GoVersion, p.OS, p.Arch, p.CPUFeatures, p.Kernels})
			}
			fmt.Fprintf(c.OutOrStdout(), "ebm %s\n", Version)
			return nil
		},
	}
	jsonFlag(c.Flags(), &asJSON)
	return c
}

// noArgs is the Args of a command that takes no positional arguments.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q (see '%s --help')", args[0], c.CommandPath())
	}
	return nil
}
