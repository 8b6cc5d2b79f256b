// Package conformance implements the conformance kit of goebm energy plugins, the library
// behind `ebm plugin check -- ARGV...` and `ebm plugin info -- ARGV...`, for plugin authors
// in any language.
//
// Check starts the plugin and verifies, step by step: the handshake; Describe (protocol
// version, limits); the config schema (keys, types, defaults); that bad configurations are
// refused with diagnostics naming the key; the spec; that malformed requests are errors and
// not crashes (wrong shapes, unknown outputs, a θ version the plugin never saw); InitParams
// (finite, deterministic); then, through the host as a run would use it, the energy
// contract of check/ (shapes, finiteness, determinism, batch consistency,
// concurrency, every output against finite differences); a request over gRPC's default
// 4 MiB; plugin-side sampling if offered; and a graceful shutdown. It writes a report a
// person can read and returns an error when any step failed.
package conformance
