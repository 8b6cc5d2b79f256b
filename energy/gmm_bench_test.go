package energy

import (
	"math/rand/v2"
	"testing"

	"github.com/goebm/goebm/framework"
)

// BenchmarkGMMRing8 is one chunk of the Langevin workload: ∇ₓE (and E) of the ring8 mixture
// at 256 points, on one goroutine.
//
//	go test -run '^$' -bench GMMRing8 ./energy/
func BenchmarkGMMRing8(b *testing.B) {
	g := Ring8()
	rng := rand.New(rand.NewPCG(1, 2))
	x := normalPoints(rng, 256, 2, 1.5)
	for _, o := range []struct {
		name string
		out  framework.Output
	}{{"grad", framework.OutGradX}, {"energy+grad", framework.OutEnergy | framework.OutGradX}} {
		b.Run(o.name, func(b *testing.B) {
			req := framework.Request{Outputs: o.out, X: x, Theta: Ring8Params()}
			var res framework.Result
			res.Reset(o.out, 256, 2, g.numParams())
			for range b.N {
				if err := g.Evaluate(&req, &res); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/row")
		})
	}
}
