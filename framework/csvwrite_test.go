package framework

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// WriteCSV quotes names that hold commas or quotes, and ReadCSV reads every value back bit for
// bit.
func TestWriteCSVRoundTrip(t *testing.T) {
	x := mat.NewDense(3, 2, []float64{0.1, -2.5e-300, math.Pi, 1e300, -0, 7})
	energy := []float64{1.0 / 3, -4, 5e-324}
	var b strings.Builder
	header := []string{`a,b`, `say "hi"`, "energy"}
	require.NoError(t, WriteCSV(&b, header, x, energy))
	assert.True(t, strings.HasPrefix(b.String(), `"a,b","say ""hi""",energy`+"\n"), b.String())
	ds, err := ParseCSV("t.csv", strings.NewReader(b.String()))
	require.NoError(t, err)
	assert.Equal(t, header, ds.Header)
	for i := 0; i < 3; i++ {
		assert.Equal(t, math.Float64bits(x.At(i, 0)), math.Float64bits(ds.X.At(i, 0)))
		assert.Equal(t, math.Float64bits(x.At(i, 1)), math.Float64bits(ds.X.At(i, 1)))
		assert.Equal(t, math.Float64bits(energy[i]), math.Float64bits(ds.X.At(i, 2)))
	}
	assert.Error(t, WriteCSV(&b, []string{"a"}, x))
	assert.Error(t, WriteCSV(&b, header, x, []float64{1}))
}
