package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goebm/goebm/framework"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

var durationType = reflect.TypeOf(time.Duration(0))

// Schema describes the TOML keys of an options struct (a pointer to a struct whose exported
// fields carry `toml:"key"` and `help:"…"` tags, as framework.Entry.Options returns): key,
// type, default (the field's current value, as JSON) and help. A field tagged
// `required:"true"` is required.
func Schema(opts any) ([]*pb.ConfigField, error) {
	if opts == nil {
		return nil, nil
	}
	v := reflect.ValueOf(opts)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("options must be a pointer to a struct, got %T", opts)
	}
	v = v.Elem()
	var out []*pb.ConfigField
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		key := tomlKey(f)
		if key == "" {
			continue
		}
		def, err := json.Marshal(v.Field(i).Interface())
		if err != nil {
			def = nil
		}
		if f.Type == durationType {
			def, _ = json.Marshal(time.Duration(v.Field(i).Int()).String())
		}
		out = append(out, &pb.ConfigField{
			Key: key, Type: typeName(f.Type), DefaultJson: string(def),
			Help: f.Tag.Get("help"), Required: f.Tag.Get("required") == "true",
		})
	}
	return out, nil
}

func tomlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("toml")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return strings.ToLower(f.Name)
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "[]" + typeName(t.Elem())
	case reflect.Struct, reflect.Map:
		return "table"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return t.String()
}

// DecodeConfig decodes a JSON object (the [energy.config] table) into the options struct
// opts, with TOML's rules: keys are matched by `toml` tag, unknown keys are errors, an
// integer fits a float field but not the reverse. After decoding it calls opts.Validate()
// if there is one. Every problem is a *framework.KeyError naming the key.
func DecodeConfig(configJSON string, opts any) []error {
	if strings.TrimSpace(configJSON) == "" {
		configJSON = "{}"
	}
	dec := json.NewDecoder(strings.NewReader(configJSON))
	dec.UseNumber()
	var table map[string]any
	if err := dec.Decode(&table); err != nil {
		return []error{&framework.KeyError{Key: "", Msg: fmt.Sprintf("configuration is not a JSON object: %v", err)}}
	}
	if opts == nil {
		if len(table) == 0 {
			return nil
		}
		var errs []error
		for _, k := range sortedKeys(table) {
			errs = append(errs, &framework.KeyError{Key: k, Msg: "unknown key; the plugin accepts no configuration"})
		}
		return errs
	}
	v := reflect.ValueOf(opts)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return []error{fmt.Errorf("options must be a pointer to a struct, got %T", opts)}
	}
	errs := decodeStruct(v.Elem(), "", table)
	if len(errs) > 0 {
		return errs
	}
	if val, ok := opts.(framework.Validator); ok {
		if err := val.Validate(); err != nil {
			var ke *framework.KeyError
			if !errors.As(err, &ke) {
				err = &framework.KeyError{Key: "", Msg: err.Error()}
			}
			return []error{err}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func decodeStruct(v reflect.Value, prefix string, table map[string]any) []error {
	fields := map[string]int{}
	var names []string
	for i := 0; i < v.NumField(); i++ {
		if k := tomlKey(v.Type().Field(i)); k != "" {
			fields[k] = i
			names = append(names, k)
		}
	}
	var errs []error
	for _, k := range sortedKeys(table) {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		i, ok := fields[k]
		if !ok {
			errs = append(errs, &framework.KeyError{Key: key, Msg: "unknown key; accepted keys are " + strings.Join(names, ", ")})
			continue
		}
		if err := setValue(v.Field(i), key, table[k]); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// setValue stores a decoded JSON value into a field, converting as TOML would.
func setValue(f reflect.Value, key string, val any) error {
	bad := func(want string) error {
		return &framework.KeyError{Key: key, Msg: fmt.Sprintf("want %s, got %s", want, jsonKind(val))}
	}
	if f.Type() == durationType {
		switch x := val.(type) {
		case string:
			d, err := time.ParseDuration(x)
			if err != nil {
				return &framework.KeyError{Key: key, Msg: err.Error()}
			}
			f.SetInt(int64(d))
			return nil
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				return bad("a duration such as \"1.5s\"")
			}
			f.SetInt(n)
			return nil
		}
		return bad("a duration such as \"1.5s\"")
	}
	switch f.Kind() {
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			return bad("bool")
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		num, ok := val.(json.Number)
		if !ok || strings.ContainsAny(num.String(), ".eE") {
			return bad("int")
		}
		n, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil || f.OverflowInt(n) {
			return &framework.KeyError{Key: key, Msg: fmt.Sprintf("%s does not fit in %s", num, f.Type())}
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		num, ok := val.(json.Number)
		if !ok || strings.ContainsAny(num.String(), ".eE") {
			return bad("int")
		}
		n, err := strconv.ParseUint(num.String(), 10, 64)
		if err != nil || f.OverflowUint(n) {
			return &framework.KeyError{Key: key, Msg: fmt.Sprintf("%s does not fit in %s", num, f.Type())}
		}
		f.SetUint(n)
	case reflect.Float32, reflect.Float64:
		num, ok := val.(json.Number)
		if !ok {
			return bad("float")
		}
		x, err := num.Float64()
		if err != nil {
			return &framework.KeyError{Key: key, Msg: err.Error()}
		}
		f.SetFloat(x)
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			return bad("string")
		}
		f.SetString(s)
	case reflect.Slice:
		arr, ok := val.([]any)
		if !ok {
			return bad("array")
		}
		s := reflect.MakeSlice(f.Type(), len(arr), len(arr))
		for i, e := range arr {
			if err := setValue(s.Index(i), fmt.Sprintf("%s[%d]", key, i), e); err != nil {
				return err
			}
		}
		f.Set(s)
	case reflect.Struct:
		m, ok := val.(map[string]any)
		if !ok {
			return bad("table")
		}
		if errs := decodeStruct(f, key, m); len(errs) > 0 {
			return errs[0]
		}
	case reflect.Pointer:
		if f.IsNil() {
			f.Set(reflect.New(f.Type().Elem()))
		}
		return setValue(f.Elem(), key, val)
	default:
		return &framework.KeyError{Key: key, Msg: fmt.Sprintf("field of type %s cannot be configured", f.Type())}
	}
	return nil
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			return "float " + x.String()
		}
		return "int " + x.String()
	case string:
		return fmt.Sprintf("string %q", x)
	case []any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}
