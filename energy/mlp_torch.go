package energy

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
)

// TorchMLP is an MLP's shape and parameters read from a JSON file of PyTorch nn.Linear
// weights (keys "W1", "b1", …, "W{L}", "b{L}", W_l as a list of out rows of in numbers,
// y = x Wᵀ + b), such as examples/data/mlp2d_init_torch_seed0.json. Theta is laid out as
// MLP.Spec's blocks, which use the same layout, so it can be passed to MLP.SetInit.
type TorchMLP struct {
	Dim    int
	Hidden []int
	Theta  []float64
}

// LoadTorchMLP reads a TorchMLP from the JSON file at path.
func LoadTorchMLP(path string) (TorchMLP, error) {
	f, err := os.Open(path)
	if err != nil {
		return TorchMLP{}, fmt.Errorf("mlp: %w", err)
	}
	defer f.Close()
	t, err := ReadTorchMLP(f)
	if err != nil {
		return TorchMLP{}, fmt.Errorf("mlp: %s: %w", path, err)
	}
	return t, nil
}

// ReadTorchMLP reads a TorchMLP from JSON; other keys than W{l} and b{l} are ignored. The
// last layer must have one output.
func ReadTorchMLP(r io.Reader) (TorchMLP, error) {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return TorchMLP{}, err
	}
	var t TorchMLP
	in := 0
	for l := 1; ; l++ {
		wk, bk := "W"+strconv.Itoa(l), "b"+strconv.Itoa(l)
		wraw, ok := raw[wk]
		if !ok {
			if l == 1 {
				return TorchMLP{}, fmt.Errorf("no key W1")
			}
			break
		}
		var w [][]float64
		var b []float64
		if err := json.Unmarshal(wraw, &w); err != nil {
			return TorchMLP{}, fmt.Errorf("%s: %w", wk, err)
		}
		braw, ok := raw[bk]
		if !ok {
			return TorchMLP{}, fmt.Errorf("no key %s", bk)
		}
		if err := json.Unmarshal(braw, &b); err != nil {
			return TorchMLP{}, fmt.Errorf("%s: %w", bk, err)
		}
		if len(w) == 0 {
			return TorchMLP{}, fmt.Errorf("%s is empty", wk)
		}
		if l == 1 {
			in = len(w[0])
			t.Dim = in
		}
		for i, row := range w {
			if len(row) != in {
				return TorchMLP{}, fmt.Errorf("%s row %d has %d entries, want %d (the previous layer's width)", wk, i, len(row), in)
			}
			t.Theta = append(t.Theta, row...)
		}
		if len(b) != len(w) {
			return TorchMLP{}, fmt.Errorf("%s has %d entries, want %d", bk, len(b), len(w))
		}
		t.Theta = append(t.Theta, b...)
		t.Hidden = append(t.Hidden, len(w))
		in = len(w)
	}
	if out := t.Hidden[len(t.Hidden)-1]; out != 1 {
		return TorchMLP{}, fmt.Errorf("last layer has %d outputs, want 1", out)
	}
	t.Hidden = t.Hidden[:len(t.Hidden)-1]
	if len(t.Hidden) == 0 {
		return TorchMLP{}, fmt.Errorf("no hidden layer")
	}
	return t, nil
}
