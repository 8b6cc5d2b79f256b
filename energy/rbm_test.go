package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/framework"
)

func TestRBMDerivatives(t *testing.T) {
	for _, points := range []string{"binary", "real"} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", points, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 40))
				e, err := NewRBM(5, 4)
				require.NoError(t, err)
				theta := randomTheta(e, rng, 0.7)
				x := discretePoints(rng, 6, 5, 0, 1)
				if points == "real" {
					x = normalPoints(rng, 6, 5, 1)
				}
				requireChecks(t, e, theta, x, check.Options{Seed: seed})
				requireFallback(t, e, theta, x, check.Options{Seed: seed})
			})
		}
	}
}

// rbmFreeEnergyEnum is −log Σ_h exp(bᵀv + cᵀh + hᵀWv) over all 2^H hidden states.
func rbmFreeEnergyEnum(theta, v []float64, H int) float64 {
	D := len(v)
	w, b, c := theta[:H*D], theta[H*D:H*D+D], theta[H*D+D:]
	terms := make([]float64, 1<<H)
	for s := range terms {
		t := 0.0
		for k := 0; k < D; k++ {
			t += b[k] * v[k]
		}
		for j := 0; j < H; j++ {
			if s>>j&1 == 1 {
				t += c[j]
				for k := 0; k < D; k++ {
					t += w[j*D+k] * v[k]
				}
			}
		}
		terms[s] = t
	}
	return -floats.LogSumExp(terms)
}

func energies(t *testing.T, e framework.Energy, theta []float64, x *mat.Dense) []float64 {
	t.Helper()
	n, d := x.Dims()
	var res framework.Result
	req := framework.Request{Outputs: framework.OutEnergy, X: x, Theta: theta}
	res.Reset(req.Outputs, n, d, len(theta))
	require.NoError(t, e.Evaluate(&req, &res))
	return res.Energy
}

func TestRBMFreeEnergyEnumeration(t *testing.T) {
	const D, H = 6, 5
	rng := rand.New(rand.NewPCG(5, 5))
	e, err := NewRBM(D, H)
	require.NoError(t, err)
	theta := randomTheta(e, rng, 1)
	x := discretePoints(rng, 10, D, 0, 1)
	got := energies(t, e, theta, x)
	for i := range got {
		assert.InDelta(t, rbmFreeEnergyEnum(theta, mat.Row(nil, i, x), H), got[i], 1e-12, "row %d", i)
	}
}

// TestRBMDigits checks the free energy of scikit-learn's fitted RBMs on the binarised
// digits against an independent loop, and the full pseudo-log-likelihood (H = 64) and exact
// average log-likelihood (H = 16, log Z over the 2¹⁶ hidden states) against the figures the
// scikit-learn peer reports (shared/peers/README.md: −15.87 and −20.50, to two decimals).
func TestRBMDigits(t *testing.T) {
	data, err := framework.ReadCSV("../examples/data/digits_bin.csv")
	require.NoError(t, err)
	X := data.X
	n, D := X.Dims()
	for _, tc := range []struct {
		file     string
		hidden   int
		pl, ll   float64
		checkLog bool
	}{
		{"rbm64_sklearn_digits_params.json", 64, -15.87, 0, false},
		{"rbm16_sklearn_digits_params.json", 16, 0, -20.50, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			vis, hid, theta, err := LoadSklearnRBM("../examples/data/" + tc.file)
			require.NoError(t, err)
			require.Equal(t, D, vis)
			require.Equal(t, tc.hidden, hid)
			e, err := NewRBM(vis, hid)
			require.NoError(t, err)
			F := energies(t, e, theta, X)
			w, b, c := theta[:hid*vis], theta[hid*vis:hid*vis+vis], theta[hid*vis+vis:]
			for _, i := range []int{0, 1, 500, n - 1} {
				v := mat.Row(nil, i, X)
				want := 0.0
				for k := range v {
					want -= b[k] * v[k]
				}
				for j := 0; j < hid; j++ {
					a := c[j]
					for k := range v {
						a += w[j*vis+k] * v[k]
					}
					want -= math.Log(1 + math.Exp(a))
				}
				assert.InDelta(t, want, F[i], 1e-10, "row %d", i)
			}
			if !tc.checkLog {
				// full pseudo-log-likelihood Σₖ log σ(F(v⁽ᵏ⁾) − F(v)), v⁽ᵏ⁾ = v with bit k flipped
				flipped := mat.DenseCopyOf(X)
				pl := 0.0
				for k := 0; k < D; k++ {
					for i := 0; i < n; i++ {
						flipped.Set(i, k, 1-X.At(i, k))
					}
					Ff := energies(t, e, theta, flipped)
					for i := 0; i < n; i++ {
						pl -= softplus(F[i] - Ff[i])
						flipped.Set(i, k, X.At(i, k))
					}
				}
				assert.InDelta(t, tc.pl, pl/float64(n), 0.005+1e-9)
				return
			}
			// log Z = log Σ_h exp(cᵀh + Σₖ softplus(bₖ + (Wᵀh)ₖ)) over the hidden states.
			terms := make([]float64, 1<<hid)
			act := make([]float64, vis)
			for s := range terms {
				copy(act, b)
				t := 0.0
				for j := 0; j < hid; j++ {
					if s>>j&1 == 1 {
						t += c[j]
						for k := range act {
							act[k] += w[j*vis+k]
						}
					}
				}
				for _, a := range act {
					t += softplus(a)
				}
				terms[s] = t
			}
			logZ := floats.LogSumExp(terms)
			ll := 0.0
			for _, f := range F {
				ll -= f + logZ
			}
			assert.InDelta(t, tc.ll, ll/float64(n), 0.005+1e-9)
		})
	}
}

