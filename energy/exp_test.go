package energy

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expEval agrees with math.Exp to 2 units in the last place on x ≤ 0 (0 at and below −708,
// where math.Exp is below 3·10⁻³⁰⁸), the kernel and the Go version bit for bit, for every
// length.
func TestExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := []float64{0, math.Copysign(0, -1), -1e-300, -5e-324, -708, -707.99, -708.01, -745.2, -800,
		math.Inf(-1), math.NaN(), -math.Ln2 / 2, -math.Ln2, -1}
	for len(x) < 5003 {
		switch rng.IntN(3) {
		case 0:
			x = append(x, -math.Abs(5*rng.NormFloat64()))
		case 1:
			x = append(x, -720*rng.Float64())
		default:
			x = append(x, -math.Exp(-40*rng.Float64()))
		}
	}
	for _, n := range []int{1, 2, 3, 4, 7, len(x)} {
		got, want := make([]float64, n), make([]float64, n)
		expEval(x[:n], got)
		expGeneric(x[:n], want)
		for i := 0; i < n; i++ {
			if math.IsNaN(want[i]) {
				require.True(t, math.IsNaN(got[i]))
				continue
			}
			require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "exp(%v)", x[i])
			ref := math.Exp(x[i])
			if x[i] <= -708 {
				assert.Zero(t, got[i], "exp(%v)", x[i])
				continue
			}
			assert.InDelta(t, ref, got[i], 2*0x1p-52*ref+1e-308, "exp(%v)", x[i])
		}
	}
}

// logEval agrees with math.Log to 2 units in the last place on positive normal numbers,
// including near x = 1 where log x → 0; the kernel and the Go version bit for bit, for every
// length; NaN stays NaN.
func TestLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := []float64{1, 2, 0.5, math.Sqrt2, math.Nextafter(math.Sqrt2, 3), math.Nextafter(math.Sqrt2, 0),
		0x1p-1022, math.MaxFloat64, 8, 1 + 1e-15, 1 - 1e-16, math.NaN(), math.E}
	for len(x) < 5003 {
		switch rng.IntN(3) {
		case 0:
			x = append(x, 1+7*rng.Float64()) // the mixture's Σ e ∈ [1, K]
		case 1:
			x = append(x, math.Exp(1400*(rng.Float64()-0.5)))
		default:
			x = append(x, 1+(rng.Float64()-0.5)*1e-6)
		}
	}
	for _, n := range []int{1, 2, 3, 4, 7, len(x)} {
		got, want := make([]float64, n), make([]float64, n)
		logEval(x[:n], got)
		logGeneric(x[:n], want)
		for i := 0; i < n; i++ {
			if math.IsNaN(x[i]) {
				require.True(t, math.IsNaN(got[i]) && math.IsNaN(want[i]))
				continue
			}
			require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "log(%v)", x[i])
			ref := math.Log(x[i])
			assert.InDelta(t, ref, got[i], 2*0x1p-52*math.Abs(ref)+1e-300, "log(%v)", x[i])
		}
	}
}
