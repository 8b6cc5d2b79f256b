// Command doublewell is an example goebm energy plugin in Go: a parametric double well
// (package doublewell) served with the SDK. Build it and name it in a run file:
//
//	[energy]
//	plugin = ["../bin/doublewell"]
//	[energy.config]
//	init_center = 1.5
//
// It is a plugin, not a program to run by hand: goebm starts it.
package main

import (
	"github.com/goebm/goebm/plugins/examples/doublewell/doublewell"
	"github.com/goebm/goebm/plugins/sdk"
)

func main() {
	sdk.ServeEntry(doublewell.Entry(), sdk.WithImplementation("goebm example doublewell (Go)"))
}
