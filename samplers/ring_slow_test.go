//go:build slow

package samplers

import (
	"testing"

	"github.com/goebm/goebm/framework"
)

// Long chains that hop between the modes of the ring, so that R̂ < 1.05 and every moment
// is judged with well-mixed chains.
func TestRing8MomentsLong(t *testing.T) {
	runRing(t, []ringCase{
		{"mala", func() (framework.Sampler, error) { return NewMALA(DefaultMALAOptions()) },
			DrawOptions{Chains: 64, Warmup: 1000, Steps: 100000, Thin: 20, Init: "normal", InitScale: 2}, 1000, 1.05},
		{"hmc", func() (framework.Sampler, error) { return NewHMC(DefaultHMCOptions()) },
			DrawOptions{Chains: 64, Warmup: 1000, Steps: 20000, Thin: 4, Init: "normal", InitScale: 2}, 1000, 1.05},
	})
}
