//go:build slow

package eval_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// seSimulations is the number of data sets of each simulation. With 500 replicates the
// empirical standard deviation of an estimate is known to 1/√(2·499) ≈ 3.2%, so the 10% bound
// on mean SE / SD is three of its standard errors; the pooled coverage over all parameters and
// replicates is known to about ±0.4%.
const seSimulations = 500

// checkSimulation asserts, for each parameter k, that the mean reported standard error is
// within 10% of the empirical standard deviation of the estimates, and that the 95% Wald
// intervals, pooled over parameters and replicates, cover the truth 93–97% of the time.
func checkSimulation(t *testing.T, est, ses [][]float64, truth []float64, z float64) {
	t.Helper()
	p := len(truth)
	covered, total := 0, 0
	worst := 0.0
	col := make([]float64, len(est))
	for k := 0; k < p; k++ {
		meanSE := 0.0
		for r := range est {
			col[r] = est[r][k]
			meanSE += ses[r][k] / float64(len(est))
			if math.Abs(est[r][k]-truth[k]) <= z*ses[r][k] {
				covered++
			}
			total++
		}
		sd := stat.StdDev(col, nil)
		ratio := meanSE / sd
		worst = math.Max(worst, math.Abs(ratio-1))
		assert.InDelta(t, 1, ratio, 0.10, "parameter %d: mean SE %.4g, SD of the estimates %.4g", k, meanSE, sd)
	}
	cov := float64(covered) / float64(total)
	t.Logf("%d replicates, %d parameters: worst |mean SE/SD − 1| = %.3f, coverage of the 95%% intervals %.4f", len(est), p, worst, cov)
	assert.GreaterOrEqual(t, cov, 0.93)
	assert.LessOrEqual(t, cov, 0.97)
}

// Score matching on a known 3-d Gaussian (tridiagonal precision K, mean μ ≠ 0): the sandwich
// standard errors of the closed-form estimate, over 500 data sets of n = 1000.
func TestSlowSESimulationGaussian(t *testing.T) {
	const d, n = 3, 1000
	K := mat.NewSymDense(d, []float64{2, -0.8, 0, -0.8, 2, -0.8, 0, -0.8, 2})
	mu := []float64{0.5, -1, 0.25}
	var chol mat.Cholesky
	require.True(t, chol.Factorize(K))
	var sigma mat.SymDense
	require.NoError(t, chol.InverseTo(&sigma))
	var sc mat.Cholesky
	require.True(t, sc.Factorize(&sigma))
	var L mat.TriDense
	sc.LTo(&L)
	b := make([]float64, d)
	for j := 0; j < d; j++ {
		for k := 0; k < d; k++ {
			b[j] += K.At(j, k) * mu[k]
		}
	}
	// Free parameters: W's upper triangle, then b.
	var truth []float64
	for j := 0; j < d; j++ {
		for k := j; k < d; k++ {
			truth = append(truth, K.At(j, k))
		}
	}
	truth = append(truth, b...)
	e, err := energy.NewGaussian(d, false)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(2026, 16))
	var est, ses [][]float64
	var z float64
	for r := 0; r < seSimulations; r++ {
		x := mat.NewDense(n, d, nil)
		zr := make([]float64, d)
		for i := 0; i < n; i++ {
			for j := range zr {
				zr[j] = rng.NormFloat64()
			}
			for j := 0; j < d; j++ {
				v := mu[j]
				for k := 0; k <= j; k++ {
					v += L.At(j, k) * zr[k]
				}
				x.Set(i, j, v)
			}
		}
		theta := gaussSMFit(t, e, x)
		se, err := eval.StandardErrors(framework.NewEvaluator(e), trainers.NewScoreMatching(trainers.SMOptions{}), x, theta,
			e.Spec().Blocks, framework.Streams{Seed: uint64(r)}, eval.DefaultSEOptions())
		require.NoError(t, err)
		require.False(t, se.Singular)
		z = se.Z
		var ev, sv []float64
		for j := 0; j < d; j++ {
			for k := j; k < d; k++ {
				ev, sv = append(ev, se.Blocks[0].Estimate[j*d+k]), append(sv, se.Blocks[0].SE[j*d+k])
			}
		}
		ev, sv = append(ev, se.Blocks[1].Estimate...), append(sv, se.Blocks[1].SE...)
		est, ses = append(est, ev), append(ses, sv)
	}
	checkSimulation(t, est, ses, truth, z)
}

