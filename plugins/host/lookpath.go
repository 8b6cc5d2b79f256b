package host

import (
	"os/exec"
	"path/filepath"
)

// lookPath resolves a program as exec.Command would: a name with a path separator is a
// path, a bare name is searched on PATH.
func lookPath(prog string) (string, error) {
	if filepath.Base(prog) != prog {
		return prog, nil
	}
	return exec.LookPath(prog)
}
