//go:build !linux

package host

import "syscall"

// sysProcAttr sets nothing outside Linux; the SDK's watchdog ends plugins whose host died.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func onSpawnThread(start func() error, release <-chan struct{}) error { return start() }

func killGroup(int) {}
