package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/framework"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestMLPDerivatives(t *testing.T) {
	for _, tc := range []struct {
		d      int
		hidden []int
		act    string
	}{
		{2, []int{5, 4}, "softplus"},
		{3, []int{6}, "tanh"},
		{2, []int{4, 3, 5}, "swish"},
		{4, []int{7, 5}, "softplus"},
		{1, []int{3, 3}, "tanh"},
	} {
		for seed := uint64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%d-%v-%s/seed=%d", tc.d, tc.hidden, tc.act, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 20))
				m, err := NewMLP(tc.d, tc.hidden, tc.act)
				require.NoError(t, err)
				theta := randomTheta(m, rng, 0.3)
				x := normalPoints(rng, 6, tc.d, 1.5)
				requireChecks(t, m, theta, x, check.Options{Seed: seed})
				requireFallback(t, m, theta, x, check.Options{Seed: seed})
			})
		}
	}
}

// naiveMLP is the forward pass written out with loops: torch's y = x Wᵀ + b.
func naiveMLP(x []float64, ws [][][]float64, bs [][]float64, act func(float64) float64) float64 {
	h := x
	for l := range ws {
		z := make([]float64, len(ws[l]))
		for a, row := range ws[l] {
			z[a] = bs[l][a]
			for k, w := range row {
				z[a] += w * h[k]
			}
		}
		if l == len(ws)-1 {
			return z[0]
		}
		for a := range z {
			z[a] = act(z[a])
		}
		h = z
	}
	panic("unreachable")
}

func TestMLPTorchInit(t *testing.T) {
	tm, err := LoadTorchMLP("../examples/data/mlp2d_init_torch_seed0.json")
	require.NoError(t, err)
	require.Equal(t, 2, tm.Dim)
	require.Equal(t, []int{64, 64}, tm.Hidden)
	m, err := NewMLP(tm.Dim, tm.Hidden, "softplus")
	require.NoError(t, err)
	require.Equal(t, m.Spec().NumParams(), len(tm.Theta))
	require.NoError(t, m.SetInit(tm.Theta))
	theta := make([]float64, len(tm.Theta))
	m.InitParams(theta, nil)

	// The naive pass reads the weights from the JSON's nested lists independently.
	ws, bs := readTorchNested(t, "../examples/data/mlp2d_init_torch_seed0.json")
	x := mat.NewDense(4, 2, []float64{0, 0, 1, -2, -3.5, 0.25, 2, 2})
	var res framework.Result
	req := framework.Request{Outputs: framework.OutEnergy, X: x, Theta: theta}
	res.Reset(req.Outputs, 4, 2, len(theta))
	require.NoError(t, m.Evaluate(&req, &res))
	sp := func(z float64) float64 { return math.Log1p(math.Exp(z)) }
	for i := 0; i < 4; i++ {
		want := naiveMLP(mat.Row(nil, i, x), ws, bs, sp)
		assert.InDelta(t, want, res.Energy[i], 1e-12, "row %d", i)
	}
	// torch's default init: |W_l|, |b_l| < 1/√in.
	bound := []float64{1 / math.Sqrt(2), 1.0 / 8, 1.0 / 8}
	for l := range ws {
		for _, row := range ws[l] {
			for _, w := range row {
				assert.Less(t, math.Abs(w), bound[l])
			}
		}
	}
}

func TestMLPInitDistribution(t *testing.T) {
	m, err := NewMLP(2, []int{64, 64}, "softplus")
	require.NoError(t, err)
	theta := make([]float64, m.Spec().NumParams())
	m.InitParams(theta, rand.New(rand.NewPCG(1, 2)))
	// W2 (64×64) is U(−1/8, 1/8): mean 0, variance (1/8)²/3; 4096 draws.
	off, size, ok := m.Spec().BlockOffset("W2")
	require.True(t, ok)
	w2 := theta[off : off+size]
	mean, sq := 0.0, 0.0
	for _, v := range w2 {
		assert.Less(t, math.Abs(v), 1.0/8)
		mean += v
		sq += v * v
	}
	mean /= float64(size)
	variance := sq/float64(size) - mean*mean
	want := 1.0 / 64 / 3
	sd := want / math.Sqrt(float64(size)) * math.Sqrt(4.0/5) // sd of the sample variance of a uniform
	assert.InDelta(t, 0, mean, 4*math.Sqrt(want/float64(size)))
	assert.InDelta(t, want, variance, 5*sd)
}

func TestMLPOptionsErrors(t *testing.T) {
	_, err := NewMLP(2, nil, "softplus")
	assert.Error(t, err)
	_, err = NewMLP(2, []int{3, 0}, "softplus")
	assert.Error(t, err)
	_, err = NewMLP(2, []int{3}, "relu")
	assert.ErrorContains(t, err, "relu")
	m, err := NewMLP(2, []int{3}, "tanh")
	require.NoError(t, err)
	assert.Error(t, m.SetInit(make([]float64, 3)))
}
