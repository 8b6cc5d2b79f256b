package energy

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks of the vectorised elementwise kernels at lengths that are not multiples of 4
// (the last 1–3 elements go through a padded block). They use only softplusEval, expEval and
// logEval, so this file also runs unchanged in a checkout from before the kernels were split
// into files (see the report of that change for the before/after commands).

func BenchmarkSoftplusRagged(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 7))
	for _, n := range []int{7, 67, 1027} {
		z := make([]float64, n)
		for i := range z {
			z[i] = 3 * rng.NormFloat64()
		}
		h, d1, d2, d3 := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for range b.N {
				softplusEval(z, h, d1, d2, d3)
			}
		})
	}
}

func BenchmarkExpLog(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 8))
	const n = 1027
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = -8 * rng.Float64()
	}
	b.Run("exp", func(b *testing.B) {
		for range b.N {
			expEval(x, y)
		}
	})
	for i := range x {
		x[i] = 1 + 7*rng.Float64()
	}
	b.Run("log", func(b *testing.B) {
		for range b.N {
			logEval(x, y)
		}
	})
}
