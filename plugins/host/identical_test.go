package host

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/examples/doublewell/doublewell"
)

// requireBits fails unless a and b hold the same float64 bits.
func requireBits(t *testing.T, what string, a, b []float64) {
	t.Helper()
	require.Equal(t, len(a), len(b), what)
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("%s[%d]: %v vs %v (bits differ)", what, i, a[i], b[i])
		}
	}
}

func denseData(m *mat.Dense) []float64 {
	if m == nil {
		return nil
	}
	r, c := m.Dims()
	out := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		out = append(out, m.RawRowView(i)...)
	}
	return out
}

// TestBitIdentical evaluates the same requests in-process, through one plugin process and
// through a pool of two, each through a framework.Evaluator with the same chunking and two
// workers, and requires the same bits.
func TestBitIdentical(t *testing.T) {
	const d, n = 3, 300
	mlp, err := energy.NewMLP(d, []int{16, 16}, "softplus")
	require.NoError(t, err)
	ising, err := energy.NewIsing(d, true)
	require.NoError(t, err)
	cases := []struct {
		mode   string
		direct framework.Energy
	}{
		{"ok", doublewell.New(d, *doublewell.DefaultOptions())},
		{"mlp", mlp},
		{"ising", ising},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			energies := []framework.Energy{tc.direct}
			for _, instances := range []int{1, 2} {
				cfg := pluginConfig(t, tc.mode)
				cfg.Env, cfg.Instances = framework.Env{Dim: d}, instances
				energies = append(energies, open(t, cfg))
			}
			p := tc.direct.Spec().NumParams()
			thetas := make([][]float64, len(energies))
			for k, e := range energies {
				require.Equal(t, viaSDK(tc.direct.Spec()), viaSDK(e.Spec()), "the same spec (CapMixedSelf aside)")
				thetas[k] = make([]float64, p)
				e.InitParams(thetas[k], rand.New(rand.NewPCG(11, 12)))
				requireBits(t, "θ₀", thetas[0], thetas[k])
			}
			rng := rand.New(rand.NewPCG(13, 14))
			x, u, v := randDense(rng, n, d), randDense(rng, n, d), randDense(rng, n, d)
			w := make([]float64, n)
			for i := range w {
				w[i] = rng.Float64() - 0.3
			}
			reqs := []*framework.Request{
				{Outputs: framework.FirstOrder, X: x, Weights: w},
				{Outputs: framework.OutEnergy | framework.OutMixed, X: x, U: u, MixedSelf: 0.5},
				{Outputs: framework.OutLaplacian | framework.OutLaplacianVJP, X: x, LapWeights: w},
				{Outputs: framework.OutHVP | framework.OutGradX, X: x, V: v},
			}
			if tc.direct.Spec().Caps.Has(framework.CapParamJac) {
				reqs = append(reqs, &framework.Request{Outputs: framework.OutParamJac | framework.OutEnergy, X: x})
			}
			for step := 0; step < 2; step++ {
				for _, req := range reqs {
					var want framework.Result
					for k, e := range energies {
						ev := framework.NewEvaluator(e)
						ev.ChunkRows, ev.Workers = 64, 2
						r := *req
						r.Theta = thetas[0]
						var res framework.Result
						require.NoError(t, ev.Evaluate(&r, &res))
						require.Equal(t, map[string]string{}, pathsNotExact(ev.Paths()), "every output exact")
						if k == 0 {
							want = res
							continue
						}
						what := fmt.Sprintf("energy %d, %s", k, req.Outputs)
						o := req.Outputs // compare what was asked for (an unfused mixed request leaves ∇ₓE behind)
						requireBits(t, what+" energy", pick(o, framework.OutEnergy, want.Energy), pick(o, framework.OutEnergy, res.Energy))
						requireBits(t, what+" grad_x", pick(o, framework.OutGradX, denseData(want.GradX)), pick(o, framework.OutGradX, denseData(res.GradX)))
						requireBits(t, what+" param_vjp", pick(o, framework.OutParamVJP, want.ParamVJP), pick(o, framework.OutParamVJP, res.ParamVJP))
						requireBits(t, what+" mixed", pick(o, framework.OutMixed, want.Mixed), pick(o, framework.OutMixed, res.Mixed))
						requireBits(t, what+" laplacian", pick(o, framework.OutLaplacian, want.Laplacian), pick(o, framework.OutLaplacian, res.Laplacian))
						requireBits(t, what+" laplacian_vjp", pick(o, framework.OutLaplacianVJP, want.LaplacianVJP), pick(o, framework.OutLaplacianVJP, res.LaplacianVJP))
						requireBits(t, what+" hvp", pick(o, framework.OutHVP, denseData(want.HVP)), pick(o, framework.OutHVP, denseData(res.HVP)))
						requireBits(t, what+" param_jac", pick(o, framework.OutParamJac, denseData(want.ParamJac)), pick(o, framework.OutParamJac, denseData(res.ParamJac)))
					}
				}
				// A new θ, as after an optimizer step: the plugins must use it.
				for i := range thetas[0] {
					thetas[0][i] *= 0.9
				}
			}
		})
	}
}

// pick returns s when o asks for out, and nil otherwise.
func pick(o, out framework.Output, s []float64) []float64 {
	if o.Has(out) {
		return s
	}
	return nil
}

func pathsNotExact(p map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		if v != "exact" {
			out[k] = v
		}
	}
	return out
}
