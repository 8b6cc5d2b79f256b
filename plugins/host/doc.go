// Package host implements the host side of goebm's energy plugins: it starts a plugin
// process (or a pool of them) through hashicorp/go-plugin over gRPC and presents it as a
// framework.Energy, so every estimator, sampler and command works on a plugin as on a
// built-in energy.
//
// Open starts the processes from an argv array (never a shell), checks the handshake
// cookie, the protocol version (saying which side to upgrade on a mismatch) and optionally
// the sha256 of the plugin's program, validates the [energy.config] table against the
// schema the plugin declares and configures it. Every request then crosses as one fused
// Evaluate call with the batch as little-endian float64 bytes and θ sent only when it
// changed. Answers are checked for shape and finiteness; errors name the plugin, the
// request and what was wrong, with the last lines the plugin wrote to stderr (a panic's
// stack included). A plugin that dies is restarted and an idempotent request retried
// once; a plugin that hangs past call_timeout is killed and restarted on the next request.
// Plugins die with the host (a parent-death signal on Linux, and the SDK's watchdog).
//
// A pool of N processes serves concurrent Evaluate calls, each on the least busy process.
// The framework's Evaluator splits batches into chunks of a fixed size and sums θ-sized
// outputs in chunk order, and each chunk is computed by the plugin exactly as in-process,
// so results are bit for bit the same in-process, through one process or through a pool.
package host
