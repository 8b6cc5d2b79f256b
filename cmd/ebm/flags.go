package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Flags shared by several commands, with one wording everywhere.

// setFlag adds the repeatable --set key=value flag. Values are kept whole (a TOML array
// such as energy.config.hidden=[64,64] holds commas).
func setFlag(fs *pflag.FlagSet, p *[]string, help string) {
	fs.StringArrayVar(p, "set", nil, help)
}

// quietFlag adds --quiet.
func quietFlag(fs *pflag.FlagSet, p *bool) {
	fs.BoolVar(p, "quiet", false, "no progress display")
}

// jsonFlag adds --json: the command's result as JSON on stdout instead of text.
func jsonFlag(fs *pflag.FlagSet, p *bool) {
	fs.BoolVar(p, "json", false, "print the result as JSON on stdout")
}

// argsKey is the context key of the command line's arguments (see execute).
type argsKey struct{}

// commandLine returns the command line as the user typed it, "ebm ARGS...", for records.
func commandLine(c *cobra.Command) string {
	args, _ := c.Context().Value(argsKey{}).([]string)
	return strings.Join(append([]string{"ebm"}, args...), " ")
}
