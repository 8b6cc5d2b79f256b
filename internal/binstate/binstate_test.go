package binstate

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every value round-trips bit for bit, non-finite floats and nil slices included.
func TestRoundTrip(t *testing.T) {
	w := NewWriter("x/1")
	floats := []float64{1.5, math.NaN(), math.Inf(-1), math.Copysign(0, -1), math.SmallestNonzeroFloat64}
	w.Int(-7)
	w.Bool(true)
	w.Float(math.Inf(1))
	w.Floats(floats)
	w.Floats(nil)
	w.Floats([]float64{})
	w.Blob([]byte{1, 2, 3})
	w.String("pcd")

	r := NewReader(w.Bytes(), "x/1")
	assert.Equal(t, -7, r.Int())
	assert.True(t, r.Bool())
	assert.True(t, math.IsInf(r.Float(), 1))
	got := r.Floats()
	require.Len(t, got, len(floats))
	for i := range floats {
		assert.Equal(t, math.Float64bits(floats[i]), math.Float64bits(got[i]), "value %d", i)
	}
	assert.Nil(t, r.Floats())
	assert.NotNil(t, r.Floats())
	assert.Equal(t, []byte{1, 2, 3}, r.Blob())
	assert.Equal(t, "pcd", r.String())
	require.NoError(t, r.Err())
}

// Hostile bytes give an error wrapping ErrCorrupt: another tag, a length beyond the input,
// truncation, trailing bytes.
func TestCorrupt(t *testing.T) {
	w := NewWriter("x/1")
	w.Floats([]float64{1, 2})
	good := w.Bytes()

	r := NewReader(good, "y/1")
	r.Floats()
	assert.ErrorIs(t, r.Err(), ErrCorrupt)
	assert.ErrorContains(t, r.Err(), `state of "x/1", want "y/1"`)

	huge := NewWriter("x/1")
	huge.Int(1 << 60)
	r = NewReader(huge.Bytes(), "x/1")
	assert.Nil(t, r.Floats())
	assert.ErrorIs(t, r.Err(), ErrCorrupt)

	for n := 0; n < len(good); n++ {
		r = NewReader(good[:n], "x/1")
		r.Floats()
		assert.ErrorIs(t, r.Err(), ErrCorrupt, "truncated to %d bytes", n)
	}
	r = NewReader(append(append([]byte{}, good...), 0), "x/1")
	r.Floats()
	assert.ErrorContains(t, r.Err(), "1 bytes left over")
}

func FuzzReader(f *testing.F) {
	w := NewWriter("x/1")
	w.Floats([]float64{1})
	w.String("s")
	f.Add(w.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b, "x/1")
		r.Floats()
		_ = r.String()
		r.Bool()
		_ = r.Err()
	})
}
