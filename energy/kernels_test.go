package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// kernelInputs returns n values over a wide range of magnitudes and signs, with zeros.
func kernelInputs(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		switch rng.IntN(8) {
		case 0:
			v[i] = 0
		case 1:
			v[i] = math.Ldexp(rng.NormFloat64(), rng.IntN(80)-40)
		default:
			v[i] = rng.NormFloat64()
		}
	}
	return v
}

// requireSameBits fails unless got and want hold the same float64 bits (any NaN equal).
func requireSameBits(t *testing.T, want, got []float64, msg string, args ...any) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if math.IsNaN(want[i]) && math.IsNaN(got[i]) {
			continue
		}
		if math.Float64bits(want[i]) != math.Float64bits(got[i]) {
			t.Fatalf("%s: element %d is %v (%#x), the Go twin gives %v (%#x)", fmt.Sprintf(msg, args...), i,
				got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
		}
	}
}

// The micro-kernels kern4x8 and kern6x8 compute the bits of their Go twin kernGo, for inner
// dimensions from 0 to past the unrolling, A row-major and transposed, padded strides,
// alpha = 1 and not, and C written over or added to.
func TestKernMatchesTwin(t *testing.T) {
	if !haveFMA {
		t.Skip("no AVX2/FMA on this machine: the assembly cannot run (the Go twins are all there is)")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, mr := range []int{4, 6} {
		for _, k := range []int{0, 1, 2, 3, 5, 8, 17, 64, 129} {
			for _, trans := range []bool{false, true} {
				for _, ldb := range []int{8, 13} {
					for _, alpha := range []float64{1, -0.7} {
						for over := 0; over < 2; over++ {
							ars, acs := k+3, 1
							if trans {
								ars, acs = 1, mr+2
							}
							a := kernelInputs(rng, (mr+2)*(k+3)+1)
							b := kernelInputs(rng, ldb*max(k, 1)+8)
							const ldc = 11
							c0 := kernelInputs(rng, ldc*mr)
							got, want := append([]float64{}, c0...), append([]float64{}, c0...)
							kern(mr, k, a, ars, acs, b, ldb, got, ldc, alpha, over)
							kernGo(mr, k, a, ars, acs, b, ldb, want, ldc, alpha, over)
							requireSameBits(t, want, got, "kern%dx8 k=%d trans=%v ldb=%d alpha=%v over=%d", mr, k, trans, ldb, alpha, over)
						}
					}
				}
			}
		}
	}
}

// kdot4 computes the bits of its Go twin (dotLanes on each of four rows), and transpose4
// moves the same values as its twin, for several lengths and strides.
func TestKdotTransposeMatchTwins(t *testing.T) {
	if !haveFMA {
		t.Skip("no AVX2/FMA on this machine: the assembly cannot run (the Go twins are all there is)")
	}
	rng := rand.New(rand.NewPCG(23, 24))
	for _, k := range []int{4, 8, 12, 64, 132} {
		for _, lda := range []int{k, k + 5} {
			a := kernelInputs(rng, 3*lda+k)
			b := kernelInputs(rng, k)
			var got, want [4]float64
			kdot(k, a, lda, b, &got)
			haveFMA = false
			kdot(k, a, lda, b, &want)
			haveFMA = true
			requireSameBits(t, want[:], got[:], "kdot4 k=%d lda=%d", k, lda)
		}
	}
	for _, blocks := range []int{1, 2, 5} {
		for _, lds := range []int{4 * blocks, 4*blocks + 3} {
			const ldd = 9
			src := kernelInputs(rng, 3*lds+4*blocks)
			got, want := make([]float64, 4*blocks*ldd), make([]float64, 4*blocks*ldd)
			transpose(blocks, src, lds, got, ldd)
			haveFMA = false
			transpose(blocks, src, lds, want, ldd)
			haveFMA = true
			requireSameBits(t, want, got, "transpose4 blocks=%d lds=%d", blocks, lds)
		}
	}
}

// FuzzGemm compares gemm, for every transposition of A and B and any shape up to 80 in each
// dimension (strided operands, alpha and beta among 0, 1 and others), with a plain triple loop
// within the rounding bound of both, and, where the CPU has AVX2/FMA, the assembly path with
// the Go twins bit for bit.
func FuzzGemm(f *testing.F) {
	for _, s := range [][3]uint8{{1, 1, 1}, {5, 3, 2}, {7, 9, 1}, {64, 2, 80}, {6, 8, 0}, {13, 17, 65}, {16, 64, 2}, {3, 7, 300 % 256}} {
		for tr := uint8(0); tr < 4; tr++ {
			f.Add(s[0], s[1], s[2], tr, uint8(1), uint64(s[0])*7+uint64(tr))
		}
	}
	f.Fuzz(func(t *testing.T, m8, n8, k8, flags, ab uint8, seed uint64) {
		m, n, k := int(m8)%81, int(n8)%81, int(k8)%81
		ta, tb := flags&1 != 0, flags&2 != 0
		alpha := []float64{1, -1.5, 0, 0.3}[ab%4]
		beta := []float64{0, 1, 0.5, -2}[(ab/4)%4]
		rng := rand.New(rand.NewPCG(seed, uint64(flags)))
		mk := func(r, c int) blas64.General {
			g := blas64.General{Rows: r, Cols: c, Stride: c + int(flags>>2)%3 + 1}
			g.Data = make([]float64, max(r*g.Stride, 1))
			for i := range g.Data {
				g.Data[i] = rng.NormFloat64()
			}
			return g
		}
		var a, b blas64.General
		tA, tB := blas.NoTrans, blas.NoTrans
		if ta {
			a, tA = mk(k, m), blas.Trans
		} else {
			a = mk(m, k)
		}
		if tb {
			b, tB = mk(n, k), blas.Trans
		} else {
			b = mk(k, n)
		}
		c := mk(m, n)
		at := func(g blas64.General, tr bool, i, j int) float64 {
			if tr {
				i, j = j, i
			}
			return g.Data[i*g.Stride+j]
		}
		c0 := append([]float64{}, c.Data...)
		gemm(tA, tB, alpha, a, b, beta, c)
		const u = 0x1p-53
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s, abs := 0.0, 0.0
				for l := 0; l < k; l++ {
					p := at(a, ta, i, l) * at(b, tb, l, j)
					s += p
					abs += math.Abs(p)
				}
				old := c0[i*c.Stride+j]
				want := alpha*s + beta*old
				// Both sums carry at most k roundings of partial sums below abs, the scaling and
				// the addition of beta·C three more: |error| ≤ 2(k+3)u(|alpha|·abs + |beta·C|).
				tol := 2*float64(k+3)*u*(math.Abs(alpha)*abs+math.Abs(beta*old)) + 1e-300
				got := c.Data[i*c.Stride+j]
				if math.Abs(got-want) > tol {
					t.Fatalf("%dx%dx%d ta=%v tb=%v alpha=%v beta=%v: C(%d,%d) = %v, triple loop %v (tolerance %.3g)",
						m, n, k, ta, tb, alpha, beta, i, j, got, want, tol)
				}
			}
		}
		if !haveFMA {
			return
		}
		twin := blas64.General{Rows: m, Cols: n, Stride: c.Stride, Data: append([]float64{}, c0...)}
		haveFMA = false
		gemm(tA, tB, alpha, a, b, beta, twin)
		haveFMA = true
		requireSameBits(t, twin.Data, c.Data, "%dx%dx%d ta=%v tb=%v alpha=%v beta=%v", m, n, k, ta, tb, alpha, beta)
	})
}
