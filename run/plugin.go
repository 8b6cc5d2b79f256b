package run

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// PluginArgv returns the command line that starts the run's plugin, with its program resolved
// once, here, to an absolute path, so that what is pinned (energy.sha256) is what runs:
//
//   - a program written with a path separator ("./dw", "../bin/dw", "bin/dw") is a file,
//     resolved against the folder relative paths of the file resolve against (the working
//     directory for --set); it is never looked up on $PATH, even when it resolves into the
//     working directory;
//   - a bare name ("python3") is looked up on $PATH, because that is what the user wrote;
//     a $PATH entry relative to the working directory is refused;
//   - a program started through env (["/usr/bin/env", "python3", "plugin.py"]) is unwrapped:
//     env's program is resolved by the rules above and runs in env's place, so that sha256
//     pins the script after an interpreter, not env. env with options or VAR=value
//     assignments cannot be unwrapped; with sha256 set it is refused.
//
// The plugin's other arguments are left as written: the plugin runs in that same folder
// (Env.Dir), so a relative script or weights file is relative to the run file.
func (r *Config) PluginArgv() ([]string, error) {
	e := r.Energy
	if len(e.Plugin) == 0 || e.Plugin[0] == "" {
		return nil, r.Source.Locate(&Error{Key: "energy.plugin", Msg: "the first element must be the plugin's program"})
	}
	prog, err := r.resolveProgram(e.Plugin[0])
	if err != nil {
		return nil, err
	}
	argv := append([]string{prog}, e.Plugin[1:]...)
	if filepath.Base(prog) != "env" || len(argv) < 2 {
		return argv, nil
	}
	if a := argv[1]; strings.HasPrefix(a, "-") || strings.Contains(a, "=") {
		if e.SHA256 != "" {
			return nil, r.Source.Locate(&Error{Key: "energy.sha256", Msg: fmt.Sprintf(
				"cannot pin a plugin started through env with options or assignments (%q): name the program (or interpreter and script) directly", a)})
		}
		return argv, nil
	}
	inner, err := r.resolveProgram(argv[1])
	if err != nil {
		return nil, err
	}
	return append([]string{inner}, argv[2:]...), nil
}

// resolveProgram applies PluginArgv's rules to one program name.
func (r *Config) resolveProgram(prog string) (string, error) {
	const key = "energy.plugin"
	if strings.ContainsRune(prog, '/') || strings.ContainsRune(prog, filepath.Separator) {
		abs, err := filepath.Abs(r.Path(key, prog))
		if err != nil {
			return "", r.Source.Locate(&Error{Key: key, Msg: fmt.Sprintf("program %q: %v", prog, err)})
		}
		return abs, nil
	}
	p, err := exec.LookPath(prog)
	switch {
	case errors.Is(err, exec.ErrDot):
		return "", r.Source.Locate(&Error{Key: key, Msg: fmt.Sprintf(
			"program %q is found on $PATH only relative to the working directory (%s): write its path, e.g. \"./%s\"", prog, p, prog)})
	case err != nil:
		return "", r.Source.Locate(&Error{Key: key, Msg: fmt.Sprintf(
			"program %q is not on $PATH: write its path (relative to the run file's folder, or absolute)", prog)})
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", r.Source.Locate(&Error{Key: key, Msg: fmt.Sprintf("program %q: %v", prog, err)})
	}
	return abs, nil
}

// PluginWarning is what `ebm validate` prints about a run file that names a plugin: a run
// file runs the program it names, with the user's rights, every time it is validated,
// trained, resumed, evaluated or sampled.
func PluginWarning(argv []string) string {
	return fmt.Sprintf("warning: this run file starts the program %s ([energy] plugin) with your rights, "+
		"and so do validate, train, train --resume, eval and sample on it or on its run folder. "+
		"Run files from others can run any program they name: read the [energy] table first, and pin the program with sha256.",
		strings.Join(quoteArgs(argv), " "))
}

func quoteArgs(argv []string) []string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") {
			q[i] = fmt.Sprintf("%q", a)
		} else {
			q[i] = a
		}
	}
	return q
}
