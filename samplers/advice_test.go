package samplers

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Advice names the worst coordinate with its value and says what to change; it is silent
// about draws that are fine.
func TestAdvice(t *testing.T) {
	good := func() Diagnostics {
		return Diagnostics{Method: "mala", Dim: 3, Draws: 100, Warmup: 500, Acceptance: 0.57, StepSize: 0.1,
			RHat: []float64{1.001, 1.002, 1.0}, ESS: []float64{900, 800, 1000}, MCSE: []float64{0.03, 0.03, 0.03}, EnergyRHat: 1.0}
	}
	for _, tc := range []struct {
		name string
		edit func(*Diagnostics)
		n    int      // pieces of advice
		want []string // substrings of the advice
	}{
		{"fine", func(*Diagnostics) {}, 0, nil},
		{"not mixed", func(d *Diagnostics) { d.RHat = []float64{1.3, 4.7, 1.0} }, 1,
			[]string{"R̂ 4.700 on b (and 1 other coordinates above 1.01): the chains have not mixed", "raise sampler.warmup or sampler.thin"}},
		{"infinite R̂", func(d *Diagnostics) { d.RHat[2] = math.Inf(1) }, 1, []string{"R̂ +Inf on c"}},
		{"energy not mixed", func(d *Diagnostics) { d.EnergyRHat = 1.2 }, 1, []string{"R̂ 1.200 on the energy"}},
		{"few independent draws", func(d *Diagnostics) { d.ESS[0], d.MCSE[0] = 12, 0.29 }, 1,
			[]string{"ESS 12 on a: the draws hold about 12 independent ones, so the mean of a is known to ±0.29", "raise sampler.thin"}},
		{"step too large", func(d *Diagnostics) { d.Acceptance = 0.03 }, 1, []string{"acceptance 0.030", "lower sampler.step"}},
		{"fixed step too small", func(d *Diagnostics) { d.Acceptance, d.Warmup = 0.995, 0 }, 1, []string{"acceptance 0.995", "raise sampler.step"}},
		{"adapted high acceptance is fine", func(d *Diagnostics) { d.Acceptance = 0.995 }, 0, nil},
		{"gibbs acceptance is not judged", func(d *Diagnostics) { d.Method, d.Acceptance = "gibbs", 0.01 }, 0, nil},
		{"too few draws", func(d *Diagnostics) {
			d.Draws = 3
			d.RHat, d.ESS = []float64{math.NaN(), math.NaN(), math.NaN()}, []float64{math.NaN(), math.NaN(), math.NaN()}
		}, 1, []string{"only 3 draws per chain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := good()
			tc.edit(&d)
			got := d.Advice([]string{"a", "b", "c"})
			all := strings.Join(got, "\n")
			assert.Len(t, got, tc.n, all)
			for _, w := range tc.want {
				assert.Contains(t, all, w)
			}
		})
	}
	// Without names, coordinates are x1, x2, ...
	d := good()
	d.RHat[1] = 2
	assert.Contains(t, d.Advice(nil)[0], "on x2")
}
