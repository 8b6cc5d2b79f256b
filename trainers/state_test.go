package trainers

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// State that holds NaN or ±Inf (Adam's second moment after a gradient of 1e160, chains that
// ran away) is saved and restored bit for bit: the divergence guard snapshots it in memory,
// in the components' binary form, where JSON would refuse it.
func TestStatesKeepNonFiniteValues(t *testing.T) {
	a, err := NewAdam(DefaultAdamOptions())
	require.NoError(t, err)
	theta := []float64{1, 2}
	a.Update(theta, []float64{1e160, 1})
	require.True(t, math.IsInf(a.v[0], 1), "g² overflowed into the second moment")
	b, err := a.MarshalBinary()
	require.NoError(t, err)
	a2, _ := NewAdam(DefaultAdamOptions())
	require.NoError(t, a2.UnmarshalBinary(b))
	assert.Equal(t, math.Float64bits(a.v[0]), math.Float64bits(a2.v[0]))
	assert.Equal(t, a.m, a2.m)
	assert.Equal(t, a.t, a2.t)

	s, _ := NewSGD(SGDOptions{LR: 0.1, Momentum: 0.5})
	s.Update(theta, []float64{math.Inf(1), 0})
	b, err = s.MarshalBinary()
	require.NoError(t, err)
	s2, _ := NewSGD(SGDOptions{LR: 0.1, Momentum: 0.5})
	require.NoError(t, s2.UnmarshalBinary(b))
	assert.True(t, math.IsInf(s2.buf[0], 1))

	pcd, _ := NewPCD(DefaultPCDOptions())
	pcd.persistent, pcd.spec = true, framework.Spec{Dim: 2}
	pcd.buf = mat.NewDense(2, 2, []float64{math.NaN(), 1, math.Inf(-1), 0})
	pcd.streamsFor(2)
	b, err = pcd.MarshalBinary()
	require.NoError(t, err)
	pcd2, _ := NewPCD(DefaultPCDOptions())
	pcd2.persistent, pcd2.spec = true, framework.Spec{Dim: 2}
	require.NoError(t, pcd2.UnmarshalBinary(b))
	assert.True(t, math.IsNaN(pcd2.buf.At(0, 0)))
	assert.True(t, math.IsInf(pcd2.buf.At(1, 0), -1))
}

// Component state cut short, padded, or from another component gives an error, never a panic
// or a buffer that does not fit the energy.
func TestStatesRefuseCorruptBytes(t *testing.T) {
	pcd, _ := NewPCD(DefaultPCDOptions())
	pcd.persistent, pcd.spec = true, framework.Spec{Dim: 2}
	pcd.buf = mat.NewDense(2, 2, []float64{1, 2, 3, 4})
	pcd.streamsFor(2)
	good, err := pcd.MarshalBinary()
	require.NoError(t, err)
	adam, _ := NewAdam(DefaultAdamOptions())
	adam.Update([]float64{1}, []float64{1})
	adamState, _ := adam.MarshalBinary()

	for n := 0; n < len(good); n++ {
		p, _ := NewPCD(DefaultPCDOptions())
		p.persistent, p.spec = true, framework.Spec{Dim: 2}
		require.NotPanics(t, func() { err = p.UnmarshalBinary(good[:n]) })
		assert.Error(t, err, "cut to %d bytes", n)
	}
	p, _ := NewPCD(DefaultPCDOptions())
	p.persistent, p.spec = true, framework.Spec{Dim: 3}
	assert.ErrorContains(t, p.UnmarshalBinary(good), "dimension 2")
	assert.Error(t, p.UnmarshalBinary(adamState))
	a, _ := NewAdam(DefaultAdamOptions())
	assert.ErrorContains(t, a.UnmarshalBinary(good), `want "adam/1"`)
	assert.Error(t, a.UnmarshalBinary(append(adamState, 0)))
}
