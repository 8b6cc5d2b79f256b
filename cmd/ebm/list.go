package main

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/goebm/goebm/framework"
)

func runList(args []string, stdout, stderr io.Writer) error {
	reg := registry()
	want := map[string]bool{}
	for _, a := range args {
		want[a] = true
	}
	show := func(kind string) bool { return len(want) == 0 || want[kind] }
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
	if show("energies") {
		listKind(tw, "Energies ([energy] builtin = NAME; options in [energy.config])", reg.Energies, nil)
	}
	if show("trainers") {
		listKind(tw, "Trainers ([trainer] method = NAME)", reg.Trainers, nil)
	}
	if show("optimizers") {
		listKind(tw, "Optimizers ([optimizer] method = NAME)", reg.Optimizers, nil)
	}
	if show("samplers") {
		var shared any
		if reg.SamplerShared != nil {
			shared = reg.SamplerShared()
		}
		listKind(tw, "Samplers ([sampler] method = NAME)", reg.Samplers, shared)
	}
	return tw.Flush()
}

func listKind[T any](w io.Writer, title string, m map[string]framework.Entry[T], shared any) {
	fmt.Fprintf(w, "%s\n", title)
	for _, name := range framework.Names(m) {
		e := m[name]
		fmt.Fprintf(w, "  %s\t%s\n", name, firstLine(e.Help))
		if e.Options != nil {
			listOptions(w, e.Options())
		}
	}
	if shared != nil {
		fmt.Fprintf(w, "  (every method)\t\n")
		listOptions(w, shared)
	}
	fmt.Fprintln(w)
}

func listOptions(w io.Writer, opts any) {
	v := reflect.ValueOf(opts)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		key := strings.Split(f.Tag.Get("toml"), ",")[0]
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		fmt.Fprintf(w, "      %s = %s\t%s\n", key, tomlValue(v.Field(i)), f.Tag.Get("help"))
	}
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
	}
	return fmt.Sprint(v.Interface())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
