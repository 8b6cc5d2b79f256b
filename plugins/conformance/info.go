package conformance

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/host"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Description is what a plugin says of itself (Describe), and its spec once configured; the
// JSON of `ebm plugin info --json`.
type Description struct {
	Plugin          string        `json:"plugin"`
	Implementation  string        `json:"implementation"`
	ProtocolMajor   uint32        `json:"protocol_major"`
	ProtocolMinor   uint32        `json:"protocol_minor"`
	MaxMessageBytes int64         `json:"max_message_bytes"`
	Samplers        []string      `json:"samplers"`
	Config          []ConfigField `json:"config"`
	// ConfigError says why the plugin was not configured: the options do not fit the schema,
	// or the plugin refused them. Spec is then nil.
	ConfigError string    `json:"config_error,omitempty"`
	Spec        *SpecInfo `json:"spec,omitempty"`
}

// ConfigField is one key of the plugin's [energy.config] schema.
type ConfigField struct {
	Key      string `json:"key"`
	Type     string `json:"type"`
	Default  string `json:"default"` // as JSON
	Required bool   `json:"required"`
	Help     string `json:"help"`
}

// SpecInfo is the configured energy's spec.
type SpecInfo struct {
	Name         string      `json:"name"`
	Domain       string      `json:"domain"`
	Dim          int         `json:"dim"`
	Capabilities []string    `json:"capabilities"`
	Blocks       []BlockInfo `json:"blocks"`
	NumParams    int         `json:"num_params"`
}

// BlockInfo is one parameter block.
type BlockInfo struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Size  int    `json:"size"`
}

// Describe starts the plugin argv, asks it to describe itself and, when opts.Config fits its
// schema, configures it with opts.Config and reads its spec. A plugin that refuses the
// configuration is an error; options that do not fit the schema are reported in ConfigError.
func Describe(argv []string, opts Options) (*Description, error) {
	conn, err := host.Dial(opts.hostConfig(argv))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	c := &checker{opts: opts, argv: argv, conn: conn}
	var desc *pb.DescribeResponse
	err = c.call(func(ctx context.Context) (err error) {
		desc, err = conn.RPC.Describe(ctx, &pb.DescribeRequest{HostProtocolMinor: wire.ProtocolMinor})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("describe: %w%s", err, c.stderrTail())
	}
	c.desc = desc
	d := &Description{Plugin: strings.Join(argv, " "), Implementation: desc.Implementation,
		ProtocolMajor: desc.ProtocolMajor, ProtocolMinor: desc.ProtocolMinor, MaxMessageBytes: int64(desc.MaxMessageBytes),
		Samplers: append([]string{}, desc.Samplers...), Config: []ConfigField{}}
	for _, f := range desc.ConfigSchema {
		d.Config = append(d.Config, ConfigField{Key: f.Key, Type: f.Type, Default: f.DefaultJson, Required: f.Required, Help: f.Help})
	}
	if errs := wire.CheckConfig(opts.Config, desc.ConfigSchema); len(errs) > 0 {
		d.ConfigError = fmt.Sprint(errs[0])
		return d, nil
	}
	js, err := wire.ConfigJSON(opts.Config)
	if err != nil {
		return nil, err
	}
	resp, err := c.configureRaw(js)
	if err != nil {
		return nil, fmt.Errorf("configure: %w%s", err, c.stderrTail())
	}
	if bad, _ := refused(resp); bad {
		var msgs []string
		for _, dg := range resp.Diagnostics {
			msgs = append(msgs, dg.Key+": "+dg.Message)
		}
		return nil, fmt.Errorf("the plugin refused the configuration %s: %s", js, strings.Join(msgs, "; "))
	}
	spec, err := wire.FromSpec(resp.Spec)
	if err != nil {
		return nil, fmt.Errorf("invalid spec: %w", err)
	}
	d.Spec = specInfo(spec, int(c.env().Dim))
	return d, nil
}

func specInfo(spec framework.Spec, dim int) *SpecInfo {
	s := &SpecInfo{Name: spec.Name, Domain: spec.Domain.String(), Dim: dim, NumParams: spec.NumParams(),
		Capabilities: []string{}, Blocks: []BlockInfo{}}
	if c := spec.Caps.String(); c != "" {
		s.Capabilities = strings.Split(c, ",")
	}
	for _, b := range spec.Blocks {
		s.Blocks = append(s.Blocks, BlockInfo{Name: b.Name, Shape: append([]int{}, b.Shape...), Size: b.Size()})
	}
	return s
}

// Info writes Describe's answer to w for a person: protocol, implementation, limits, samplers,
// the config schema and, configured with opts.Config (when that fits the schema), the spec.
func Info(argv []string, opts Options, w io.Writer) error {
	d, err := Describe(argv, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "plugin:          %s\n", d.Plugin)
	fmt.Fprintf(w, "implementation:  %s\n", d.Implementation)
	fmt.Fprintf(w, "protocol:        goebm.v%d, minor %d (this ebm: %d.%d)\n", d.ProtocolMajor, d.ProtocolMinor, wire.ProtocolMajor, wire.ProtocolMinor)
	fmt.Fprintf(w, "max message:     %d bytes\n", d.MaxMessageBytes)
	samplers := "none"
	if len(d.Samplers) > 0 {
		samplers = strings.Join(d.Samplers, ", ")
	}
	fmt.Fprintf(w, "samplers:        %s\n", samplers)
	if len(d.Config) == 0 {
		fmt.Fprintf(w, "config:          none ([energy.config] must be empty)\n")
	} else {
		fmt.Fprintf(w, "config ([energy.config]):\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  key\ttype\tdefault\thelp")
		for _, f := range d.Config {
			help := f.Help
			if f.Required {
				help = "(required) " + help
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Key, f.Type, f.Default, help)
		}
		tw.Flush()
	}
	if d.Spec == nil {
		fmt.Fprintf(w, "spec:            not configured: %s\n", d.ConfigError)
		return nil
	}
	s := d.Spec
	fmt.Fprintf(w, "spec (dim %d):    %s, %s, capabilities [%s]\n", s.Dim, s.Name, s.Domain, strings.Join(s.Capabilities, ","))
	for _, b := range s.Blocks {
		fmt.Fprintf(w, "  block %-10s %v (%d)\n", b.Name, b.Shape, b.Size)
	}
	fmt.Fprintf(w, "  %d parameters\n", s.NumParams)
	return nil
}
