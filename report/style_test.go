package report

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The major ticks are evenly spaced by 1, 2, 2.5 or 5 times a power of ten, about five of them
// over the range, labelled with just the digits the step needs (not 40/160/280).
func TestTicksRegular(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		labels []string
	}{
		{0, 300, []string{"0", "100", "200", "300"}},
		{0, 1, []string{"0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{-10.3, 11.7, []string{"-10", "-5", "0", "5", "10"}},
		{0.01, 0.02, []string{"0.010", "0.012", "0.014", "0.016", "0.018", "0.020"}},
		{0, 12.5, []string{"0", "2.5", "5.0", "7.5", "10.0", "12.5"}},
	} {
		var got []string
		var vals []float64
		for _, tk := range (Ticks{}).Ticks(tc.lo, tc.hi) {
			if tk.Label != "" {
				got = append(got, tk.Label)
				vals = append(vals, tk.Value)
			}
		}
		assert.Equal(t, tc.labels, got, "[%v, %v]", tc.lo, tc.hi)
		for i := 2; i < len(vals); i++ {
			assert.InDelta(t, vals[1]-vals[0], vals[i]-vals[i-1], 1e-12, "even spacing")
		}
	}
	for _, tc := range []struct{ x, want float64 }{{0.9, 1}, {1.1, 2}, {2.1, 2.5}, {3, 5}, {7, 10}, {0.031, 0.05}, {240, 250}} {
		assert.InDelta(t, tc.want, NiceStep(tc.x), 1e-12*tc.want, "%v", tc.x)
	}
	assert.NotPanics(t, func() { (Ticks{}).Ticks(1, 1); (Ticks{}).Ticks(math.Inf(-1), 0) })
}
