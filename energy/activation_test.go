package energy

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestActivations compares each activation with its closed form and its derivatives with
// central differences of the next lower one (five-point stencil, h = 1e-3).
func TestActivations(t *testing.T) {
	ref := map[activation]func(float64) float64{
		actSoftplus: func(z float64) float64 { return math.Log1p(math.Exp(z)) },
		actTanh:     math.Tanh,
		actSwish:    func(z float64) float64 { return z / (1 + math.Exp(-z)) },
	}
	zs := []float64{-30, -8, -2.5, -1, -1e-3, 0, 1e-3, 0.7, 2, 9, 30}
	n := len(zs)
	for a, f := range ref {
		t.Run(a.String(), func(t *testing.T) {
			var out [4][]float64
			for k := range out {
				out[k] = make([]float64, n)
			}
			a.eval(zs, out[0], out[1], out[2], out[3])
			for i, z := range zs {
				assert.InDelta(t, f(z), out[0][i], 1e-15*math.Max(1, math.Abs(z)), "σ(%v)", z)
				if a == actSoftplus && z < 0 {
					assert.InEpsilon(t, f(z), out[0][i], 1e-14, "relative accuracy of softplus(%v)", z)
				}
			}
			const h = 1e-3
			for k := 1; k < 4; k++ {
				at := func(z float64) float64 {
					var o [4][]float64
					for j := range o {
						o[j] = make([]float64, 1)
					}
					a.eval([]float64{z}, o[0], o[1], o[2], o[3])
					return o[k-1][0]
				}
				for i, z := range zs {
					fd := (at(z-2*h) - 8*at(z-h) + 8*at(z+h) - at(z+2*h)) / (12 * h)
					assert.InDelta(t, fd, out[k][i], 1e-9, "derivative %d at %v", k, z)
				}
			}
		})
	}
	// nil outputs are skipped
	actTanh.eval([]float64{1}, nil, nil, nil, nil)
	_, err := parseActivation("relu")
	assert.Error(t, err)
}
