// Package binstate implements the binary encoding of the state that trainers, optimizers and
// samplers save for checkpoints and for the divergence guard's snapshots
// (framework.Stateful): little-endian integers and IEEE 754 bits, lengths before slices, and
// a tag naming the component first. Every value round-trips bit for bit, NaN and ±Inf
// included, and decoding hostile bytes returns an error, never a panic or an allocation
// larger than the input.
package binstate
