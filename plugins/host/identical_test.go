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
	cases := []struct {
		mode   string
		direct framework.Energy
	}{
		{"ok", doublewell.New(d, *doublewell.DefaultOptions())},
		{"mlp", mlp},
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
				require.Equal(t, tc.direct.Spec(), e.Spec())
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
						requireBits(t, what+" energy", want.Energy, res.Energy)
						requireBits(t, what+" grad_x", denseData(want.GradX), denseData(res.GradX))
						requireBits(t, what+" param_vjp", want.ParamVJP, res.ParamVJP)
						requireBits(t, what+" mixed", want.Mixed, res.Mixed)
						requireBits(t, what+" laplacian", want.Laplacian, res.Laplacian)
						requireBits(t, what+" laplacian_vjp", want.LaplacianVJP, res.LaplacianVJP)
						requireBits(t, what+" hvp", denseData(want.HVP), denseData(res.HVP))
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

func pathsNotExact(p map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		if v != "exact" {
			out[k] = v
		}
	}
	return out
}
