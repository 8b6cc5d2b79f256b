package main

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/framework"
)

// listKinds are the kinds of component ebm list knows, in the order it prints them.
var listKinds = []string{"energies", "trainers", "optimizers", "samplers"}

func newListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [energies|trainers|optimizers|samplers]... [flags]",
		Short: "list the built-in components with their TOML keys, defaults and help",
		Long: `List prints every built-in energy, trainer (estimator), optimizer and sampler, each with the
keys of its TOML table, their defaults and what they do; with arguments, only those kinds.`,
		Example: `  ebm list
  ebm list samplers
  ebm list trainers --json`,
		ValidArgs: listKinds,
		RunE: func(c *cobra.Command, args []string) error {
			return runList(c.OutOrStdout(), args, asJSON)
		},
	}
	jsonFlag(c.Flags(), &asJSON)
	return c
}

// listedKey is one key of a component's table.
type listedKey struct {
	Key     string `json:"key"`
	Default any    `json:"default"`
	Help    string `json:"help"`
}

// listedComponent is one registry entry.
type listedComponent struct {
	Name string      `json:"name"`
	Help string      `json:"help"`
	Keys []listedKey `json:"keys"`
}

// listedKind is every entry of one kind; Shared are the keys every entry's table takes.
type listedKind struct {
	Kind       string            `json:"kind"`
	Title      string            `json:"-"`
	Components []listedComponent `json:"components"`
	Shared     []listedKey       `json:"shared_keys,omitempty"`
}

func runList(stdout io.Writer, args []string, asJSON bool) error {
	want := map[string]bool{}
	for _, a := range args {
		if !contains(listKinds, a) {
			msg := fmt.Sprintf("unknown kind %q: want one of %s", a, strings.Join(listKinds, ", "))
			for _, k := range listKinds {
				if len(a) >= 3 && strings.HasPrefix(k, a[:3]) {
					msg += fmt.Sprintf(" (did you mean %q?)", k)
				}
			}
			return usagef("%s", msg)
		}
		want[a] = true
	}
	reg := registry()
	var kinds []listedKind
	for _, kind := range listKinds {
		if len(want) > 0 && !want[kind] {
			continue
		}
		switch kind {
		case "energies":
			kinds = append(kinds, listed(kind, "Energies ([energy] builtin = NAME; options in [energy.config])", reg.Energies, nil))
		case "trainers":
			kinds = append(kinds, listed(kind, "Trainers ([trainer] method = NAME)", reg.Trainers, nil))
		case "optimizers":
			kinds = append(kinds, listed(kind, "Optimizers ([optimizer] method = NAME)", reg.Optimizers, nil))
		case "samplers":
			var shared any
			if reg.SamplerShared != nil {
				shared = reg.SamplerShared()
			}
			kinds = append(kinds, listed(kind, "Samplers ([sampler] method = NAME)", reg.Samplers, shared))
		}
	}
	if asJSON {
		return writeJSON(stdout, kinds)
	}
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s\n", k.Title)
		for _, c := range k.Components {
			fmt.Fprintf(tw, "  %s\t%s\n", c.Name, firstLine(c.Help))
			printKeys(tw, c.Keys)
		}
		if k.Shared != nil {
			fmt.Fprintf(tw, "  (every method)\t\n")
			printKeys(tw, k.Shared)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func listed[T any](kind, title string, m map[string]framework.Entry[T], shared any) listedKind {
	k := listedKind{Kind: kind, Title: title, Components: []listedComponent{}}
	for _, name := range framework.Names(m) {
		e := m[name]
		c := listedComponent{Name: name, Help: e.Help, Keys: []listedKey{}}
		if e.Options != nil {
			c.Keys = optionKeys(e.Options())
		}
		k.Components = append(k.Components, c)
	}
	if shared != nil {
		k.Shared = optionKeys(shared)
	}
	return k
}

func printKeys(w io.Writer, keys []listedKey) {
	for _, k := range keys {
		fmt.Fprintf(w, "      %s = %s\t%s\n", k.Key, tomlValue(reflect.ValueOf(k.Default)), k.Help)
	}
}

// optionKeys returns the TOML keys of an options struct with their defaults and help.
func optionKeys(opts any) []listedKey {
	keys := []listedKey{}
	v := reflect.ValueOf(opts)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return keys
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		key := strings.Split(f.Tag.Get("toml"), ",")[0]
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		if v.Field(i).Kind() == reflect.Struct { // a sub-table: its keys as table.key
			for _, k := range optionKeys(v.Field(i).Interface()) {
				k.Key = key + "." + k.Key
				keys = append(keys, k)
			}
			continue
		}
		keys = append(keys, listedKey{Key: key, Default: v.Field(i).Interface(), Help: f.Tag.Get("help")})
	}
	return keys
}

func tomlValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return fmt.Sprintf("%q", v.String())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = tomlValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		return "{}"
	case reflect.Invalid:
		return "none"
	}
	return fmt.Sprint(v.Interface())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
