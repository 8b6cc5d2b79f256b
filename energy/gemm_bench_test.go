package energy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// BenchmarkGemm measures gemm on the shapes of the benchmark workloads (MLP chunks of 256 rows
// and widths 64 and 2, the Gaussian in d = 20, the RBM's 10 chains) and at 1024³, in GFLOP/s:
//
//	go test -run '^$' -bench Gemm ./energy/
func BenchmarkGemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	mk := func(r, c int) blas64.General {
		g := general(r, c, make([]float64, r*c))
		for i := range g.Data {
			g.Data[i] = rng.NormFloat64()
		}
		return g
	}
	for _, s := range []struct {
		name    string
		ta, tb  bool
		m, n, k int
	}{
		{"NN", false, false, 256, 64, 64},
		{"NT", false, true, 256, 64, 64},
		{"TN", true, false, 64, 64, 256},
		{"NT-k2", false, true, 256, 64, 2},
		{"NN-n2", false, false, 256, 2, 64},
		{"NT-n1", false, true, 256, 1, 64},
		{"TN-n2", true, false, 64, 2, 256},
		{"NN-d20", false, false, 256, 20, 20},
		{"TN-d20", true, false, 20, 20, 768},
		{"NT-rbm", false, true, 10, 64, 64},
		{"TN-rbm", true, false, 64, 64, 20},
		{"NN", false, false, 1024, 1024, 1024},
	} {
		b.Run(fmt.Sprintf("%s/%dx%dx%d", s.name, s.m, s.n, s.k), func(b *testing.B) {
			var a, bb blas64.General
			if s.ta {
				a = mk(s.k, s.m)
			} else {
				a = mk(s.m, s.k)
			}
			if s.tb {
				bb = mk(s.n, s.k)
			} else {
				bb = mk(s.k, s.n)
			}
			c := mk(s.m, s.n)
			ta, tb := blas.NoTrans, blas.NoTrans
			if s.ta {
				ta = blas.Trans
			}
			if s.tb {
				tb = blas.Trans
			}
			for range b.N {
				gemm(ta, tb, 1, a, bb, 1, c)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
