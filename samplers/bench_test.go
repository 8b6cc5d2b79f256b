package samplers_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
	"github.com/goebm/goebm/trainers"
)

// Benchmarks of the samplers on the workloads of issue 4. Run with
//
//	go test -run '^$' -bench . -benchtime 2s ./samplers
//
// Each op is one sampler step of every chain; chain-steps/s counts chains × steps per
// second (sweeps/s for Gibbs).

// benchEnergy is a continuous target with its θ.
type benchEnergy struct {
	name  string
	e     framework.Energy
	theta []float64
}

func benchTargets(b *testing.B) []benchEnergy {
	b.Helper()
	tm, err := energy.LoadTorchMLP("../examples/data/mlp2d_init_torch_seed0.json")
	if err != nil {
		b.Fatal(err)
	}
	mlp, err := energy.NewMLP(tm.Dim, tm.Hidden, "softplus")
	if err != nil {
		b.Fatal(err)
	}
	return []benchEnergy{
		{"gmm-ring8", energy.Ring8(), energy.Ring8Params()},
		{"mlp-2-64-64-1", mlp, tm.Theta},
	}
}

// benchChains returns n chains in d dimensions, started from N(0, 1.5²).
func benchChains(e framework.Energy, theta []float64, n int) *framework.Chains {
	d := e.Spec().Dim
	c := &framework.Chains{X: mat.NewDense(n, d, nil), Theta: theta, Eval: framework.NewEvaluator(e),
		RNG: framework.Streams{Seed: 1}.Rands("bench", n)}
	in := samplers.Init{Kind: "normal", Scale: 1.5, Domain: framework.Continuous, Dim: d}
	in.Fill(c.X, c.RNG)
	return c
}

// BenchmarkLangevin is one ULA or MALA step of 4096 chains.
func BenchmarkLangevin(b *testing.B) {
	const chains = 4096
	for _, tg := range benchTargets(b) {
		for _, method := range []string{"ula", "mala"} {
			b.Run(fmt.Sprintf("%s/%s/chains=%d", method, tg.name, chains), func(b *testing.B) {
				var s framework.Sampler
				var err error
				if method == "ula" {
					s, err = samplers.NewULA(samplers.ULAOptions{Step: 0.005, NoiseScale: 1})
				} else {
					s, err = samplers.NewMALA(samplers.MALAOptions{Step: 0.005, TargetAccept: 0.574})
				}
				if err != nil {
					b.Fatal(err)
				}
				c := benchChains(tg.e, tg.theta, chains)
				if err := s.Run(c, 2); err != nil { // size the buffers
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := s.Run(c, 1); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(chains*b.N)/b.Elapsed().Seconds(), "chain-steps/s")
			})
		}
	}
}

// BenchmarkHMC is one HMC transition (10 leapfrog steps) of 4096 chains on ring8.
func BenchmarkHMC(b *testing.B) {
	const chains = 4096
	s, err := samplers.NewHMC(samplers.HMCOptions{Step: 0.3, Leapfrog: 10, TargetAccept: 0.65, Jitter: 0.2})
	if err != nil {
		b.Fatal(err)
	}
	c := benchChains(energy.Ring8(), energy.Ring8Params(), chains)
	if err := s.Run(c, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.Run(c, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(chains*b.N)/b.Elapsed().Seconds(), "chain-steps/s")
}

// BenchmarkGibbsIsing64 is one single-site sweep (64 requests, one per site) of 256 chains
// on an Ising model with d = 64 and couplings N(0, 0.1²).
func BenchmarkGibbsIsing64(b *testing.B) {
	const d, chains = 64, 256
	e, err := energy.NewIsing(d, true)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	theta := make([]float64, d+d*d)
	for i := 0; i < d; i++ {
		theta[i] = 0.1 * rng.NormFloat64()
		for j := i + 1; j < d; j++ {
			v := 0.1 * rng.NormFloat64()
			theta[d+i*d+j], theta[d+j*d+i] = v, v
		}
	}
	g, err := samplers.NewGibbs(samplers.GibbsOptions{})
	if err != nil {
		b.Fatal(err)
	}
	c := &framework.Chains{X: mat.NewDense(chains, d, nil), Theta: theta, Eval: framework.NewEvaluator(e),
		RNG: framework.Streams{Seed: 1}.Rands("bench", chains)}
	in := samplers.Init{Kind: "uniform", Domain: framework.Spin, Dim: d}
	in.Fill(c.X, c.RNG)
	if err := g.Run(c, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := g.Run(c, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sweeps/s")
	b.ReportMetric(float64(chains*b.N)/b.Elapsed().Seconds(), "chain-sweeps/s")
}

// BenchmarkPCDStepMLP is one pcd training step (k = 1 ULA step of 256 persistent chains,
// then one E and ParamVJP request on the 512 stacked rows) of the 2→64→64→1 MLP on a batch
// of 256 ring8 points.
func BenchmarkPCDStepMLP(b *testing.B) {
	const batch = 256
	tg := benchTargets(b)[1]
	ds, err := framework.ReadCSV("../examples/data/ring8_test.csv")
	if err != nil {
		b.Fatal(err)
	}
	x := mat.DenseCopyOf(ds.X.Slice(0, batch, 0, 2))
	ula, err := samplers.NewULA(samplers.ULAOptions{Step: 0.005, NoiseScale: 1})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := trainers.NewPCD(trainers.PCDOptions{K: 1, Init: "uniform", InitLow: -3, InitHigh: 3, InitScale: 1})
	if err != nil {
		b.Fatal(err)
	}
	ev := framework.NewEvaluator(tg.e)
	if err := tr.Init(&framework.TrainContext{Eval: ev, Train: x, Sampler: ula, Streams: framework.Streams{Seed: 1}}); err != nil {
		b.Fatal(err)
	}
	grad := make([]float64, len(tg.theta))
	ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(1, 1))}
	if _, err := tr.Step(ctx, x, tg.theta, grad); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := tr.Step(ctx, x, tg.theta, grad); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}
