package trainers

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

// Every trainer's gradient against central differences of its loss on a non-quadratic energy
// (a tanh MLP), where neither the energy's second-order outputs nor the trainers' own finite
// differences are exact: ssm's θ-gradient of vᵀ∇²E v is a central difference with error
// O(h²) ≈ 1e-8, and the loss differences add O(h²) with h = 1e-5; they come to 1e-8 of ‖g‖, and the tolerance is 1e-6.
func TestGradientFDOnMLP(t *testing.T) {
	const d = 3
	x := correlatedRows(24, 41)
	newDSM := func(o DSMOptions) framework.Trainer {
		tr, err := NewDenoisingScoreMatching(o)
		require.NoError(t, err)
		return tr
	}
	newSSM := func(o SSMOptions) framework.Trainer {
		tr, err := NewSlicedScoreMatching(o)
		require.NoError(t, err)
		return tr
	}
	newNCE := func(o NCEOptions) framework.Trainer {
		tr, err := NewNoiseContrastive(o)
		require.NoError(t, err)
		return tr
	}
	for _, tc := range []struct {
		name  string
		tr    framework.Trainer
		extra int
	}{
		{"sm", NewScoreMatching(SMOptions{}), 0},
		{"dsm", newDSM(DSMOptions{Sigma: 0.3, Draws: 2}), 0},
		{"dsm multi-σ", newDSM(DSMOptions{Sigma: 1, Draws: 1, SigmaMax: 1, SigmaMin: 0.1, Levels: 3}), 0},
		{"ssm", newSSM(SSMOptions{Projections: 2, Projection: "gaussian"}), 0},
		{"ssm-vr rademacher", newSSM(SSMOptions{Projections: 1, Projection: "rademacher", VarianceReduced: true}), 0},
		{"nce", newNCE(NCEOptions{Noise: "gaussian", Components: 1, Nu: 1}), 1},
		{"nce gmm", newNCE(NCEOptions{Noise: "gmm", Components: 2, EMSteps: 3, Nu: 2}), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, theta := mlp(t, d, 42)
			ev := framework.NewEvaluator(m)
			require.NoError(t, tc.tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
			theta = append(theta, make([]float64, tc.extra)...)
			checkGradFD(t, tc.tr, ev, x, theta, 1e-6)
		})
	}
}
