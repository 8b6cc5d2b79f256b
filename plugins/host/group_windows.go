package host

import "syscall"

func groupAttr() *syscall.SysProcAttr { return nil }

func killGroup(int) {}
