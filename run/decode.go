package run

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
)

// decodeTable decodes the TOML table m (as produced by toml.Decode into map[string]any) into
// the structs pointed to by targets. Field names come from `toml:"key"` tags. A key that no
// target has is an error, as is a value of the wrong type. skip lists keys handled elsewhere.
// path is the table's key path, used in errors.
func decodeTable(path string, m map[string]any, skip []string, targets ...any) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
outer:
	for _, k := range keys {
		for _, s := range skip {
			if s == k {
				continue outer
			}
		}
		found := false
		for _, t := range targets {
			f, ok := fieldByKey(reflect.ValueOf(t).Elem(), k)
			if !ok {
				continue
			}
			found = true
			if err := assign(join(path, k), f, m[k]); err != nil {
				return err
			}
		}
		if !found {
			return &Error{Key: join(path, k), Msg: "unknown key" + suggest(k, targets...)}
		}
	}
	return nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// fieldByKey finds the exported field of struct v tagged toml:"key".
func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if tagName(f) == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func tagName(f reflect.StructField) string {
	tag := f.Tag.Get("toml")
	if tag == "-" {
		return ""
	}
	if i := strings.IndexByte(tag, ','); i >= 0 {
		tag = tag[:i]
	}
	if tag == "" {
		return strings.ToLower(f.Name)
	}
	return tag
}

// knownKeys lists the toml keys of the targets.
func knownKeys(targets ...any) []string {
	var ks []string
	for _, t := range targets {
		v := reflect.ValueOf(t).Elem()
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.IsExported() && tagName(f) != "" {
				ks = append(ks, tagName(f))
			}
		}
	}
	sort.Strings(ks)
	return ks
}

func suggest(k string, targets ...any) string {
	ks := knownKeys(targets...)
	best, bestD := "", 3
	for _, c := range ks {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(ks) == 0 {
		return " (this table takes no keys)"
	}
	return fmt.Sprintf(" (known keys: %s)", strings.Join(ks, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// assign stores the TOML value v into the field f, converting where it is lossless.
func assign(key string, f reflect.Value, v any) error {
	bad := func() error {
		return &Error{Key: key, Msg: fmt.Sprintf("want %s, got %s %s", typeName(f.Type()), tomlType(v), short(v))}
	}
	switch f.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		f.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, ok := v.(int64)
		if !ok {
			if x, isF := v.(float64); isF && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				i, ok = int64(x), true
			}
		}
		if !ok {
			return bad()
		}
		f.SetInt(i)
	case reflect.Uint64, reflect.Uint, reflect.Uint32:
		i, ok := v.(int64)
		if !ok || i < 0 {
			if ok {
				return &Error{Key: key, Msg: fmt.Sprintf("must be ≥ 0, got %d", i)}
			}
			return bad()
		}
		f.SetUint(uint64(i))
	case reflect.Float64:
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return &Error{Key: key, Msg: fmt.Sprintf("must be a finite number, got %v", x)}
			}
			f.SetFloat(x)
		case int64:
			f.SetFloat(float64(x))
		default:
			return bad()
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			if arr2, ok2 := v.([]map[string]any); ok2 && f.Type().Elem().Kind() == reflect.Map {
				arr = make([]any, len(arr2))
				for i := range arr2 {
					arr[i] = arr2[i]
				}
			} else {
				return bad()
			}
		}
		s := reflect.MakeSlice(f.Type(), len(arr), len(arr))
		for i, e := range arr {
			if err := assign(fmt.Sprintf("%s[%d]", key, i), s.Index(i), e); err != nil {
				return err
			}
		}
		f.Set(s)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		if f.Type().Elem().Kind() != reflect.Interface {
			return bad()
		}
		f.Set(reflect.ValueOf(m))
	case reflect.Interface:
		f.Set(reflect.ValueOf(v))
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		return decodeTable(key, m, nil, f.Addr().Interface())
	case reflect.Pointer:
		if f.IsNil() {
			f.Set(reflect.New(f.Type().Elem()))
		}
		return assign(key, f.Elem(), v)
	default:
		return &Error{Key: key, Msg: fmt.Sprintf("unsupported option type %s", f.Type())}
	}
	return nil
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint64, reflect.Uint, reflect.Uint32:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "a table"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return t.String()
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "float"
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

func short(v any) string {
	switch v.(type) {
	case map[string]any, []map[string]any:
		return ""
	}
	s := fmt.Sprintf("%#v", v)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}
