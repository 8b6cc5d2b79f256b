package run

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Error is an invalid configuration: what is wrong, with the file and line of the key, or the
// --set flag it came from.
type Error struct {
	File string // file name, or "" for a --set override
	Line int    // 1-based line of the key in File, 0 when unknown
	Set  string // the --set argument, when the key came from one
	Key  string // full key path, e.g. trainer.sigma
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Set != "":
		fmt.Fprintf(&b, "--set %s: ", e.Set)
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %s: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Source is a TOML run file as read, with --set overrides applied, and the position of
// every key so that errors can point at it.
type Source struct {
	File string         // path as given
	Dir  string         // relative paths in the file resolve against it: File's folder, or base_dir
	Tree map[string]any // the merged key tree
	Text []byte         // the file's bytes

	lines map[string]int    // key path → line in File
	sets  map[string]string // key path → the --set argument that set it
}

// Load reads the TOML file at path and applies the --set overrides ("key.path=value"; the
// value is a TOML value, or a bare string).
func Load(path string, sets []string) (*Source, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}
	}
	return Parse(path, text, sets)
}

// Parse is Load on bytes already read; name is used in errors and to resolve relative paths.
func Parse(name string, text []byte, sets []string) (*Source, error) {
	s := &Source{File: name, Dir: filepath.Dir(name), Text: text, Tree: map[string]any{},
		lines: indexLines(text), sets: map[string]string{}}
	if _, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&s.Tree); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message + hint(pe)}
		}
		return nil, &Error{File: name, Msg: err.Error()}
	}
	for _, kv := range sets {
		if err := s.set(kv); err != nil {
			return nil, err
		}
	}
	// base_dir moves the folder relative paths resolve against (a run folder's config.toml
	// names the folder of the run file it was made from). A value of the wrong type is
	// reported by Decode.
	if d, ok := s.Tree["base_dir"].(string); ok && d != "" {
		s.Dir = s.Path("base_dir", d)
	}
	return s, nil
}

func hint(pe toml.ParseError) string {
	if pe.Usage != "" {
		return " (" + strings.TrimSpace(strings.SplitN(pe.Usage, "\n", 2)[0]) + ")"
	}
	return ""
}

// set applies one "key.path=value" override.
func (s *Source) set(kv string) error {
	key, val, ok := strings.Cut(kv, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return &Error{Set: kv, Msg: "want key.path=value, e.g. --set train.steps=500"}
	}
	var v any
	var holder map[string]any
	if _, err := toml.Decode("v = "+val, &holder); err == nil {
		v = holder["v"]
	} else {
		v = strings.TrimSpace(val) // a bare word is a string: --set trainer.method=dsm
	}
	parts := strings.Split(key, ".")
	m := s.Tree
	for i, p := range parts[:len(parts)-1] {
		next, exists := m[p]
		if !exists {
			nm := map[string]any{}
			m[p] = nm
			m = nm
			continue
		}
		nm, isMap := next.(map[string]any)
		if !isMap {
			return &Error{Set: kv, Key: strings.Join(parts[:i+1], "."), Msg: "is not a table, so it has no keys"}
		}
		m = nm
	}
	m[parts[len(parts)-1]] = v
	s.sets[key] = kv
	return nil
}

// FromSet reports whether key (or a table above it) was given by --set.
func (s *Source) FromSet(key string) bool {
	for k := key; k != ""; k = parent(k) {
		if _, ok := s.sets[k]; ok {
			return true
		}
	}
	return false
}

// Locate fills the file, line or --set of an error from its key.
func (s *Source) Locate(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	if e.File != "" || e.Set != "" {
		return err
	}
	for k := e.Key; k != ""; k = parent(k) {
		if kv, ok := s.sets[k]; ok {
			e.Set = kv
			return e
		}
		if line, ok := s.lines[k]; ok {
			e.File, e.Line = s.File, line
			return e
		}
	}
	e.File = s.File
	return e
}

// Path resolves a path-valued key: relative to the file's folder when it came from the file,
// to the working directory when it came from --set. Empty stays empty.
func (s *Source) Path(key, value string) string {
	if value == "" || filepath.IsAbs(value) {
		return value
	}
	if s.FromSet(key) {
		return value
	}
	return filepath.Join(s.Dir, value)
}

func parent(k string) string {
	if i := strings.LastIndexAny(k, ".["); i >= 0 {
		return k[:i]
	}
	return ""
}

// indexLines maps the key paths of a TOML text to their lines. It understands table headers
// and key = value lines (bare, quoted and dotted keys); keys inside inline tables and arrays
// resolve to the line of their parent key.
func indexLines(text []byte) map[string]int {
	lines := map[string]int{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	depth := 0 // open brackets of a multi-line array
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if depth > 0 {
			depth += strings.Count(line, "[") - strings.Count(line, "]")
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			h := strings.Trim(strings.SplitN(line, "#", 2)[0], " \t[]")
			table = normKey(h)
			if _, ok := lines[table]; !ok {
				lines[table] = n
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key := normKey(k)
		if table != "" {
			key = table + "." + key
		}
		if _, seen := lines[key]; !seen {
			lines[key] = n
		}
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, "[") {
			depth = strings.Count(v, "[") - strings.Count(v, "]")
		}
	}
	return lines
}

func normKey(k string) string {
	parts := strings.Split(strings.TrimSpace(k), ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}
