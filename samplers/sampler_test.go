package samplers

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// samplerCase builds a fresh sampler on a target it supports.
type samplerCase struct {
	name   string
	build  func() (framework.Sampler, error)
	energy func() framework.Energy
	theta  []float64
	init   string
}

func samplerCases() []samplerCase {
	gauss := func() framework.Energy { return gaussDiag(3) }
	gt := gaussTheta(1, 2, 0.5)
	rbm := func() framework.Energy { return rbmEnergy(5, 2) }
	rt := make([]float64, 2*5+5+2)
	for i := range rt {
		rt[i] = math.Cos(float64(i))
	}
	return []samplerCase{
		{"ula", func() (framework.Sampler, error) {
			return NewULA(ULAOptions{Step: 0.1, NoiseScale: 1, ClipGrad: 1, ClipState: 3})
		}, gauss, gt, "normal"},
		{"mala", func() (framework.Sampler, error) { return NewMALA(MALAOptions{Step: 0.1, TargetAccept: 0.574}) }, gauss, gt, "normal"},
		{"annealed", func() (framework.Sampler, error) {
			return NewAnnealed(AnnealedOptions{Step: 0.01, Levels: 3, SigmaMax: 3, SigmaMin: 1, StepsPerLevel: 2})
		}, gauss, gt, "normal"},
		{"hmc", func() (framework.Sampler, error) {
			return NewHMC(HMCOptions{Step: 0.1, Leapfrog: 3, TargetAccept: 0.65})
		}, gauss, gt, "normal"},
		{"gibbs", func() (framework.Sampler, error) { return NewGibbs(GibbsOptions{}) }, rbm, rt, "uniform"},
		{"gibbs block", func() (framework.Sampler, error) { return NewGibbs(GibbsOptions{Block: true}) }, rbm, rt, "uniform"},
	}
}

// The same seed gives the same draws bit for bit whatever the number of workers and the
// chunk size of the Evaluator, since chain i draws only from its own stream.
func TestReproducibleAcrossWorkers(t *testing.T) {
	for _, tc := range samplerCases() {
		t.Run(tc.name, func(t *testing.T) {
			var ref *Draws
			for _, cfg := range []struct{ workers, chunk int }{{1, 0}, {2, 0}, {2, 7}, {1, 3}} {
				s, err := tc.build()
				require.NoError(t, err)
				ev := framework.NewEvaluator(tc.energy())
				ev.Workers, ev.ChunkRows = cfg.workers, cfg.chunk
				dr, err := Draw(context.Background(), Target{Eval: ev, Theta: tc.theta, Streams: framework.Streams{Seed: 5}}, tc.name, s,
					DrawOptions{Chains: 23, Warmup: 10, Steps: 12, Thin: 2, Init: tc.init, InitScale: 1})
				require.NoError(t, err)
				if ref == nil {
					ref = dr
					continue
				}
				require.Equal(t, ref.Samples.RawMatrix().Data, dr.Samples.RawMatrix().Data, "workers %d, chunk %d", cfg.workers, cfg.chunk)
				require.Equal(t, ref.Energy, dr.Energy)
			}
			// A different seed gives different draws.
			s, err := tc.build()
			require.NoError(t, err)
			dr := draw(t, tc.energy(), tc.theta, s, DrawOptions{Chains: 23, Warmup: 10, Steps: 12, Thin: 2, Init: tc.init, InitScale: 1}, 6)
			require.NotEqual(t, ref.Samples.RawMatrix().Data, dr.Samples.RawMatrix().Data)
		})
	}
}

