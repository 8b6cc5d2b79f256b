package wire

import (
	"fmt"

	"github.com/goebm/goebm/framework"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// ToSpec encodes a framework.Spec.
func ToSpec(s framework.Spec) *pb.Spec {
	out := &pb.Spec{Name: s.Name, Dim: int64(s.Dim), Domain: pb.Domain(s.Domain), Capabilities: uint32(s.Caps)}
	for _, b := range s.Blocks {
		shape := make([]int64, len(b.Shape))
		for i, v := range b.Shape {
			shape[i] = int64(v)
		}
		out.Blocks = append(out.Blocks, &pb.Block{Name: b.Name, Shape: shape})
	}
	return out
}

// FromSpec decodes and checks a spec: a name, a positive dimension, a known domain, named
// blocks with non-negative shapes and known capability bits.
func FromSpec(s *pb.Spec) (framework.Spec, error) {
	if s == nil {
		return framework.Spec{}, fmt.Errorf("spec is missing")
	}
	out := framework.Spec{Name: s.Name, Dim: int(s.Dim), Domain: framework.Domain(s.Domain), Caps: framework.Capability(s.Capabilities)}
	if s.Name == "" {
		return out, fmt.Errorf("spec has no name")
	}
	if s.Dim <= 0 {
		return out, fmt.Errorf("spec %s has dimension %d, want > 0", s.Name, s.Dim)
	}
	switch out.Domain {
	case framework.Continuous, framework.Binary, framework.Spin:
	default:
		return out, fmt.Errorf("spec %s has unknown domain %d", s.Name, s.Domain)
	}
	const known = framework.CapMixed | framework.CapLaplacian | framework.CapHVP | framework.CapLinear | framework.CapBlockGibbs | framework.CapMixedSelf | framework.CapParamJac
	if bad := out.Caps &^ known; bad != 0 {
		return out, fmt.Errorf("spec %s has unknown capability bits %#x", s.Name, uint32(bad))
	}
	seen := map[string]bool{}
	for _, b := range s.Blocks {
		if b.Name == "" || seen[b.Name] {
			return out, fmt.Errorf("spec %s: block names must be unique and not empty (got %q)", s.Name, b.Name)
		}
		seen[b.Name] = true
		shape := make([]int, len(b.Shape))
		for i, v := range b.Shape {
			if v < 0 {
				return out, fmt.Errorf("spec %s: block %s has negative shape %v", s.Name, b.Name, b.Shape)
			}
			shape[i] = int(v)
		}
		out.Blocks = append(out.Blocks, framework.Block{Name: b.Name, Shape: shape})
	}
	return out, nil
}

// SpecString is a one-line description of a spec, for reports.
func SpecString(s framework.Spec) string {
	return fmt.Sprintf("%s: dim %d, %s, %d parameters in %v, capabilities [%s]",
		s.Name, s.Dim, s.Domain, s.NumParams(), s.Blocks, s.Caps)
}
