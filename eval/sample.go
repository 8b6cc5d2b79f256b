package eval

import (
	"context"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// SampleOptions set how model samples are drawn for MMD and plots: the [eval.samples] table.
type SampleOptions struct {
	Chains    int     `toml:"chains" help:"independent chains"`
	Warmup    int     `toml:"warmup" help:"transitions per chain before the first kept state (step sizes adapt meanwhile)"`
	Draws     int     `toml:"draws" help:"states kept per chain after warm-up"`
	Thin      int     `toml:"thin" help:"transitions between kept states"`
	Init      string  `toml:"init" help:"initial states: \"normal\" (N(0, init_scale²I)), \"uniform\" (on [−init_scale, init_scale], or uniform bits/spins) or \"data\" (rows of the evaluation data)"`
	InitScale float64 `toml:"init_scale" help:"scale of the normal or uniform initial states"`
}

// DefaultSampleOptions returns 500 chains from N(0, I), 500 warm-up transitions and 2 draws
// 50 transitions apart: 1000 samples.
func DefaultSampleOptions() SampleOptions {
	return SampleOptions{Chains: 500, Warmup: 500, Draws: 2, Thin: 50, Init: "normal", InitScale: 1}
}

// Validate checks the options.
func (o *SampleOptions) Validate() error {
	switch {
	case o.Chains < 1:
		return &framework.KeyError{Key: "chains", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Chains)}
	case o.Warmup < 0:
		return &framework.KeyError{Key: "warmup", Msg: fmt.Sprintf("must be ≥ 0, got %d", o.Warmup)}
	case o.Draws < 1:
		return &framework.KeyError{Key: "draws", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Draws)}
	case o.Thin < 1:
		return &framework.KeyError{Key: "thin", Msg: fmt.Sprintf("must be ≥ 1, got %d", o.Thin)}
	case !(o.InitScale > 0):
		return &framework.KeyError{Key: "init_scale", Msg: fmt.Sprintf("must be > 0, got %v", o.InitScale)}
	}
	switch o.Init {
	case "normal", "uniform", "data":
		return nil
	}
	return &framework.KeyError{Key: "init", Msg: fmt.Sprintf("%q: want \"normal\", \"uniform\" or \"data\"", o.Init)}
}

// Sample draws o.Chains·o.Draws states from the model with the sampler s: every chain starts
// from o.Init (chain i from its own stream ("eval-samples", i); "data" takes row i mod n of
// data), runs o.Warmup transitions with Chains.Adapt on, then keeps its state every o.Thin
// transitions. Rows are draw-major: row t·Chains + i is chain i's t-th kept state.
func Sample(ctx context.Context, ev *framework.Evaluator, theta []float64, s framework.Sampler, o SampleOptions, streams framework.Streams, data *mat.Dense) (*mat.Dense, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	if s == nil {
		return nil, fmt.Errorf("samples: no sampler: set [eval.sampler]")
	}
	spec := ev.Spec()
	if err := s.Supports(spec); err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	m, d := o.Chains, spec.Dim
	rngs := streams.Rands("eval-samples", m)
	x := mat.NewDense(m, d, nil)
	if o.Init == "data" && data == nil {
		return nil, fmt.Errorf("samples: init = \"data\" but there are no data")
	}
	for i := 0; i < m; i++ {
		row := x.RawRowView(i)
		if o.Init == "data" {
			n, _ := data.Dims()
			copy(row, data.RawRowView(i%n))
			continue
		}
		for j := range row {
			switch {
			case spec.Domain == framework.Binary:
				row[j] = float64(rngs[i].IntN(2))
			case spec.Domain == framework.Spin:
				row[j] = float64(2*rngs[i].IntN(2) - 1)
			case o.Init == "normal":
				row[j] = o.InitScale * rngs[i].NormFloat64()
			default:
				row[j] = o.InitScale * (2*rngs[i].Float64() - 1)
			}
		}
	}
	c := &framework.Chains{X: x, Theta: theta[:spec.NumParams()], Eval: ev, RNG: rngs}
	if o.Warmup > 0 {
		c.Adapt = true
		if err := s.Run(c, o.Warmup); err != nil {
			return nil, fmt.Errorf("samples: warm-up: %w", err)
		}
		c.Adapt = false
	}
	out := mat.NewDense(m*o.Draws, d, nil)
	for t := 0; t < o.Draws; t++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("samples: %w", err)
		}
		if err := s.Run(c, o.Thin); err != nil {
			return nil, fmt.Errorf("samples: draw %d: %w", t+1, err)
		}
		for i := 0; i < m; i++ {
			copy(out.RawRowView(t*m+i), x.RawRowView(i))
		}
	}
	return out, nil
}
