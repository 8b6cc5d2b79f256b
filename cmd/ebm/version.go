package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version [flags]",
		Short: "print the version (also ebm --version)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if asJSON {
				return writeJSON(c.OutOrStdout(), struct {
					Version string `json:"version"`
					Go      string `json:"go"`
					OS      string `json:"os"`
					Arch    string `json:"arch"`
				}{Version, runtime.Version(), runtime.GOOS, runtime.GOARCH})
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
