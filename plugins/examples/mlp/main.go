// Command mlp serves goebm's built-in mlp energy as a plugin, to show that every built-in
// runs as a plugin and that training through a plugin gives the same numbers as in-process.
// Its [energy.config] keys are the built-in's (hidden, activation, init):
//
//	[energy]
//	plugin = ["../bin/mlp"]
//	instances = 2
//	[energy.config]
//	hidden = [64, 64]
//	activation = "softplus"
//
// An optional argument names another built-in to serve instead, e.g. ["../bin/mlp", "gaussian"].
package main

import (
	"fmt"
	"os"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/sdk"
)

func main() {
	name := "mlp"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	reg := framework.NewRegistry()
	energy.Register(reg)
	entry, ok := reg.Energies[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "no built-in energy %q; built-ins: %v\n", name, framework.Names(reg.Energies))
		os.Exit(2)
	}
	sdk.ServeEntry(entry, sdk.WithImplementation("goebm built-in "+name+" served by the Go SDK"))
}
