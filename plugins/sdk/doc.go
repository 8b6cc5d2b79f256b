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
// Serve sets the gRPC message limits to 256 MiB (WithMaxMessageBytes declares less; θ and
// answers larger than the limit then cross in pieces), evaluates each request in the host's
// chunks on all cores with framework.EvaluateChunk and sums θ-sized outputs in chunk order (so
// a plugin gives the in-process bits), serves Statistics and BlockGibbs for energies with
// those capabilities, turns errors and panics into statuses with a goebm.v1.ErrorDetail (a
// panic's carrying the stack), logs hclog-shaped JSON lines to stderr, caches θ by version, replays the
// host's random words in InitParams so θ₀ is the same as in-process, runs goebm's own
// samplers inside the plugin for the Sample request, and exits when the host goes away (its
// parent process changes, or the host's connection closes). Nothing may be printed to
// stdout before Serve: stdout carries the go-plugin handshake line.
package sdk
