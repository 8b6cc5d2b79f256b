// Package sdk implements the plugin side of goebm's energy plugins for Go authors: one call
// serves any framework.Energy over the goebm.v1 protocol, so every built-in energy can run
// as a plugin and every plugin is used like a built-in.
//
// A plugin's main does nothing but
//
//	func main() { sdk.Serve(myEnergy) }
//
// or, for an energy configured by its [energy.config] table, serves a framework.Entry whose
// Options struct declares the keys (their `toml` and `help` tags become the schema that the
// host validates the user's table against):
//
//	func main() { sdk.ServeEntry(myEntry) }
//
// Serve sets the gRPC message limits to 256 MiB, turns panics in handlers into errors that
// carry the stack, logs hclog-shaped JSON lines to stderr, caches θ by version, replays the
// host's random words in InitParams so θ₀ is the same as in-process, runs goebm's own
// samplers inside the plugin for the Sample request, and exits when the host goes away (its
// parent process changes, or the host's connection closes). Nothing may be printed to
// stdout before Serve: stdout carries the go-plugin handshake line.
package sdk