// Running k steps in one call equals running them in several calls, with and without
// adaptation: a sampler carries its state (step size, cached energies) between calls.
func TestRunSplitInvariance(t *testing.T) {
	for _, tc := range samplerCases() {
		t.Run(tc.name, func(t *testing.T) {
			run := func(pieces []int) ([]float64, framework.Chains) {
				s, err := tc.build()
				require.NoError(t, err)
				e := tc.energy()
				spec := e.Spec()
				c := framework.Chains{X: mat.NewDense(9, spec.Dim, nil), Theta: tc.theta, Eval: framework.NewEvaluator(e),
					RNG: framework.Streams{Seed: 8}.Rands("t", 9)}
				in := Init{Kind: tc.init, Scale: 1, Low: -1, High: 1, Domain: spec.Domain, Dim: spec.Dim}
				in.Fill(c.X, c.RNG)
				for k, p := range pieces {
					c.Adapt = k < len(pieces)/2
					require.NoError(t, s.Run(&c, p))
				}
				return append([]float64(nil), c.X.RawMatrix().Data...), c
			}
			one, c1 := run([]int{6, 6})
			many, c2 := run([]int{2, 3, 1, 1, 5, 0})
			require.Equal(t, one, many)
			require.Equal(t, c1.Proposed, c2.Proposed)
			require.Equal(t, c1.Accepted, c2.Accepted)
			require.Equal(t, c1.Energy, c2.Energy)
		})
	}
}

// Samplers that know E of their current states publish it in Chains.Energy; it must be
// the energy of the states.
func TestChainsEnergy(t *testing.T) {
	for _, tc := range samplerCases() {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.build()
			require.NoError(t, err)
			dr := draw(t, tc.energy(), tc.theta, s, DrawOptions{Chains: 7, Warmup: 3, Steps: 4, Thin: 1, Init: tc.init, InitScale: 1}, 9)
			ev := framework.NewEvaluator(tc.energy())
			var res framework.Result
			require.NoError(t, ev.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: dr.Samples, Theta: tc.theta}, &res))
			require.InDeltaSlice(t, res.Energy, dr.Energy, 1e-12)
		})
	}
}

func TestSupports(t *testing.T) {
	cont := framework.Spec{Name: "c", Dim: 2, Domain: framework.Continuous}
	bin := framework.Spec{Name: "b", Dim: 2, Domain: framework.Binary}
	spin := framework.Spec{Name: "s", Dim: 2, Domain: framework.Spin}
	rbm := framework.Spec{Name: "rbm", Dim: 2, Domain: framework.Binary, Caps: framework.CapBlockGibbs}
	ula, _ := NewULA(DefaultULAOptions())
	mala, _ := NewMALA(DefaultMALAOptions())
	ann, _ := NewAnnealed(DefaultAnnealedOptions())
	hmc, _ := NewHMC(DefaultHMCOptions())
	gibbs, _ := NewGibbs(GibbsOptions{})
	block, _ := NewGibbs(GibbsOptions{Block: true})
	for _, tc := range []struct {
		s          framework.Sampler
		spec       framework.Spec
		ok, domain bool // domain: the error wraps ErrUnsupportedDomain
	}{
		{ula, cont, true, false}, {ula, bin, false, true}, {ula, spin, false, true},
		{mala, cont, true, false}, {mala, spin, false, true},
		{ann, cont, true, false}, {ann, bin, false, true},
		{hmc, cont, true, false}, {hmc, bin, false, true},
		{gibbs, bin, true, false}, {gibbs, spin, true, false}, {gibbs, cont, false, true},
		{block, rbm, true, false}, {block, bin, false, false}, {block, cont, false, true},
	} {
		err := tc.s.Supports(tc.spec)
		if tc.ok {
			assert.NoError(t, err, "%T on %s", tc.s, tc.spec.Name)
			continue
		}
		require.Error(t, err, "%T on %s", tc.s, tc.spec.Name)
		assert.Equal(t, tc.domain, errors.Is(err, framework.ErrUnsupportedDomain), "%T on %s: %v", tc.s, tc.spec.Name, err)
	}
	// Run refuses too, before any work.
	ev := framework.NewEvaluator(rbmEnergy(2, 1))
	c := &framework.Chains{X: mat.NewDense(1, 2, nil), Theta: make([]float64, 5), Eval: ev,
		RNG: framework.Streams{}.Rands("x", 1)}
	require.ErrorIs(t, mala.Run(c, 1), framework.ErrUnsupportedDomain)
	require.Zero(t, ev.Counts().Requests)
}

