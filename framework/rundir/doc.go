// Package rundir implements run folders: training a decoded run file into a folder that holds
// its resolved config.toml, metrics.jsonl, checkpoint.json while it runs, and params.json and
// summary.json when it is done; resuming such a folder from its checkpoint; and reading a
// finished one back.
//
// Every file but metrics.jsonl is written atomically (a temporary file renamed over the
// old); metrics.jsonl is appended one whole record per write and truncated back to the
// checkpoint's record count on resume. A folder with summary.json holds a finished run.
package rundir
