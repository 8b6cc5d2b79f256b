package samplers

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// Init is a distribution of initial chain states.
//
//   - "auto": "normal" for continuous energies, "uniform" for binary and spin ones;
//   - "normal": every coordinate N(0, Scale²) (continuous energies only);
//   - "uniform": every coordinate uniform on [Low, High] for continuous energies, and
//     uniform on {0,1} or {−1,+1} for binary or spin energies;
//   - "data": a row of Data chosen uniformly at random.
type Init struct {
	Kind      string
	Scale     float64
	Low, High float64
	Data      *mat.Dense
	Domain    framework.Domain
	Dim       int
}

// kind returns Kind with "auto" resolved by the domain.
func (in *Init) kind() string {
	if in.Kind != "auto" {
		return in.Kind
	}
	if in.Domain.Discrete() {
		return "uniform"
	}
	return "normal"
}

// Check reports whether the distribution can be drawn from.
func (in *Init) Check() error {
	switch in.kind() {
	case "normal":
		if in.Domain.Discrete() {
			return fmt.Errorf("init = \"normal\" does not fit a %s energy; use \"auto\", \"uniform\" or \"data\": %w", in.Domain, framework.ErrUnsupportedDomain)
		}
		if !(in.Scale >= 0) {
			return fmt.Errorf("init = \"normal\" needs a scale ≥ 0, got %v", in.Scale)
		}
	case "uniform":
		if !in.Domain.Discrete() && !(in.High >= in.Low) {
			return fmt.Errorf("init = \"uniform\" needs low ≤ high, got [%v, %v]", in.Low, in.High)
		}
	case "data":
		if in.Data == nil {
			return fmt.Errorf("init = \"data\" needs data, and none was given")
		}
		if _, d := in.Data.Dims(); d != in.Dim {
			return fmt.Errorf("init = \"data\": the data has %d columns, the energy has dimension %d", d, in.Dim)
		}
	default:
		return fmt.Errorf("init = %q: want \"auto\", \"normal\", \"uniform\" or \"data\"", in.Kind)
	}
	return nil
}

// Row writes one initial state into dst (length Dim) using rng.
func (in *Init) Row(dst []float64, rng *rand.Rand) {
	switch in.kind() {
	case "normal":
		for j := range dst {
			dst[j] = in.Scale * rng.NormFloat64()
		}
	case "uniform":
		for j := range dst {
			switch in.Domain {
			case framework.Binary:
				dst[j] = float64(rng.IntN(2))
			case framework.Spin:
				dst[j] = float64(2*rng.IntN(2) - 1)
			default:
				dst[j] = in.Low + (in.High-in.Low)*rng.Float64()
			}
		}
	case "data":
		n, _ := in.Data.Dims()
		mat.Row(dst, rng.IntN(n), in.Data)
	}
}

// Fill writes an initial state into every row i of x from rngs[i].
func (in *Init) Fill(x *mat.Dense, rngs []*rand.Rand) {
	n, _ := x.Dims()
	for i := 0; i < n; i++ {
		in.Row(x.RawRowView(i), rngs[i])
	}
}