func TestRunErrors(t *testing.T) {
	s, _ := NewULA(DefaultULAOptions())
	ev := framework.NewEvaluator(gaussDiag(2))
	rngs := framework.Streams{}.Rands("x", 3)
	for _, tc := range []struct {
		name string
		c    *framework.Chains
		want string
	}{
		{"nil", nil, "need states"},
		{"dim", &framework.Chains{X: mat.NewDense(3, 3, nil), Theta: gaussTheta(1, 1), Eval: ev, RNG: rngs}, "chain states X has shape 3×3, want n×2"},
		{"rng", &framework.Chains{X: mat.NewDense(3, 2, nil), Theta: gaussTheta(1, 1), Eval: ev, RNG: rngs[:2]}, "3 chains but 2 random streams"},
		{"theta", &framework.Chains{X: mat.NewDense(3, 2, nil), Theta: []float64{1}, Eval: ev, RNG: rngs}, "θ has shape 1, want 4"},
	} {
		err := s.Run(tc.c, 1)
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
	// A non-finite gradient stops the run with the Evaluator's error.
	c := &framework.Chains{X: mat.NewDense(3, 2, []float64{1, 1, math.Inf(1), 1, 0, 0}), Theta: gaussTheta(1, 1), Eval: ev, RNG: rngs}
	var nf *framework.NonFiniteError
	require.ErrorAs(t, s.Run(c, 1), &nf)
}

func TestDrawOptionsAndJSON(t *testing.T) {
	assert.Equal(t, []string{"steps", "chains", "warmup", "thin", "init", "init_scale"}, DrawKeys())
	for _, tc := range []struct {
		edit func(*DrawOptions)
		key  string
	}{
		{func(o *DrawOptions) { o.Chains = 0 }, "chains"},
		{func(o *DrawOptions) { o.Warmup = -1 }, "warmup"},
		{func(o *DrawOptions) { o.Thin = 0 }, "thin"},
		{func(o *DrawOptions) { o.Steps, o.Thin = 3, 4 }, "steps"},
		{func(o *DrawOptions) { o.Init = "zeros" }, "init"},
		{func(o *DrawOptions) { o.InitScale = -1 }, "init_scale"},
	} {
		o := DefaultDrawOptions()
		require.NoError(t, o.Validate())
		tc.edit(&o)
		var ke *framework.KeyError
		require.ErrorAs(t, o.Validate(), &ke)
		assert.Equal(t, tc.key, ke.Key)
	}

	// Binary draws with a coordinate that never changes: its ESS is undefined, written null.
	g, _ := NewGibbs(GibbsOptions{})
	theta := []float64{0, 0, 0, 0, 0} // 2 visible, 1 hidden
	theta[3] = -40                    // b₂ = −40: v₂ is 0 in every draw
	dr, err := Draw(context.Background(), Target{Eval: framework.NewEvaluator(rbmEnergy(2, 1)), Theta: theta, Streams: framework.Streams{Seed: 1},
		Data: mat.NewDense(1, 2, []float64{1, 0})}, "gibbs", g,
		DrawOptions{Chains: 4, Warmup: 2, Steps: 10, Thin: 1, Init: "data"})
	require.NoError(t, err)
	d := dr.Diagnostics
	require.True(t, math.IsNaN(d.ESS[1]))
	require.Equal(t, 1.0, d.RHat[1])
	b, err := framework.MarshalJSON(d, false)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	require.Nil(t, back["ess"].([]any)[1])
	require.Equal(t, 1.0, back["rhat"].([]any)[1])
	require.Equal(t, "gibbs", back["method"])
	require.EqualValues(t, 10, back["draws_per_chain"])
	require.Len(t, back["energy_trace"], 10)
}

// A sampler restored from its saved state in the middle of warm-up continues exactly as
// one that was never interrupted.
func TestAdaptiveStateRoundTrip(t *testing.T) {
	for _, tc := range samplerCases() {
		if tc.name != "mala" && tc.name != "hmc" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			e := tc.energy()
			newChains := func() *framework.Chains {
				c := &framework.Chains{X: mat.NewDense(5, 3, nil), Theta: tc.theta, Eval: framework.NewEvaluator(e),
					RNG: framework.Streams{Seed: 4}.Rands("t", 5), Adapt: true}
				in := Init{Kind: "normal", Scale: 1, Domain: framework.Continuous, Dim: 3}
				in.Fill(c.X, c.RNG)
				return c
			}
			a, _ := tc.build()
			ca := newChains()
			require.NoError(t, a.Run(ca, 10))
			state, err := a.(framework.Stateful).MarshalBinary()
			require.NoError(t, err)
			require.NoError(t, a.Run(ca, 7))

			b, _ := tc.build()
			cb := newChains()
			require.NoError(t, b.Run(cb, 10)) // same chains, then a fresh sampler takes over
			c, _ := tc.build()
			require.NoError(t, c.(framework.Stateful).UnmarshalBinary(state))
			require.NoError(t, c.Run(cb, 7))
			require.Equal(t, ca.X.RawMatrix().Data, cb.X.RawMatrix().Data)
			require.Equal(t, a.(StepSizer).StepSize(), c.(StepSizer).StepSize())
		})
	}
}

