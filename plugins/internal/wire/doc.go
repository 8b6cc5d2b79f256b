// Package wire implements the conversions between goebm's framework types and the messages
// of the goebm.v1 plugin protocol, shared by the host and the Go SDK: float64 arrays as
// little-endian bytes, tensors with their shape, specs, config schemas and the handshake.
package wire
