package eval

import (
	"context"
	"fmt"

	"github.com/goebm/goebm/samplers"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// SampleOptions set how model samples are drawn for MMD and plots: the [eval.samples] table.
type SampleOptions struct {
	Chains    int     `toml:"chains" help:"independent chains"`
	Warmup    int     `toml:"warmup" help:"transitions per chain before the first kept state (step sizes adapt meanwhile)"`
	Draws     int     `toml:"draws" help:"states kept per chain after warm-up"`
	Thin      int     `toml:"thin" help:"transitions between kept states"`
	Init      string  `toml:"init" help:"initial states: \"auto\" (normal for continuous energies, uniform for binary and spin ones), \"normal\" (N(0, init_scale²I)), \"uniform\" (on [−init_scale, init_scale], or uniform bits/spins) or \"data\" (rows of the evaluation data)"`
	InitScale float64 `toml:"init_scale" help:"scale of the normal or uniform initial states"`
}

// DefaultSampleOptions returns 500 chains from N(0, I) (uniform bits or spins for a discrete
// energy), 500 warm-up transitions and 2 draws 50 transitions apart: 1000 samples.
func DefaultSampleOptions() SampleOptions {
	return SampleOptions{Chains: 500, Warmup: 500, Draws: 2, Thin: 50, Init: "auto", InitScale: 1}
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
	case "auto", "normal", "uniform", "data":
		return nil
	}
	return &framework.KeyError{Key: "init", Msg: fmt.Sprintf("%q: want \"auto\", \"normal\", \"uniform\" or \"data\"", o.Init)}
}

// Sample draws o.Chains·o.Draws states from the model with the sampler s, through
// samplers.Draw: every chain starts from o.Init (its randomness from stream
// ("eval-samples", i), so that evaluation draws are independent of `ebm sample`'s), runs
// o.Warmup transitions with step-size adaptation on, then keeps its state every o.Thin
// transitions. Rows are draw-major: row t·Chains + i is chain i's t-th kept state.
func Sample(ctx context.Context, ev *framework.Evaluator, theta []float64, s framework.Sampler, o SampleOptions, streams framework.Streams, data *mat.Dense) (*mat.Dense, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	if s == nil {
		return nil, fmt.Errorf("samples: no sampler: set [eval.sampler]")
	}
	t := samplers.Target{Eval: ev, Theta: theta[:ev.Spec().NumParams()], Streams: streams, Data: data, Stream: "eval-samples"}
	opts := samplers.DrawOptions{Chains: o.Chains, Warmup: o.Warmup, Steps: o.Draws * o.Thin, Thin: o.Thin,
		Init: o.Init, InitScale: o.InitScale}
	dr, err := samplers.Draw(ctx, t, "eval", s, opts)
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	return dr.Samples, nil
}
