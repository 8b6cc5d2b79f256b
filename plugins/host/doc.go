// Package host implements the host side of goebm's energy plugins: it starts a plugin
// process (or a pool of them) through hashicorp/go-plugin over gRPC and presents it as a
// framework.Energy, so every estimator, sampler and command works on a plugin as on a
// built-in energy. Entry is its registry entry (the energy "plugin"), whose Options are the
// [energy] keys of a run file, each with one default.
//
// Open starts the processes from an argv array (never a shell), each under a supervisor on
// Linux that kills the plugin's descendants and removes its socket folder however the plugin or
// the host ends; it checks the handshake cookie, the protocol version (saying which side to
// upgrade on a mismatch) and optionally the sha256 of the plugin's program, validates the
// [energy.config] table against the schema the plugin declares and configures it.
//
// A request crosses in one round trip (framework.ChunkedEvaluator): the plugin evaluates it in
// the Evaluator's chunks and sums θ-sized outputs in chunk order, so results are bit for bit
// the same in-process, through one process or through a pool, which splits a request at chunk
// boundaries. θ is sent only when it changed, and in pieces when it exceeds the plugin's
// message limit; answers come back in pieces. Answers are checked for shape, coverage and
// finiteness; errors carry the plugin's reason (goebm.v1.ErrorDetail, matched with errors.Is
// against this package's sentinels), the request, the exit status and the last lines the
// plugin wrote to stderr. A plugin that dies or hangs past call_timeout is killed, restarted
// and the request retried once; the run's context (framework.Env.Context) stops requests in
// flight when it is cancelled. The plugin's log lines reach the host's log filtered by level
// and rate-limited.
package host
