package energy

import (
	"encoding/json"
	"fmt"

	"github.com/goebm/goebm/framework"
)

// LoadSklearnRBM reads RBM parameters from a JSON file with the keys "components_W_HxD"
// (H lists of D numbers), "intercept_visible_b" (D) and "intercept_hidden_c" (H), as
// examples/data/rbm64_sklearn_digits_params.json holds scikit-learn's BernoulliRBM fit. It
// returns the sizes and θ laid out as RBM.Spec's blocks (W row-major, b, c).
func LoadSklearnRBM(path string) (visible, hidden int, theta []float64, err error) {
	raw, err := framework.ReadFileLimit(path, 1<<30)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("rbm: %w", err)
	}
	var f struct {
		W [][]float64 `json:"components_W_HxD"`
		B []float64   `json:"intercept_visible_b"`
		C []float64   `json:"intercept_hidden_c"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, 0, nil, fmt.Errorf("rbm: %s: %w", path, err)
	}
	hidden = len(f.W)
	if hidden == 0 {
		return 0, 0, nil, fmt.Errorf("rbm: %s: no components_W_HxD", path)
	}
	visible = len(f.W[0])
	for j, row := range f.W {
		if len(row) != visible {
			return 0, 0, nil, fmt.Errorf("rbm: %s: components_W_HxD row %d has %d entries, want %d", path, j, len(row), visible)
		}
		theta = append(theta, row...)
	}
	if len(f.B) != visible {
		return 0, 0, nil, fmt.Errorf("rbm: %s: intercept_visible_b has %d entries, want %d", path, len(f.B), visible)
	}
	if len(f.C) != hidden {
		return 0, 0, nil, fmt.Errorf("rbm: %s: intercept_hidden_c has %d entries, want %d", path, len(f.C), hidden)
	}
	theta = append(append(theta, f.B...), f.C...)
	return visible, hidden, theta, nil
}
