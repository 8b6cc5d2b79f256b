package framework

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// MarshalJSON returns v as JSON, as encoding/json's Marshal (or MarshalIndent with two spaces
// when indent is set) writes it, except that a NaN or ±Inf float, which encoding/json refuses,
// is written as null. Every JSON file a run writes (WriteJSONAtomic, the metrics log) goes
// through it, so that no value a run can produce, a diverged loss included, stops the run from
// writing its records. Values without non-finite floats encode to exactly encoding/json's bytes.
func MarshalJSON(v any, indent bool) ([]byte, error) {
	b, err := marshalJSON(v, indent)
	var uv *json.UnsupportedValueError
	if err == nil || !errors.As(err, &uv) {
		return b, err
	}
	return marshalJSON(finiteJSON(reflect.ValueOf(v)), indent)
}

func marshalJSON(v any, indent bool) ([]byte, error) {
	if indent {
		return json.MarshalIndent(v, "", "  ")
	}
	return json.Marshal(v)
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// finiteJSON returns a value that encoding/json encodes as it would v, with every non-finite
// float replaced by null. Structs become ordered objects under encoding/json's field rules
// (tags, omitempty, "-", embedded structs), so fields keep their order.
func finiteJSON(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Type().Implements(jsonMarshaler) || v.Type().Implements(textMarshaler) {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return nil
		}
		return v.Interface()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return finiteJSON(v.Elem())
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return v.Interface()
	case reflect.Struct:
		var obj orderedObject
		appendFields(&obj, v)
		return obj
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		m := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			k := it.Key()
			var ks string
			switch {
			case k.Kind() == reflect.String:
				ks = k.String()
			case k.Type().Implements(textMarshaler):
				b, err := k.Interface().(encoding.TextMarshaler).MarshalText()
				if err != nil {
					return v.Interface() // let encoding/json report it
				}
				ks = string(b)
			case k.CanInt():
				ks = strconv.FormatInt(k.Int(), 10)
			case k.CanUint():
				ks = strconv.FormatUint(k.Uint(), 10)
			default:
				return v.Interface()
			}
			m[ks] = finiteJSON(it.Value())
		}
		return m
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface() // base64, as encoding/json writes []byte
		}
		fallthrough
	case reflect.Array:
		a := make([]any, v.Len())
		for i := range a {
			a[i] = finiteJSON(v.Index(i))
		}
		return a
	}
	return v.Interface()
}

// appendFields adds the JSON fields of struct v to obj, flattening embedded structs.
func appendFields(obj *orderedObject, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv, ft = fv.Elem(), ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				appendFields(obj, fv)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.Contains(","+opts+",", ",omitempty,") && emptyJSON(fv) {
			continue
		}
		*obj = append(*obj, jsonField{name, finiteJSON(fv)})
	}
}

// emptyJSON is encoding/json's notion of an empty value for omitempty.
func emptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Struct:
		return false
	}
	return v.IsZero()
}

type jsonField struct {
	name  string
	value any
}

// orderedObject is a JSON object that keeps its fields in order.
type orderedObject []jsonField

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.name)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		val, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
