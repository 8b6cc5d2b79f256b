package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goebm/goebm/framework"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// ConfigJSON encodes a TOML table (as decoded by BurntSushi/toml: int64, float64, string,
// bool, time values, []any, map[string]any) as a JSON object in which floats always carry a
// decimal point or an exponent, so the plugin can tell 3 from 3.0. Keys are sorted.
func ConfigJSON(table map[string]any) (string, error) {
	var b bytes.Buffer
	if err := encodeValue(&b, "", table); err != nil {
		return "", err
	}
	if table == nil {
		return "{}", nil
	}
	return b.String(), nil
}

func encodeValue(b *bytes.Buffer, key string, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int32:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case float32:
		return encodeValue(b, key, float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &framework.KeyError{Key: key, Msg: fmt.Sprintf("%v cannot be passed to a plugin (JSON has no NaN or infinity)", x)}
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		b.WriteString(s)
	case string:
		j, _ := json.Marshal(x)
		b.Write(j)
	case time.Time:
		j, _ := json.Marshal(x.Format(time.RFC3339Nano))
		b.Write(j)
	case time.Duration:
		j, _ := json.Marshal(x.String())
		b.Write(j)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encodeValue(b, fmt.Sprintf("%s[%d]", key, i), e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case []map[string]any:
		s := make([]any, len(x))
		for i := range x {
			s[i] = x[i]
		}
		return encodeValue(b, key, s)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			j, _ := json.Marshal(k)
			b.Write(j)
			b.WriteByte(':')
			sub := k
			if key != "" {
				sub = key + "." + k
			}
			if err := encodeValue(b, sub, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		// Slices of concrete types ([]int64, []float64, []string …) and other values.
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			s := make([]any, rv.Len())
			for i := range s {
				s[i] = rv.Index(i).Interface()
			}
			return encodeValue(b, key, s)
		}
		return &framework.KeyError{Key: key, Msg: fmt.Sprintf("value of type %T cannot be passed to a plugin", v)}
	}
	return nil
}

// CheckConfig validates a TOML table against a plugin's declared schema: every key must be
// declared, every value must have the declared type, and every required key must be given.
// It returns the problems found as *framework.KeyError values, sorted by key.
func CheckConfig(table map[string]any, schema []*pb.ConfigField) []error {
	fields := map[string]*pb.ConfigField{}
	var names []string
	for _, f := range schema {
		fields[f.Key] = f
		names = append(names, f.Key)
	}
	sort.Strings(names)
	var errs []error
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			msg := "unknown key; the plugin accepts no configuration"
			if len(names) > 0 {
				msg = "unknown key; the plugin accepts " + strings.Join(names, ", ")
			}
			errs = append(errs, &framework.KeyError{Key: k, Msg: msg})
			continue
		}
		if !TypeMatches(f.Type, table[k]) {
			errs = append(errs, &framework.KeyError{Key: k, Msg: fmt.Sprintf("want %s, got %s", f.Type, describe(table[k]))})
		}
	}
	for _, f := range schema {
		if _, ok := table[f.Key]; f.Required && !ok {
			errs = append(errs, &framework.KeyError{Key: f.Key, Msg: "required key is missing: " + f.Help})
		}
	}
	return errs
}

// TypeMatches reports whether a TOML value fits a schema type. An integer fits a float; an
// unknown schema type accepts anything (the plugin has the last word).
func TypeMatches(typ string, v any) bool {
	if strings.HasPrefix(typ, "[]") {
		rv := reflect.ValueOf(v)
		if v == nil || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
			return false
		}
		for i := 0; i < rv.Len(); i++ {
			if !TypeMatches(typ[2:], rv.Index(i).Interface()) {
				return false
			}
		}
		return true
	}
	switch typ {
	case "bool":
		_, ok := v.(bool)
		return ok
	case "int":
		switch v.(type) {
		case int, int64, int32, uint64:
			return true
		}
		return false
	case "float":
		switch v.(type) {
		case int, int64, int32, uint64, float64, float32:
			return true
		}
		return false
	case "string", "duration":
		_, ok := v.(string)
		return ok
	case "table":
		_, ok := v.(map[string]any)
		return ok
	}
	return true
}

func describe(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case int, int64, int32, uint64:
		return "int"
	case float64, float32:
		return "float"
	case string:
		return "string"
	case map[string]any:
		return "table"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}
