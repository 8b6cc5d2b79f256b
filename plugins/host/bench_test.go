package host

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/examples/doublewell/doublewell"
)

// BenchmarkRoundTrip measures one fused request (energy, ∇ₓE and Σᵢwᵢ∇θE) through a
// framework.Evaluator with its default chunking, at batch 1, 256 and 4096 in d = 8:
// in-process, through one Go plugin process, through a pool of two, and through the Python
// example plugin. The energies are cheap (a double well; the Python plugin's diagonal
// Gaussian), so the figures are the cost of the boundary.
//
//	go test -run '^$' -bench RoundTrip -benchtime 2s ./plugins/host/
func BenchmarkRoundTrip(b *testing.B) {
	const d = 8
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import grpc, numpy, google.protobuf").Run() == nil {
			py = p
			break
		}
	}
	setups := []struct {
		name string
		open func(b *testing.B) framework.Energy
	}{
		{"in-process", func(*testing.B) framework.Energy { return doublewell.New(d, *doublewell.DefaultOptions()) }},
		{"go-plugin", func(b *testing.B) framework.Energy {
			cfg := pluginConfig(b, "ok")
			cfg.Env = framework.Env{Dim: d}
			return openB(b, cfg)
		}},
		{"go-plugin-pool2", func(b *testing.B) framework.Energy {
			cfg := pluginConfig(b, "ok")
			cfg.Env, cfg.Instances = framework.Env{Dim: d}, 2
			return openB(b, cfg)
		}},
		{"python-plugin", func(b *testing.B) framework.Energy {
			if py == "" {
				b.Skip("no python3 with grpcio and numpy")
			}
			return openB(b, Config{Argv: []string{py, "../examples/python/gaussian.py"}, Env: framework.Env{Dim: d}, Logger: discardLogger()})
		}},
	}
	for _, s := range setups {
		for _, n := range []int{1, 256, 4096} {
			b.Run(fmt.Sprintf("%s/batch=%d", s.name, n), func(b *testing.B) {
				e := s.open(b)
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				theta := make([]float64, e.Spec().NumParams())
				e.InitParams(theta, rng)
				w := make([]float64, n)
				for i := range w {
					w[i] = 1 / float64(n)
				}
				req := &framework.Request{Outputs: framework.FirstOrder, X: randDense(rng, n, d), Theta: theta, Weights: w}
				ev := framework.NewEvaluator(e)
				var res framework.Result
				if err := ev.Evaluate(req, &res); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := ev.Evaluate(req, &res); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func openB(b *testing.B, cfg Config) *Energy {
	b.Helper()
	e, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// BenchmarkMLPRequest measures the request of one denoising score matching step (∇ₓE and
// the mixed product) on the MLP 2→64→64→1 at batch 1024, in-process and through a Go plugin
// (one process, and a pool of two), through an Evaluator with the default chunking.
//
//	go test -run '^$' -bench MLPRequest -benchtime 2s ./plugins/host/
func BenchmarkMLPRequest(b *testing.B) {
	const d, n = 2, 1024
	for _, setup := range []struct {
		name      string
		instances int
	}{{"in-process", 0}, {"go-plugin", 1}, {"go-plugin-pool2", 2}} {
		b.Run(setup.name, func(b *testing.B) {
			var e framework.Energy
			if setup.instances == 0 {
				m, err := energy.NewMLP(d, []int{64, 64}, "softplus")
				if err != nil {
					b.Fatal(err)
				}
				e = m
			} else {
				cfg := pluginConfig(b, "mlp64")
				cfg.Env, cfg.Instances = framework.Env{Dim: d}, setup.instances
				e = openB(b, cfg)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			theta := make([]float64, e.Spec().NumParams())
			e.InitParams(theta, rng)
			req := &framework.Request{Outputs: framework.OutGradX | framework.OutMixed, X: randDense(rng, n, d),
				U: randDense(rng, n, d), MixedSelf: 1, Theta: theta}
			ev := framework.NewEvaluator(e)
			var res framework.Result
			if err := ev.Evaluate(req, &res); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := ev.Evaluate(req, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
