package eval

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// MaxEnumerateDim is the largest dimension LogZEnumerate accepts: 2²⁴ ≈ 1.7·10⁷ states.
const MaxEnumerateDim = 24

// enumRows is the number of states in one Evaluator request of the enumeration.
const enumRows = 1 << 14

// State writes state number k of a discrete domain into dst (length d): coordinate i takes
// the high value (1, or +1 for spins) when bit i of k is set and the low value (0, or −1)
// otherwise. This is the order of examples/data/PROVENANCE.md (bit 0 is coordinate 1).
func State(dst []float64, k uint64, domain framework.Domain) { domain.State(dst, k) }

// lse accumulates log Σ exp(vᵢ) without overflow: it keeps the largest value seen and the
// sum of exp(vᵢ − max), rescaling the sum when a larger value arrives.
type lse struct {
	max, sum float64
}

func newLSE() lse { return lse{max: math.Inf(-1)} }

func (a *lse) add(v float64) {
	switch {
	case v <= a.max:
		a.sum += math.Exp(v - a.max)
	case math.IsInf(a.max, -1):
		a.max, a.sum = v, 1
	default:
		a.sum = a.sum*math.Exp(a.max-v) + 1
		a.max = v
	}
}

func (a lse) value() float64 { return a.max + math.Log(a.sum) }

// LogZEnumerate returns log Z = log Σₓ exp(−E(x; θ)) by evaluating E at every one of the 2^d
// states of a binary or spin energy, enumRows states per Evaluator request (so memory stays
// bounded and the Evaluator's workers share the work). The sum is taken in state order, so the
// result does not depend on the number of workers.
func LogZEnumerate(ev *framework.Evaluator, theta []float64) (float64, error) {
	spec := ev.Spec()
	d := spec.Dim
	if !spec.Domain.Discrete() {
		return 0, fmt.Errorf("enumeration: energy %s is %s, not binary or spin: %w", spec.Name, spec.Domain, ErrUnsupported)
	}
	if d > MaxEnumerateDim {
		return 0, fmt.Errorf("enumeration: energy %s has dimension %d, beyond %d (2^%d states): use AIS: %w",
			spec.Name, d, MaxEnumerateDim, d, ErrUnsupported)
	}
	total := uint64(1) << uint(d)
	rows := int(min(total, enumRows))
	x := mat.NewDense(rows, d, nil)
	var res framework.Result
	acc := newLSE()
	for first := uint64(0); first < total; first += uint64(rows) {
		for i := 0; i < rows; i++ {
			State(x.RawRowView(i), first+uint64(i), spec.Domain)
		}
		req := framework.Request{Outputs: framework.OutEnergy, X: x, Theta: theta}
		if err := ev.Evaluate(&req, &res); err != nil {
			return 0, fmt.Errorf("enumeration: %w", err)
		}
		for _, e := range res.Energy {
			acc.add(-e)
		}
	}
	return acc.value(), nil
}

// MeanEnergy returns the mean of E(xᵢ; θ) over the rows of x.
func MeanEnergy(ev *framework.Evaluator, theta []float64, x *mat.Dense) (float64, error) {
	var res framework.Result
	req := framework.Request{Outputs: framework.OutEnergy, X: x, Theta: theta}
	if err := ev.Evaluate(&req, &res); err != nil {
		return 0, err
	}
	s := 0.0
	for _, e := range res.Energy {
		s += e
	}
	return s / float64(len(res.Energy)), nil
}
