package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// TestGemm compares the tiled and small-dimension paths of gemm with mat.Dense.Mul for every
// transpose combination, on shapes that cross the tile and kernel-width thresholds, with strided
// operands, alpha ≠ 1 and beta ∈ {0, 1, 0.5}.
func TestGemm(t *testing.T) {
	for _, fma := range []bool{false, true} {
		if fma && !haveFMA {
			continue
		}
		t.Run(fmt.Sprintf("fma=%v", fma), func(t *testing.T) {
			defer func(old bool) { haveFMA = old }(haveFMA)
			haveFMA = fma
			testGemm(t)
		})
	}
}

func testGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	random := func(r, c int) *mat.Dense {
		// a view with stride c+2 into a larger matrix
		big := mat.NewDense(r, c+2, nil)
		for i := 0; i < r; i++ {
			for j := 0; j < c+2; j++ {
				big.Set(i, j, rng.NormFloat64())
			}
		}
		return big.Slice(0, r, 1, c+1).(*mat.Dense)
	}
	for _, sh := range [][3]int{{1, 1, 1}, {5, 3, 2}, {7, 2, 9}, {200, 70, 65}, {300, 64, 3}, {65, 200, 130}, {4, 300, 1}, {193, 65, 7}, {301, 2, 66}, {258, 1, 64}, {64, 2, 257}, {9, 5, 66}, {10, 6, 3}, {257, 64, 2}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float64{0, 1, 0.5} {
					t.Run(fmt.Sprintf("%dx%dx%d/ta=%v/tb=%v/beta=%v", m, n, k, ta, tb, beta), func(t *testing.T) {
						var a, b *mat.Dense
						tA, tB := blas.NoTrans, blas.NoTrans
						var opA, opB mat.Matrix
						if ta {
							a, tA = random(k, m), blas.Trans
							opA = a.T()
						} else {
							a = random(m, k)
							opA = a
						}
						if tb {
							b, tB = random(n, k), blas.Trans
							opB = b.T()
						} else {
							b = random(k, n)
							opB = b
						}
						c := random(m, n)
						var want mat.Dense
						want.Mul(opA, opB)
						want.Scale(1.5, &want)
						var c0 mat.Dense
						c0.Scale(beta, c)
						want.Add(&want, &c0)
						gemm(tA, tB, 1.5, a.RawMatrix(), b.RawMatrix(), beta, c.RawMatrix())
						assert.True(t, mat.EqualApprox(&want, c, 1e-12))
					})
				}
			}
		}
	}
}

// TestGemmRowIndependent checks that a row of the product does not depend on the other rows
// (the property batch consistency rests on), bit for bit, on the tiled path (70 columns)
// and on the dot-product path (1 and 2 columns, B transposed or not).
func TestGemmRowIndependent(t *testing.T) {
	for _, fma := range []bool{false, true} {
		if fma && !haveFMA {
			continue
		}
		t.Run(fmt.Sprintf("fma=%v", fma), func(t *testing.T) {
			defer func(old bool) { haveFMA = old }(haveFMA)
			haveFMA = fma
			testGemmRowIndependent(t)
		})
	}
}

func testGemmRowIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	const n, k = 300, 66
	for _, sh := range []struct {
		m  int
		tb bool
	}{{70, true}, {2, false}, {1, true}, {6, false}} {
		m := sh.m
		a := make([]float64, n*k)
		b := make([]float64, m*k)
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		tB, bm := blas.Trans, general(m, k, b)
		if !sh.tb {
			tB, bm = blas.NoTrans, general(k, m, b)
		}
		c := make([]float64, n*m)
		gemm(blas.NoTrans, tB, 1, general(n, k, a), bm, 0, general(n, m, c))
		for _, i := range []int{0, 150, 298, 299} { // 298, 299 lie outside the 4-row tiles
			one := make([]float64, m)
			gemm(blas.NoTrans, tB, 1, blas64.General{Rows: 1, Cols: k, Stride: k, Data: a[i*k : (i+1)*k]}, bm, 0, general(1, m, one))
			assert.Equal(t, c[i*m:(i+1)*m], one, "%d columns, row %d", m, i)
		}
	}
}

// TestPackPanels checks the panels of op(B) against the definition, B transposed or not, on
// shapes with and without partial panels and 4×4 edges.
func TestPackPanels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, sh := range [][2]int{{1, 1}, {8, 4}, {5, 9}, {64, 64}, {7, 3}, {12, 65}, {17, 2}} {
		n, k := sh[0], sh[1]
		for _, tb := range []bool{false, true} {
			r, c := k, n
			if tb {
				r, c = n, k
			}
			b := general(r, c+1, make([]float64, r*(c+1)))
			b.Cols = c
			for i := range b.Data {
				b.Data[i] = rng.NormFloat64()
			}
			np := (n + 7) / 8
			pan := make([]float64, np*8*k)
			for i := range pan {
				pan[i] = math.NaN()
			}
			packPanels(pan, b, tb, n, k)
			for l := 0; l < k; l++ {
				for j := 0; j < np*8; j++ {
					want := 0.0
					if j < n {
						if tb {
							want = b.Data[j*b.Stride+l]
						} else {
							want = b.Data[l*b.Stride+j]
						}
					}
					assert.Equal(t, want, pan[(j/8)*8*k+l*8+j%8], "n=%d k=%d tb=%v at (%d, %d)", n, k, tb, l, j)
				}
			}
		}
	}
}