// Once sized, a sampler allocates nothing per step (with one Evaluator worker: more
// workers cost the Evaluator its goroutines).
func TestNoAllocationPerStep(t *testing.T) {
	for _, tc := range samplerCases() {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.build()
			require.NoError(t, err)
			e := tc.energy()
			spec := e.Spec()
			ev := framework.NewEvaluator(e)
			ev.Workers = 1
			c := &framework.Chains{X: mat.NewDense(300, spec.Dim, nil), Theta: tc.theta, Eval: ev,
				RNG: framework.Streams{Seed: 2}.Rands("a", 300)}
			in := Init{Kind: tc.init, Scale: 1, Domain: spec.Domain, Dim: spec.Dim}
			in.Fill(c.X, c.RNG)
			require.NoError(t, s.Run(c, 2))
			if raceEnabled {
				t.Skip("allocation counts are meaningless under the race detector")
			}
			c.Theta = append([]float64(nil), c.Theta...) // θ changes between runs, as in training
			assert.Zero(t, testing.AllocsPerRun(10, func() {
				c.Theta[0] += 1e-9
				require.NoError(t, s.Run(c, 1))
			}))
		})
	}
}

func TestWriteCSVAndSummary(t *testing.T) {
	s, err := NewMALA(DefaultMALAOptions())
	require.NoError(t, err)
	dr := draw(t, gaussDiag(2), gaussTheta(1, 4), s, DrawOptions{Chains: 3, Warmup: 5, Steps: 9, Thin: 3, Init: "normal", InitScale: 1}, 3)
	var buf strings.Builder
	require.NoError(t, dr.WriteCSV(&buf, []string{"a", "b,c"}))
	ds, err := framework.ParseCSV("samples.csv", strings.NewReader(buf.String()))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b,c", "energy"}, ds.Header)
	n, _ := dr.Samples.Dims()
	for i := 0; i < n; i++ {
		assert.Equal(t, dr.Samples.RawRowView(i), ds.X.RawRowView(i)[:2], "values round-trip bit for bit")
		assert.Equal(t, dr.Energy[i], ds.X.At(i, 2))
	}
	require.Error(t, dr.WriteCSV(&buf, []string{"a"}))
	h := dr.Head(4)
	assert.Equal(t, 4, h.Samples.RawMatrix().Rows)
	assert.Equal(t, dr.Energy[:4], h.Energy)
	assert.Equal(t, dr.Samples.RawRowView(3), h.Samples.RawRowView(3))

	sum := dr.Diagnostics.Summary()
	for _, want := range []string{"test on gaussian (d = 2): 3 chains × 3 draws (warm-up 5, thin 3)", "acceptance", "min ESS", "chain-steps/s"} {
		assert.Contains(t, sum, want)
	}
}