// TestRBMBlockGibbs runs many independent chains of block Gibbs sweeps on a small RBM and
// compares the visited states' frequencies with p(v) ∝ exp(−F(v)) by enumeration; each of
// the 2^D probabilities must lie within 4.5 standard errors.
func TestRBMBlockGibbs(t *testing.T) {
	const D, H, chains, sweeps = 3, 2, 20000, 10
	rng := rand.New(rand.NewPCG(9, 9))
	e, err := NewRBM(D, H)
	require.NoError(t, err)
	theta := randomTheta(e, rng, 1.2)
	states := mat.NewDense(1<<D, D, nil)
	for s := 0; s < 1<<D; s++ {
		for k := 0; k < D; k++ {
			states.Set(s, k, float64(s>>k&1))
		}
	}
	F := energies(t, e, theta, states)
	neg := make([]float64, len(F))
	for i, f := range F {
		neg[i] = -f
	}
	logZ := floats.LogSumExp(neg)

	x := mat.NewDense(chains, D, nil) // all chains start at v = 0
	rngs := framework.Streams{Seed: 1}.Rands("gibbs", chains)
	for range sweeps {
		require.NoError(t, e.BlockGibbs(theta, x, rngs))
	}
	counts := make([]float64, 1<<D)
	for i := 0; i < chains; i++ {
		s := 0
		for k := 0; k < D; k++ {
			v := x.At(i, k)
			require.True(t, v == 0 || v == 1)
			s |= int(v) << k
		}
		counts[s]++
	}
	for s := range counts {
		p := math.Exp(-F[s] - logZ)
		se := math.Sqrt(p * (1 - p) / chains)
		assert.InDelta(t, p, counts[s]/chains, 4.5*se, "state %03b", s)
	}

	// Same streams, same samples; wrong sizes are errors.
	x1, x2 := mat.NewDense(4, D, nil), mat.NewDense(4, D, nil)
	require.NoError(t, e.BlockGibbs(theta, x1, framework.Streams{Seed: 7}.Rands("g", 4)))
	require.NoError(t, e.BlockGibbs(theta, x2, framework.Streams{Seed: 7}.Rands("g", 4)))
	assert.Equal(t, x1.RawMatrix().Data, x2.RawMatrix().Data)
	assert.Error(t, e.BlockGibbs(theta, x1, framework.Streams{Seed: 7}.Rands("g", 3)))
	assert.Error(t, e.BlockGibbs(theta[1:], x1, framework.Streams{Seed: 7}.Rands("g", 4)))
}

func TestRBMInit(t *testing.T) {
	e, err := NewRBM(64, 64)
	require.NoError(t, err)
	theta := make([]float64, e.Spec().NumParams())
	e.InitParams(theta, rand.New(rand.NewPCG(1, 1)))
	sq := 0.0
	for _, v := range theta[:64*64] {
		sq += v * v
	}
	// sample variance of 4096 N(0, 0.01²) draws: 1e-4 ± 1e-4·√(2/4096)
	assert.InDelta(t, 1e-4, sq/4096, 5*1e-4*math.Sqrt(2.0/4096))
	for _, v := range theta[64*64:] {
		assert.Zero(t, v)
	}
	_, err = NewRBM(0, 3)
	assert.Error(t, err)
}

// bernoulli: p = 0 never and p = 1 always gives 1; otherwise the frequency of ones is p to
// within 4.5 binomial standard errors, for even and odd lengths.
func TestBernoulli(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	p := []float64{0, 1, 0.5, 0.01, 0.99, 1e-6, 0.3}
	const draws = 200000
	for _, n := range []int{len(p), len(p) - 1} {
		ones := make([]float64, n)
		dst := make([]float64, n)
		for range draws {
			bernoulli(dst, p[:n], rng)
			for j, v := range dst {
				require.True(t, v == 0 || v == 1)
				ones[j] += v
			}
		}
		for j := 0; j < n; j++ {
			se := math.Sqrt(p[j] * (1 - p[j]) / draws)
			assert.InDelta(t, p[j], ones[j]/draws, 4.5*se+1e-12, "p = %v", p[j])
		}
	}
}
