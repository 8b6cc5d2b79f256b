//go:build !linux

package run

// machineMemory returns 0 (unknown) where the machine's memory is not read: only
// [compute] max_memory then bounds a run.
func machineMemory() int64 { return 0 }
