package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
	"gonum.org/v1/gonum/mat"
)

// langevin is torch_langevin.py: ULA and MALA on the exact ring8 mixture energy, 4096 chains
// from N(0, I), 1000 steps of h = 0.01 (MALA without step-size adaptation). The chains draw
// from the streams ("sample", i) as `ebm sample` does.
const langevinConfig = `
[data]
train = "ring8_train.csv.gz"

[energy]
builtin = "gmm"
[energy.config]
preset = "ring8"
components = 8

[sampler]
method = "%s"
step = 0.01
`

const (
	langevinChains = 4096
	langevinBlock  = 50 // sampler steps per timed block
)

func langevinWorkloads() []Workload {
	mk := func(method string) Workload {
		acc := "‖mean‖"
		if method == "mala" {
			acc = "acceptance"
		}
		return Workload{
			Name: "langevin/" + method, Group: "langevin", Peer: method, Unit: "step of 4096 chains",
			Accuracy: acc, Higher: method == "mala", Rate: langevinChains,
			Run: func(ctx context.Context, env *Env) (*Sample, error) { return runLangevin(ctx, env, method) },
		}
	}
	return []Workload{mk("ula"), mk("mala")}
}

func runLangevin(ctx context.Context, env *Env, method string) (*Sample, error) {
	b, err := env.config("bench-langevin.toml", fmt.Sprintf(langevinConfig, method))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	r := b.Run
	n, d := langevinChains, b.Spec.Dim
	c := &framework.Chains{X: mat.NewDense(n, d, nil), Theta: r.Theta, Eval: r.Eval,
		RNG: r.Streams.Rands("sample", n)}
	in := samplers.Init{Kind: "normal", Scale: 1, Domain: b.Spec.Domain, Dim: d}
	if err := in.Check(); err != nil {
		return nil, err
	}
	in.Fill(c.X, c.RNG)
	steps := env.steps(1000)
	s := &Sample{Steps: steps, Extra: map[string]float64{}}
	start := time.Now()
	for done := 0; done < steps; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := min(langevinBlock, steps-done)
		t0 := time.Now()
		if err := r.Sampler.Run(c, k); err != nil {
			return nil, err
		}
		s.Seconds = append(s.Seconds, time.Since(t0).Seconds()/float64(k))
		done += k
	}
	s.Total = time.Since(start).Seconds()
	s.Mean = s.Total / float64(steps)
	s.PerStep = median(s.Seconds)
	s.Extra["chain_steps_per_sec"] = float64(n*steps) / s.Total
	mean := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range c.X.RawRowView(i) {
			mean[j] += v / float64(n)
		}
	}
	norm := 0.0
	for _, v := range mean {
		norm += v * v
	}
	s.Extra["mean_err_l2"] = math.Sqrt(norm)
	if c.Proposed > 0 {
		s.Extra["acceptance"] = float64(c.Accepted) / float64(c.Proposed)
	}
	if method == "mala" {
		s.Accuracy = s.Extra["acceptance"]
	} else {
		s.Accuracy = s.Extra["mean_err_l2"]
	}
	return s, nil
}
