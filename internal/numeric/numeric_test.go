package numeric

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"gonum.org/v1/gonum/mat"
)

func TestResizeReuses(t *testing.T) {
	s := make([]float64, 3, 10)
	r := Resize(s, 8)
	assert.Len(t, r, 8)
	assert.Same(t, &s[0], &r[0], "capacity suffices: same storage")
	assert.Len(t, Resize(s, 11), 11)

	m := mat.NewDense(4, 5, nil)
	assert.Same(t, m, ResizeDense(m, 4, 5))
	r2 := ResizeDense(m, 2, 3)
	assert.Same(t, &m.RawMatrix().Data[0], &r2.RawMatrix().Data[0])
	rows, cols := ResizeDense(nil, 3, 2).Dims()
	assert.Equal(t, []int{3, 2}, []int{rows, cols})
	assert.True(t, ResizeDense(m, 0, 3).IsEmpty())
}

// Softplus and Sigmoid against their definitions where those are exact in float64, and
// their limits where the definitions overflow.
func TestLogistic(t *testing.T) {
	for _, z := range []float64{-2.5, -0.3, 0, 0.7, 3} {
		assert.InEpsilon(t, math.Log(1+math.Exp(z)), Softplus(z), 1e-14, "softplus(%g)", z)
		assert.InEpsilon(t, 1/(1+math.Exp(-z)), Sigmoid(z), 1e-14, "sigmoid(%g)", z)
		assert.InDelta(t, Softplus(z)-Softplus(-z), z, 1e-12, "softplus(z) − softplus(−z) = z")
	}
	assert.Equal(t, 800.0, Softplus(800), "no overflow for large z")
	assert.Equal(t, 1.0, Sigmoid(800))
	assert.Equal(t, 0.0, Sigmoid(-800))
	// For z ≪ 0, softplus(z) = eᶻ − e²ᶻ/2 + …: full relative precision where log(1 + eᶻ) has none.
	assert.InEpsilon(t, math.Exp(-30)-math.Exp(-60)/2, Softplus(-30), 1e-15)
	// Softplus(z) = z + log1p(e^{−z}) keeps full relative precision for small e^{−z}.
	assert.Equal(t, 40+math.Exp(-40), Softplus(40))
}
