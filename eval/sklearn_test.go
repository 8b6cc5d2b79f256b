package eval_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// readSklearnRBM reads a BernoulliRBM fixture (components_W_HxD, intercept_visible_b,
// intercept_hidden_c) into θ = (W, b, c).
func readSklearnRBM(t *testing.T, path string) []float64 {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var f struct {
		W [][]float64 `json:"components_W_HxD"`
		B []float64   `json:"intercept_visible_b"`
		C []float64   `json:"intercept_hidden_c"`
	}
	require.NoError(t, json.Unmarshal(b, &f))
	var theta []float64
	for _, row := range f.W {
		theta = append(theta, row...)
	}
	theta = append(theta, f.B...)
	return append(theta, f.C...)
}
