package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// softplusInputs returns n inputs spread over the range where softplus changes regime,
// with the special values first.
func softplusInputs(n int, rng *rand.Rand) []float64 {
	z := []float64{0, math.Copysign(0, -1), 1, -1, 1e-300, -1e-300, 5e-324, 36.7, -36.7,
		707.9, -707.9, 708, -708, 708.5, -708.5, 745.2, -745.2, 800, -800, 1e308, -1e308,
		math.Inf(1), math.Inf(-1), math.NaN(), math.Ln2 / 2, -math.Ln2 / 2}
	for len(z) < n {
		switch rng.IntN(3) {
		case 0:
			z = append(z, 8*rng.NormFloat64())
		case 1:
			z = append(z, (2*rng.Float64()-1)*720)
		default:
			z = append(z, math.Copysign(math.Exp(-40*rng.Float64()), rng.Float64()-0.5))
		}
	}
	return z
}

// The AVX2 kernel and the Go version compute the same bits, for every combination of
// outputs and every length (the last 1–3 elements go through a padded block).
func TestSoftplusKernelMatchesGeneric(t *testing.T) {
	if !haveFMA {
		t.Skip("no AVX2/FMA on this machine: only the Go version runs")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	z := softplusInputs(4000, rng)
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 11, len(z)} {
		for flags := 1; flags < 16; flags++ {
			t.Run(fmt.Sprintf("n=%d/flags=%d", n, flags), func(t *testing.T) {
				var got, want [4][]float64
				for k := range got {
					if flags&(1<<k) != 0 {
						got[k], want[k] = make([]float64, n), make([]float64, n)
					}
				}
				softplusEval(z[:n], got[0], got[1], got[2], got[3])
				softplusGeneric(z[:n], want[0], want[1], want[2], want[3])
				for k := range got {
					for i := range got[k] {
						g, w := got[k][i], want[k][i]
						if math.IsNaN(w) {
							require.True(t, math.IsNaN(g), "output %d at z = %v: %v, want NaN", k, z[i], g)
							continue
						}
						require.Equal(t, math.Float64bits(w), math.Float64bits(g), "output %d at z = %v: %v, want %v", k, z[i], g, w)
					}
				}
			})
		}
	}
}

// The outputs agree with the closed forms in the standard library to a few units in the
// last place (relative 4·2⁻⁵², absolute 10⁻³⁰⁷ where the true value is subnormal), and NaN
// in gives NaN out.
func TestSoftplusAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	z := softplusInputs(20000, rng)
	n := len(z)
	var out [4][]float64
	for k := range out {
		out[k] = make([]float64, n)
	}
	check := func(name string, got []float64) {
		for i, v := range z {
			if math.IsNaN(v) {
				assert.True(t, math.IsNaN(got[i]), "%s(NaN) = %v", name, got[i])
				continue
			}
			e := math.Exp(-math.Abs(v))
			s := 1 / (1 + e)
			if v < 0 {
				s = e / (1 + e)
			}
			var want float64
			switch name {
			case "softplus":
				want = math.Max(v, 0) + math.Log1p(e)
			case "sigmoid":
				want = s
			case "d2":
				want = e / ((1 + e) * (1 + e))
			case "d3":
				want = e / ((1 + e) * (1 + e)) * (1 - 2*s)
			}
			tol := 4*0x1p-52*math.Abs(want) + 1e-307
			if name == "d3" {
				// 1 − 2s cancels near z = 0: the error is relative to s(1−s), not to σ‴.
				tol = 8*0x1p-52*e/((1+e)*(1+e)) + 1e-307
			}
			if math.IsInf(want, 0) {
				assert.Equal(t, want, got[i], "%s(%v)", name, v)
				continue
			}
			assert.InDelta(t, want, got[i], tol, "%s(%v)", name, v)
		}
	}
	for _, impl := range []struct {
		name string
		f    func(z, h, d1, d2, d3 []float64)
	}{{"dispatch", softplusEval}, {"generic", softplusGeneric}} {
		t.Run(impl.name, func(t *testing.T) {
			impl.f(z, out[0], out[1], out[2], out[3])
			check("softplus", out[0])
			check("sigmoid", out[1])
			check("d2", out[2])
			check("d3", out[3])
		})
	}
}

func BenchmarkSoftplus(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	z := make([]float64, 256*64)
	for i := range z {
		z[i] = 3 * rng.NormFloat64()
	}
	var out [4][]float64
	for k := range out {
		out[k] = make([]float64, len(z))
	}
	for _, impl := range []struct {
		name string
		f    func(z, h, d1, d2, d3 []float64)
	}{{"kernel", softplusEval}, {"generic", softplusGeneric}, {"scalar-math", evalSoftplusMath}} {
		b.Run(impl.name, func(b *testing.B) {
			for range b.N {
				impl.f(z, out[0], out[1], out[2], nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(z)), "ns/element")
		})
	}
}

// evalSoftplusMath is the scalar softplus with the standard library, for comparison.
// softplus: σ′ = s = sigmoid(z), σ″ = s(1−s), σ‴ = s(1−s)(1−2s). With e = exp(−|z|) and
// u = 1 + e, sigmoid is 1/u (z ≥ 0) or e/u, and softplus is max(z, 0) + log1p(e), where
// log1p(e) = log(u)·e/(u − 1) corrects the rounding of u (Goldberg's trick; one log and
// one exp per element).
func evalSoftplusMath(z, h, d1, d2, d3 []float64) {
	for i, v := range z {
		e := math.Exp(-math.Abs(v))
		u := 1 + e
		r := 1 / u
		s := r
		if v < 0 {
			s = e * r
		}
		if h != nil {
			l := e
			if u != 1 {
				l = math.Log(u) * e / (u - 1)
			}
			if v > 0 {
				l += v
			}
			h[i] = l
		}
		if d1 != nil {
			d1[i] = s
		}
		if d2 != nil || d3 != nil {
			a := s * (1 - s)
			if d2 != nil {
				d2[i] = a
			}
			if d3 != nil {
				d3[i] = a * (1 - 2*s)
			}
		}
	}
}

// softplus returns log(1 + eᶻ) without overflow (the scalar reference of the tests).
func softplus(z float64) float64 {
	return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
}
