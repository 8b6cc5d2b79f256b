package run

import (
	"fmt"
	"strings"
)

// SetValue sets the key path key (e.g. "trainer.sigma") to v, a value of the form that
// BurntSushi/toml decodes into (string, int64, float64, bool, []any, map[string]any), as a
// --set flag would, creating tables on the way. A table value replaces the whole table at
// key, so the keys of one component travel together and none of the file's are left behind.
// v is copied deeply, so one value may be set into several sources.
//
// origin says where the value came from (a study file and line, say): an error about key, or
// about any key under it, is located at "--set ORIGIN" (Error.Set), and a relative path set
// this way resolves against the working directory, as for --set, so callers pass absolute
// paths.
func (s *Source) SetValue(key string, v any, origin string) error {
	parts := strings.Split(key, ".")
	for _, p := range parts {
		if p == "" {
			return &Error{Set: origin, Key: key, Msg: "empty part in key path"}
		}
	}
	m := s.Tree
	for i, p := range parts[:len(parts)-1] {
		next, ok := m[p]
		if !ok {
			nm := map[string]any{}
			m[p] = nm
			m = nm
			continue
		}
		nm, ok := next.(map[string]any)
		if !ok {
			return &Error{Set: origin, Key: strings.Join(parts[:i+1], "."), Msg: "is not a table, so it has no keys"}
		}
		m = nm
	}
	m[parts[len(parts)-1]] = deepCopy(v)
	s.sets[key] = origin
	return nil
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	case []map[string]any:
		a := make([]map[string]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e).(map[string]any)
		}
		return a
	}
	return v
}

// Lookup returns the value at the key path key of the merged tree.
func (s *Source) Lookup(key string) (any, bool) { return lookup(s.Tree, key) }

// DecodeSection decodes the table at the key path key ("" for the whole file) into the
// options structs pointed to by targets, as the run's own sections are decoded: keys are
// matched to `toml:"key"` tags, unknown keys (other than those in skip) and values of the
// wrong type are errors, and each target's Validate method, if it has one, is called. A
// missing table leaves the targets as they are. Errors carry the file and line of the key,
// or the --set (or SetValue origin) it came from.
func (s *Source) DecodeSection(key string, skip []string, targets ...any) error {
	var table map[string]any
	if key == "" {
		table = s.Tree
	} else if v, ok := lookup(s.Tree, key); ok {
		m, isMap := v.(map[string]any)
		if !isMap {
			return s.Locate(&Error{Key: key, Msg: fmt.Sprintf("want a table, got %s", tomlType(v))})
		}
		table = m
	}
	if table != nil {
		if err := decodeTable(key, table, skip, targets...); err != nil {
			return s.Locate(err)
		}
	}
	for _, t := range targets {
		if err := validate(key, t); err != nil {
			return s.Locate(err)
		}
	}
	return nil
}
