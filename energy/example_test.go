package energy_test

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// The ring8 target at one of its centres and at its middle: E = −log p of a normalised
// mixture, so E at a centre is about log 8 + log 2πσ² (the other centres are ≥ 6σ away).
func ExampleRing8() {
	g := energy.Ring8()
	theta := energy.Ring8Params()
	x := mat.NewDense(2, 2, []float64{2, 0, 0, 0})
	ev := framework.NewEvaluator(g)
	var res framework.Result
	if err := ev.Evaluate(&framework.Request{Outputs: framework.OutEnergy | framework.OutGradX, X: x, Theta: theta}, &res); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("E(2,0) = %.4f (log 8 + log 2πσ² = %.4f)\n", res.Energy[0], math.Log(8)+math.Log(2*math.Pi*0.0625))
	// At the origin all eight components are 2 = 8σ away: E = 32 − log(1/(2πσ²)), and by
	// symmetry the gradient vanishes.
	fmt.Printf("E(0,0) = %.4f (32 + log 2πσ² = %.4f)\n", res.Energy[1], 32+math.Log(2*math.Pi*0.0625))
	fmt.Println("|∇ₓE(0,0)| < 1e-12:", math.Hypot(res.GradX.At(1, 0), res.GradX.At(1, 1)) < 1e-12)
	fmt.Println("log Z =", g.LogNormaliser())
	// Output:
	// E(2,0) = 1.1447 (log 8 + log 2πσ² = 1.1447)
	// E(0,0) = 31.0653 (32 + log 2πσ² = 31.0653)
	// |∇ₓE(0,0)| < 1e-12: true
	// log Z = 0
}

// An MLP energy started from PyTorch's weights, asked for E, ∇ₓE and Σᵢ wᵢ∇θE in one request.
func ExampleLoadTorchMLP() {
	tm, err := energy.LoadTorchMLP("../examples/data/mlp2d_init_torch_seed0.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := energy.NewMLP(tm.Dim, tm.Hidden, "softplus")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Spec().Blocks)
	ev := framework.NewEvaluator(m)
	x := mat.NewDense(2, 2, []float64{0, 0, 1, -1})
	var res framework.Result
	req := framework.Request{Outputs: framework.FirstOrder, X: x, Theta: tm.Theta, Weights: []float64{0.5, 0.5}}
	if err := ev.Evaluate(&req, &res); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(res.Energy), len(res.ParamVJP), ev.Paths())
	// Output:
	// [{W1 [64 2]} {b1 [64]} {W2 [64 64]} {b2 [64]} {W3 [1 64]} {b3 [1]}]
	// 2 4417 map[energy:exact grad_x:exact param_vjp:exact]
}