// Pseudolikelihood on a known 8-spin Ising model (exact samples by enumerating its 256
// states), fitted by L-BFGS: the sandwich standard errors over 500 data sets of n = 2000.
func TestSlowSESimulationIsing(t *testing.T) {
	const d, n = 8, 2000
	e, err := energy.NewIsing(d, true)
	require.NoError(t, err)
	p := e.Spec().NumParams()
	trueTheta := make([]float64, p)
	prng := rand.New(rand.NewPCG(8, 8))
	for i := 0; i < d; i++ {
		trueTheta[i] = 0.2 * prng.NormFloat64()
		for j := i + 1; j < d; j++ {
			v := 0.0
			if prng.Float64() < 0.5 {
				v = 0.3 * prng.NormFloat64()
			}
			trueTheta[d+i*d+j], trueTheta[d+j*d+i] = v, v
		}
	}
	// Exact sampling: the 256 states and their probabilities.
	states := mat.NewDense(1<<d, d, nil)
	for k := 0; k < 1<<d; k++ {
		framework.Spin.State(states.RawRowView(k), uint64(k))
	}
	var res framework.Result
	require.NoError(t, framework.NewEvaluator(e).Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: states, Theta: trueTheta}, &res))
	cum := make([]float64, 1<<d)
	acc := 0.0
	for k, en := range res.Energy {
		acc += math.Exp(-en)
		cum[k] = acc
	}
	var truth []float64
	truth = append(truth, trueTheta[:d]...)
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			truth = append(truth, trueTheta[d+i*d+j])
		}
	}
	rng := rand.New(rand.NewPCG(2026, 8))
	var est, ses [][]float64
	var z float64
	for r := 0; r < seSimulations; r++ {
		x := mat.NewDense(n, d, nil)
		for i := 0; i < n; i++ {
			u := rng.Float64() * acc
			k := 0
			for cum[k] < u {
				k++
			}
			copy(x.RawRowView(i), states.RawRowView(k))
		}
		theta := make([]float64, p)
		opt, err := trainers.NewLBFGS(trainers.DefaultBatchOptions())
		require.NoError(t, err)
		out, err := framework.Train(context.Background(), &framework.Run{
			Eval: framework.NewEvaluator(e), Trainer: trainers.NewPseudolikelihood(trainers.DefaultPLOptions()), Optimizer: opt,
			Train: x, Theta: theta, Streams: framework.Streams{Seed: uint64(r)},
			Schedule: framework.Schedule{Batch: n, Steps: 500, LogEvery: 100},
		})
		require.NoError(t, err)
		require.True(t, out.Solver.Converged, out.Solver.Status)
		se, err := eval.StandardErrors(framework.NewEvaluator(e), trainers.NewPseudolikelihood(trainers.DefaultPLOptions()), x, theta,
			e.Spec().Blocks, framework.Streams{Seed: uint64(r)}, eval.DefaultSEOptions())
		require.NoError(t, err)
		require.False(t, se.Singular)
		z = se.Z
		ev := append([]float64(nil), se.Blocks[0].Estimate...)
		sv := append([]float64(nil), se.Blocks[0].SE...)
		for i := 0; i < d; i++ {
			for j := i + 1; j < d; j++ {
				ev, sv = append(ev, se.Blocks[1].Estimate[i*d+j]), append(sv, se.Blocks[1].SE[i*d+j])
			}
		}
		est, ses = append(est, ev), append(ses, sv)
	}
	checkSimulation(t, est, ses, truth, z)
}

// gauss2Sample draws n rows of N(μ, Σ) in 2-d from rng.
func gauss2Sample(rng *rand.Rand, n int, mu []float64, L *mat.TriDense) *mat.Dense {
	x := mat.NewDense(n, 2, nil)
	for i := 0; i < n; i++ {
		z0, z1 := rng.NormFloat64(), rng.NormFloat64()
		x.Set(i, 0, mu[0]+L.At(0, 0)*z0)
		x.Set(i, 1, mu[1]+L.At(1, 0)*z0+L.At(1, 1)*z1)
	}
	return x
}

