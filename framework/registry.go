package framework

import (
	"context"
	"fmt"
	"sort"
)

// Env is what a component's constructor may need from the run beyond its own options.
type Env struct {
	Dim    int    // dimension of the data (or of [energy] dim)
	Dir    string // folder of the TOML file, for resolving relative paths in options
	Domain Domain // domain of the data, as loaded (continuous unless the data is all 0/1 or ±1)
	// Context is the run's context: a component that waits on something outside the
	// process (a plugin's requests) stops waiting when it is cancelled. Nil means
	// context.Background().
	Context context.Context
}

// Ctx returns env.Context, or context.Background() when it is nil.
func (env Env) Ctx() context.Context {
	if env.Context == nil {
		return context.Background()
	}
	return env.Context
}

// Entry describes one built-in component: its TOML name, one line of help, its options and
// its constructor.
//
// Options returns a pointer to a fresh options struct holding the defaults. Its exported
// fields carry `toml:"key"` and `help:"..."` tags; `ebm list` prints them, and the config
// loader decodes the component's TOML table into it, rejecting unknown keys. If the struct
// implements Validator, Validate is called after decoding; return a *KeyError to point
// at the offending key.
type Entry[T any] struct {
	Name    string
	Help    string
	Options func() any
	New     func(opts any, env Env) (T, error)
}

// Validator is implemented by options structs that check their values after decoding.
type Validator interface {
	Validate() error
}

// NewEntry builds the registry entry of a component from a function that returns its
// default options and a constructor that takes them by value. Options returns a pointer to
// a fresh copy of the defaults; New checks that it is given such a pointer, validates the
// options when they implement Validator, and calls build. Every built-in component is
// registered through it.
func NewEntry[T, O any](name, help string, defaults func() O, build func(O, Env) (T, error)) Entry[T] {
	return Entry[T]{
		Name: name,
		Help: help,
		Options: func() any {
			o := defaults()
			return &o
		},
		New: func(opts any, env Env) (T, error) {
			var zero T
			o, ok := opts.(*O)
			if !ok {
				return zero, fmt.Errorf("%s: options of type %T, want %T", name, opts, o)
			}
			if v, ok := any(o).(Validator); ok {
				if err := v.Validate(); err != nil {
					return zero, fmt.Errorf("%s: %w", name, err)
				}
			}
			return build(*o, env)
		},
	}
}

// KeyError is an invalid value for an option key. The config loader adds the file and line.
type KeyError struct {
	Key string
	Msg string
}

func (e *KeyError) Error() string { return fmt.Sprintf("key %s: %s", e.Key, e.Msg) }

// Registry holds the components a command can build from TOML. It is built explicitly
// (each component package has a Register function), never global.
type Registry struct {
	Energies   map[string]Entry[Energy]
	Trainers   map[string]Entry[Trainer]
	Optimizers map[string]Entry[Optimizer]
	Samplers   map[string]Entry[Sampler]

	// SamplerShared, when set, returns a pointer to a defaults-filled struct of the keys that
	// every [sampler] table may hold beside its method's own (chains, steps, warm-up, thinning).
	SamplerShared func() any
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		Energies:   map[string]Entry[Energy]{},
		Trainers:   map[string]Entry[Trainer]{},
		Optimizers: map[string]Entry[Optimizer]{},
		Samplers:   map[string]Entry[Sampler]{},
	}
}

// Names returns the sorted keys of a registry map.
func Names[T any](m map[string]Entry[T]) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
