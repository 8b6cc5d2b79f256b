//go:build !linux

package host

// supervisorPath reports that no supervisor is used: outside Linux the plugin is started
// directly, and the SDKs' watchdogs end plugins whose host died.
func supervisorPath() (string, bool) { return "", false }

const (
	supervisorEnv  = "GOEBM_PLUGIN_SUPERVISOR"
	supervisorArg0 = "goebm-plugin-supervisor"
)
