package run

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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
	Err  error // a sentinel the error wraps (ErrOutside), or nil
}

// Unwrap returns the sentinel the error wraps, if any.
func (e *Error) Unwrap() error { return e.Err }

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

// Limits on a run file, checked before it is parsed: the TOML decoder's time and memory grow
// quickly with the nesting of inline tables and arrays (a 60 KB file of nested tables took 4 GB).
const (
	MaxFileBytes = 1 << 20 // a run file is a few kilobytes
	MaxNesting   = 16      // arrays and inline tables inside one another
)

// Load reads the TOML file at path and applies the --set overrides ("key.path=value"; the
// value is a TOML value, or a bare string). A file larger than MaxFileBytes, or a device, is
// refused without reading it all.
func Load(path string, sets []string) (*Source, error) {
	text, err := readLimited(path, MaxFileBytes, 0)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return Parse(path, text, sets)
}

// readLimited reads the file at path, refusing folders, devices and files of more than max
// bytes; flags are added to the open flags (O_NOFOLLOW for files in a run folder).
func readLimited(path string, max int64, flags int) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|flags, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("cannot read: is a folder")
	}
	if !st.Mode().IsRegular() && st.Mode()&os.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("cannot read: not a regular file (%v)", st.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes: not a run file?", max)
	}
	return b, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkNesting returns an error when arrays and inline tables in text nest deeper than
// MaxNesting, with the line where they do. It skips strings and comments.
func checkNesting(text []byte) (line int, err error) {
	depth, line := 0, 1
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '\n':
			line++
		case '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
			i--
		case '"', '\'':
			q := string(c)
			if i+2 < len(text) && text[i+1] == c && text[i+2] == c {
				q = strings.Repeat(q, 3)
			}
			j := i + len(q)
			for j < len(text) && !bytes.HasPrefix(text[j:], []byte(q)) {
				if text[j] == '\\' && c == '"' {
					j++
				} else if text[j] == '\n' {
					line++
				}
				j++
			}
			i = j + len(q) - 1
		case '[', '{':
			if depth++; depth > MaxNesting {
				return line, fmt.Errorf("arrays and inline tables nest deeper than %d levels", MaxNesting)
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return 0, nil
}

// Parse is Load on bytes already read; name is used in errors and to resolve relative paths.
func Parse(name string, text []byte, sets []string) (*Source, error) {
	if len(text) > MaxFileBytes {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes: not a run file?", MaxFileBytes)}
	}
	if line, err := checkNesting(text); err != nil {
		return nil, &Error{File: name, Line: line, Msg: err.Error()}
	}
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
	if _, err := checkNesting([]byte(val)); err != nil {
		return &Error{Set: kv, Msg: err.Error()}
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
