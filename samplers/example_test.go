package samplers_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
)

// Draw samples a 1-D Gaussian N(0, 2²) with MALA and reports its diagnostics.
func ExampleDraw() {
	g, _ := energy.NewGaussian(1, true) // E = ½wx² − bx
	theta := []float64{0.25, 0}         // w = 1/σ², b = 0
	s, _ := samplers.NewMALA(samplers.DefaultMALAOptions())
	dr, err := samplers.Draw(context.Background(), samplers.Target{Eval: framework.NewEvaluator(g), Theta: theta, Streams: framework.Streams{Seed: 1}},
		"mala", s, samplers.DrawOptions{Chains: 8, Warmup: 500, Steps: 2000, Thin: 2, Init: "normal", InitScale: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := dr.Diagnostics
	rows, _ := dr.Samples.Dims()
	fmt.Println("rows:", rows)
	fmt.Println("R̂ below 1.01:", d.MaxRHat < 1.01)
	fmt.Println("mean within 4 MCSE of 0:", math.Abs(d.Mean[0]) < 4*d.MCSE[0])
	var csv bytes.Buffer
	_ = dr.WriteCSV(&csv, nil)
	header, _, _ := strings.Cut(csv.String(), "\n")
	fmt.Println("CSV header:", header)
	// Output:
	// rows: 8000
	// R̂ below 1.01: true
	// mean within 4 MCSE of 0: true
	// CSV header: x1,energy
}
