package host

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goebm/goebm/framework"
)

// interpreter matches the program names of script interpreters: after one of them, the first
// argument that is not an option is the plugin's script.
var interpreter = regexp.MustCompile(`^(python[0-9.]*|pypy[0-9.]*|node(js)?|deno|bun|ruby|perl|Rscript|julia|bash|sh|dash|zsh|lua[0-9.]*|php|java)$`)

// noScript are interpreter options after which the interpreter runs no script file (a
// module, or code given on the command line).
var noScript = map[string]bool{"-m": true, "-c": true, "-e": true, "-E": true, "--eval": true}

// valued are interpreter options that take the next argument as their value.
var valued = map[string]bool{"-W": true, "-X": true, "--require": true}

// scriptIndex returns the index in argv of the script that an interpreter runs, or -1 when
// argv[0] is not an interpreter (or `env` followed by one) or runs no script file.
func scriptIndex(argv []string) int {
	k := 0
	if len(argv) > 0 && filepath.Base(argv[0]) == "env" {
		// env [-i] [-u NAME] [NAME=VALUE ...] interpreter ...
		for k = 1; k < len(argv); k++ {
			a := argv[k]
			switch {
			case a == "-u" || a == "--unset" || a == "-C" || a == "--chdir":
				k++
			case strings.HasPrefix(a, "-") || strings.Contains(a, "="):
			default:
				goto found
			}
		}
		return -1
	}
found:
	if k >= len(argv) || !interpreter.MatchString(filepath.Base(argv[k])) {
		return -1
	}
	for i := k + 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case noScript[a]:
			return -1
		case valued[a]:
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return i
		}
	}
	return -1
}

// ResolveArgv returns a copy of argv whose program, and whose script after an interpreter,
// are absolute paths: a path (a name with a separator) is resolved against dir, or the
// working directory when dir is empty; a bare program name is looked up on PATH, as exec
// would. The plugin then starts the same way from any working directory. Errors are
// *framework.KeyError values for the key "plugin".
func ResolveArgv(argv []string, dir string) ([]string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, &framework.KeyError{Key: "plugin", Msg: "empty command line: want [\"path\", \"arg\", ...]"}
	}
	out := append([]string(nil), argv...)
	abs := func(p string) (string, error) {
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		return filepath.Abs(p)
	}
	prog := out[0]
	var err error
	if filepath.Base(prog) == prog {
		if out[0], err = exec.LookPath(prog); err != nil {
			return nil, &framework.KeyError{Key: "plugin", Msg: fmt.Sprintf("%s is not a program on PATH: name it by its path", prog)}
		}
		if out[0], err = filepath.Abs(out[0]); err != nil {
			return nil, &framework.KeyError{Key: "plugin", Msg: err.Error()}
		}
	} else if out[0], err = abs(prog); err != nil {
		return nil, &framework.KeyError{Key: "plugin", Msg: err.Error()}
	}
	if i := scriptIndex(out); i > 0 {
		if out[i], err = abs(out[i]); err != nil {
			return nil, &framework.KeyError{Key: "plugin", Msg: err.Error()}
		}
	}
	return out, nil
}

// pinnedFile returns the file whose hash sha256 pins: the script after an interpreter, else
// the program. argv is resolved (ResolveArgv).
func pinnedFile(argv []string) (string, error) {
	if i := scriptIndex(argv); i > 0 {
		return argv[i], nil
	}
	if interpreter.MatchString(filepath.Base(argv[0])) {
		return "", fmt.Errorf("%s runs no script file to pin", argv[0])
	}
	return argv[0], nil
}
