package run

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// OutputDir returns the folder a fresh run of r trains into: out when it is given (a folder
// named on the command line may be anywhere), else [output] dir, else runs/<name> below the
// working directory. An output.dir set by --set may be anywhere too, and so may an absolute
// one written in the file; a relative output.dir written in a run file resolves against the
// file's folder and must stay below the working directory (a run file must not be able to
// name "../../" and train over a run elsewhere). The error of one that leaves it wraps
// ErrOutside.
func (r *Config) OutputDir(out, name string) (string, error) {
	if out != "" {
		return out, nil
	}
	v := r.Output.Dir
	if v == "" {
		return filepath.Join("runs", name), nil
	}
	if filepath.IsAbs(v) || r.Source.FromSet("output.dir") {
		return v, nil
	}
	dir := r.Path("output.dir", v)
	inside, err := below(dir)
	if err != nil {
		return "", r.Source.Locate(&Error{Key: "output.dir", Msg: err.Error()})
	}
	if !inside {
		abs, _ := filepath.Abs(dir)
		return "", r.Source.Locate(&Error{Key: "output.dir", Err: ErrOutside, Msg: fmt.Sprintf(
			"%q %v (to %s): a run file may name a folder below the working directory, or an absolute path; to train there, pass --out %s",
			v, ErrOutside, abs, abs)})
	}
	return dir, nil
}

// below reports whether path is the working directory or below it, once symbolic links in
// the part of the path that exists are resolved.
func below(path string) (bool, error) {
	wd, err := os.Getwd()
	if err != nil {
		return false, err
	}
	if w, err := filepath.EvalSymlinks(wd); err == nil {
		wd = w
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	// Resolve the longest prefix that exists; the rest cannot hold links yet.
	rest := ""
	p := abs
	for {
		if q, err := filepath.EvalSymlinks(p); err == nil {
			abs = filepath.Join(q, rest)
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil {
		return false, nil
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))), nil
}

// IsRunFile reports whether path names one of the files a run keeps in its folder
// (config.toml, params.json, metrics.jsonl, …, its lock) inside a folder that holds a run.
func IsRunFile(path string) bool {
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	if !exists(filepath.Join(dir, ConfigFile)) {
		return false
	}
	if base == LockFile || strings.HasPrefix(base, previousPrefix) {
		return true
	}
	for _, f := range runFiles {
		if base == f || strings.HasPrefix(base, "."+f+".tmp-") {
			return true
		}
	}
	return false
}

// CheckOutputs returns an error when a command that writes the files at paths (ebm sample:
// its samples and their diagnostics) would write over a run's files, or write two outputs to
// one file.
func CheckOutputs(paths map[string]string) error {
	seen := map[string]string{}
	for _, what := range slices.Sorted(maps.Keys(paths)) {
		p := paths[what]
		if IsRunFile(p) {
			return fmt.Errorf("%s %s is a file of the run in %s: write it elsewhere (--out)", what, p, filepath.Dir(p))
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		if other, ok := seen[abs]; ok {
			return fmt.Errorf("the %s and the %s would both be written to %s: choose another --out", other, what, p)
		}
		for q, other := range seen {
			if sameFile(q, abs) {
				return fmt.Errorf("the %s (%s) and the %s (%s) are the same file: choose another --out", other, q, what, p)
			}
		}
		seen[abs] = what
	}
	return nil
}

func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}
