package host

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Sampler returns a framework.Sampler that runs the sampler method inside the plugin when
// its chains are on this energy and the plugin offers the method, and runs local otherwise.
// Plugin-side sampling costs one round trip per Run instead of one or more per step.
//
// opts is the sampler's options struct (fields with `toml` tags), sent to the plugin as
// JSON. Each chain's randomness inside the plugin is seeded by two words drawn from that
// chain's own stream, so results do not depend on the number of plugin processes, but they
// differ from the local sampler's, whose draws are not the same.
func (e *Energy) Sampler(method string, opts any, local framework.Sampler) (framework.Sampler, error) {
	js, err := optionsJSON(opts)
	if err != nil {
		return nil, fmt.Errorf("sampler %s options: %w", method, err)
	}
	return &remoteSampler{e: e, method: method, optsJSON: js, local: local,
		offered: slices.Contains(e.desc.Samplers, method)}, nil
}

// OffersSampler reports whether the plugin runs the named sampler itself.
func (e *Energy) OffersSampler(method string) bool { return slices.Contains(e.desc.Samplers, method) }

type remoteSampler struct {
	e        *Energy
	method   string
	optsJSON string
	local    framework.Sampler
	offered  bool
}

func (s *remoteSampler) Supports(spec framework.Spec) error {
	if s.local != nil {
		return s.local.Supports(spec)
	}
	if !s.offered {
		return fmt.Errorf("plugin %s does not offer sampler %s", s.e.label, s.method)
	}
	return nil
}

func (s *remoteSampler) Run(c *framework.Chains, steps int) error {
	if !s.offered || c.Eval == nil || c.Eval.Energy() != framework.Energy(s.e) {
		if s.local == nil {
			return fmt.Errorf("plugin %s does not offer sampler %s and no local sampler was given", s.e.label, s.method)
		}
		return s.local.Run(c, steps)
	}
	n, d := c.X.Dims()
	if len(c.RNG) != n {
		return &framework.ShapeError{What: "chain streams", Want: fmt.Sprint(n), Got: fmt.Sprint(len(c.RNG))}
	}
	seeds := make([]uint64, 2*n)
	for i, r := range c.RNG {
		seeds[2*i], seeds[2*i+1] = r.Uint64(), r.Uint64()
	}
	version, thetaBytes := s.e.snapshotTheta(c.Theta)
	msg := &pb.SampleRequest{Sampler: s.method, OptionsJson: s.optsJSON, X: wire.Tensor(c.X), Steps: uint32(steps),
		Seeds: wire.AppendUint64s(nil, seeds), Adapt: c.Adapt}
	request := fmt.Sprintf("Sample(%s, %d steps, %d chains)", s.method, steps, n)
	var resp *pb.SampleResponse
	var answered *instance
	err := s.e.do(request, true, func(ctx context.Context, inst *instance, resend bool) (err error) {
		if msg.Theta, err = s.e.params(ctx, inst, version, thetaBytes, resend, s.e.inlineTheta(len(thetaBytes))); err != nil {
			return err
		}
		resp, err = inst.rpc.Sample(ctx, msg)
		if err == nil {
			if len(msg.Theta.Data) > 0 {
				inst.version.Store(version)
			}
			answered = inst
		}
		return err
	})
	if err != nil {
		return err
	}
	x, err := wire.Matrix("x", resp.X, n, d)
	if err != nil {
		return s.e.errorf(answered, request, fmt.Errorf("answer: %w", err))
	}
	if err := framework.FiniteDense("sampler states", "plugin "+s.e.label, x); err != nil {
		return s.e.errorf(answered, request, err)
	}
	c.X.Copy(x)
	if len(resp.Energy) == 8*n {
		if cap(c.Energy) < n {
			c.Energy = make([]float64, n)
		}
		c.Energy = c.Energy[:n]
		wire.CopyFloats(c.Energy, resp.Energy)
	} else {
		c.Energy = c.Energy[:0]
	}
	c.Proposed += resp.Proposed
	c.Accepted += resp.Accepted
	s.e.remote.energyRows.Add(resp.EnergyRows)
	s.e.remote.gradRows.Add(resp.GradRows)
	return nil
}

// optionsJSON encodes an options struct by its `toml` tags.
func optionsJSON(opts any) (string, error) {
	if opts == nil {
		return "{}", nil
	}
	v := reflect.ValueOf(opts)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return "", fmt.Errorf("want a struct, got %T", opts)
	}
	m := map[string]any{}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		m[tag] = v.Field(i).Interface()
	}
	return wire.ConfigJSON(m)
}