// DSM (σ = 0.5, two draws per row, noise fixed per data set and solved by L-BFGS) and NCE
// (Gaussian noise fitted to each data set, ν = 2, fixed, L-BFGS) on a known 2-d Gaussian: over
// 1000 data sets of n = 2000 the sandwich standard errors, whose per-observation terms carry the
// noise of each row (DSM) or the noise sample as a second group (NCE), match the spread of the
// estimates (mean SE within 10% of the SD) and their 95% intervals cover the population target
// 93–97% of the time. DSM's target is the precision of the noisy data, (Σ + σ²I)⁻¹ (and b = Wμ);
// NCE's is the true (W, b). (With 300 data sets the SD of the estimates is known only to 4%, and
// one DSM parameter's ratio came out at 0.895: 1000 it is.)
func TestSlowSESimulationDSMAndNCE(t *testing.T) {
	const n, sims = 2000, 1000
	sigma := mat.NewSymDense(2, []float64{1, 0.5, 0.5, 2})
	mu := []float64{0.5, -1}
	var sc mat.Cholesky
	require.True(t, sc.Factorize(sigma))
	var L mat.TriDense
	sc.LTo(&L)
	target := func(noise float64) []float64 {
		s := mat.NewSymDense(2, nil)
		s.CopySym(sigma)
		s.SetSym(0, 0, s.At(0, 0)+noise*noise)
		s.SetSym(1, 1, s.At(1, 1)+noise*noise)
		var c mat.Cholesky
		require.True(t, c.Factorize(s))
		var w mat.SymDense
		require.NoError(t, c.InverseTo(&w))
		b := []float64{w.At(0, 0)*mu[0] + w.At(0, 1)*mu[1], w.At(1, 0)*mu[0] + w.At(1, 1)*mu[1]}
		// free parameters: W₁₁, W₁₂, W₂₂, b₁, b₂
		return []float64{w.At(0, 0), w.At(0, 1), w.At(1, 1), b[0], b[1]}
	}
	e, err := energy.NewGaussian(2, false)
	require.NoError(t, err)
	free := func(th []float64, se *eval.SE) ([]float64, []float64) {
		w, b := se.Blocks[0], se.Blocks[1]
		return []float64{w.Estimate[0], w.Estimate[1], w.Estimate[3], b.Estimate[0], b.Estimate[1]},
			[]float64{w.SE[0], w.SE[1], w.SE[3], b.SE[0], b.SE[1]}
	}
	for _, tc := range []struct {
		name  string
		new   func() framework.Trainer
		truth []float64
	}{
		{"dsm", func() framework.Trainer {
			tr, _ := trainers.NewDenoisingScoreMatching(trainers.DSMOptions{Sigma: 0.5, Draws: 2})
			return tr
		}, target(0.5)},
		{"nce", func() framework.Trainer {
			tr, _ := trainers.NewNoiseContrastive(trainers.NCEOptions{Noise: "gaussian", Components: 1, Nu: 2})
			return tr
		}, target(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2026, 2))
			var est, ses [][]float64
			var z float64
			for r := 0; r < sims; r++ {
				x := gauss2Sample(rng, n, mu, &L)
				tr := tc.new()
				p := e.Spec().NumParams()
				blocks := e.Spec().Blocks
				theta := make([]float64, p)
				require.NoError(t, e.InitParams(theta, nil))
				if ex, ok := tr.(framework.Extender); ok {
					blocks = append(append([]framework.Block(nil), blocks...), ex.ExtraBlocks()...)
					theta = append(theta, 2.5)
				}
				opt, err := trainers.NewLBFGS(trainers.DefaultBatchOptions())
				require.NoError(t, err)
				streams := framework.Streams{Seed: uint64(r + 1)}
				out, err := framework.Train(context.Background(), &framework.Run{
					Eval: framework.NewEvaluator(e), Trainer: tr, Optimizer: opt,
					Train: x, Theta: theta, Streams: streams,
					Schedule: framework.Schedule{Batch: n, Steps: 1000, LogEvery: 1000},
				})
				require.NoError(t, err)
				require.True(t, out.Solver.Converged, "%s: %s", out.Solver.Status, out.Solver.Message)
				se, err := eval.StandardErrors(framework.NewEvaluator(e), tc.new(), x, theta, blocks, streams, eval.DefaultSEOptions())
				require.NoError(t, err)
				require.False(t, se.Singular, se.Message)
				z = se.Z
				ev, sv := free(theta, se)
				est, ses = append(est, ev), append(ses, sv)
			}
			checkSimulation(t, est, ses, tc.truth, z)
		})
	}
}
