package conformance

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/goebm/goebm/plugins/host"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Info starts the plugin argv, asks it to describe itself and writes what it said to w:
// protocol, implementation, limits, samplers, its config schema and, configured with
// opts.Config (when that fits the schema), its spec.
func Info(argv []string, opts Options, w io.Writer) error {
	conn, err := host.Dial(opts.hostConfig(argv))
	if err != nil {
		return err
	}
	defer conn.Close()
	c := &checker{opts: opts, argv: argv, conn: conn}
	var desc *pb.DescribeResponse
	err = c.call(func(ctx context.Context) (err error) {
		desc, err = conn.RPC.Describe(ctx, &pb.DescribeRequest{HostProtocolMinor: wire.ProtocolMinor})
		return err
	})
	if err != nil {
		return fmt.Errorf("describe: %w%s", err, c.stderrTail())
	}
	c.desc = desc
	fmt.Fprintf(w, "plugin:          %s\n", strings.Join(argv, " "))
	fmt.Fprintf(w, "implementation:  %s\n", desc.Implementation)
	fmt.Fprintf(w, "protocol:        goebm.v%d, minor %d (this ebm: %d.%d)\n", desc.ProtocolMajor, desc.ProtocolMinor, wire.ProtocolMajor, wire.ProtocolMinor)
	fmt.Fprintf(w, "max message:     %d bytes\n", desc.MaxMessageBytes)
	samplers := "none"
	if len(desc.Samplers) > 0 {
		samplers = strings.Join(desc.Samplers, ", ")
	}
	fmt.Fprintf(w, "samplers:        %s\n", samplers)
	if len(desc.ConfigSchema) == 0 {
		fmt.Fprintf(w, "config:          none ([energy.config] must be empty)\n")
	} else {
		fmt.Fprintf(w, "config ([energy.config]):\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  key\ttype\tdefault\thelp")
		for _, f := range desc.ConfigSchema {
			help := f.Help
			if f.Required {
				help = "(required) " + help
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Key, f.Type, f.DefaultJson, help)
		}
		tw.Flush()
	}
	if errs := wire.CheckConfig(opts.Config, desc.ConfigSchema); len(errs) > 0 {
		fmt.Fprintf(w, "spec:            not configured: %v\n", errs[0])
		return nil
	}
	js, err := wire.ConfigJSON(opts.Config)
	if err != nil {
		return err
	}
	resp, err := c.configureRaw(js)
	if err != nil {
		return fmt.Errorf("configure: %w%s", err, c.stderrTail())
	}
	if bad, _ := refused(resp); bad {
		for _, d := range resp.Diagnostics {
			fmt.Fprintf(w, "config error:    %s: %s\n", d.Key, d.Message)
		}
		return fmt.Errorf("the plugin refused the configuration %s", js)
	}
	spec, err := wire.FromSpec(resp.Spec)
	if err != nil {
		return fmt.Errorf("invalid spec: %w", err)
	}
	fmt.Fprintf(w, "spec (dim %d):    %s, %s, capabilities [%s]\n", c.env().Dim, spec.Name, spec.Domain, spec.Caps)
	for _, b := range spec.Blocks {
		fmt.Fprintf(w, "  block %-10s %v (%d)\n", b.Name, b.Shape, b.Size())
	}
	fmt.Fprintf(w, "  %d parameters\n", spec.NumParams())
	return nil
}
