package energy

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/framework"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestIsingDerivatives(t *testing.T) {
	for _, spins := range []bool{true, false} {
		for _, points := range []string{"discrete", "real"} {
			for seed := uint64(1); seed <= 3; seed++ {
				t.Run(fmt.Sprintf("spins=%v/%s/seed=%d", spins, points, seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, 30))
					e, err := NewIsing(5, spins)
					require.NoError(t, err)
					// A random, deliberately non-symmetric stored block: the energy uses
					// only its symmetric off-diagonal part.
					theta := randomTheta(e, rng, 0.5)
					var x *mat.Dense
					switch {
					case points == "real":
						x = normalPoints(rng, 6, 5, 1)
					case spins:
						x = discretePoints(rng, 6, 5, -1, 1)
					default:
						x = discretePoints(rng, 6, 5, 0, 1)
					}
					requireChecks(t, e, theta, x, check.Options{Seed: seed})
					requireFallback(t, e, theta, x, check.Options{Seed: seed})
					requireLinear(t, e, theta, x)
				})
			}
		}
	}
}

// isingDirect is E(s) = −Σᵢ hᵢsᵢ − Σ_{i<j} Jᵢⱼsᵢsⱼ summed pair by pair, with J the symmetric
// off-diagonal part of the stored block.
func isingDirect(theta, s []float64) float64 {
	d := len(s)
	h, a := theta[:d], theta[d:]
	e := 0.0
	for i := 0; i < d; i++ {
		e -= h[i] * s[i]
		for j := i + 1; j < d; j++ {
			e -= 0.5 * (a[i*d+j] + a[j*d+i]) * s[i] * s[j]
		}
	}
	return e
}

func isingEnergies(t *testing.T, e framework.Energy, theta []float64, x *mat.Dense) []float64 {
	t.Helper()
	n, d := x.Dims()
	var res framework.Result
	req := framework.Request{Outputs: framework.OutEnergy, X: x, Theta: theta}
	res.Reset(req.Outputs, n, d, len(theta))
	require.NoError(t, e.Evaluate(&req, &res))
	return res.Energy
}

func TestIsingDirectSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	e, err := NewIsing(6, true)
	require.NoError(t, err)
	theta := randomTheta(e, rng, 1)
	x := discretePoints(rng, 20, 6, -1, 1)
	got := isingEnergies(t, e, theta, x)
	for i := range got {
		assert.InDelta(t, isingDirect(theta, mat.Row(nil, i, x)), got[i], 1e-12)
	}
}

// TestIsing10Reference enumerates the 1024 states of the ising10 model and compares log Z,
// the average log-likelihood and pseudo-log-likelihood of the training set with the
// reference values that examples/data/PROVENANCE.md gives (computed by numpy).
func TestIsing10Reference(t *testing.T) {
	raw, err := os.ReadFile("../examples/data/ising10_summary.json")
	require.NoError(t, err)
	var ref map[string]any
	require.NoError(t, json.Unmarshal(raw, &ref))
	train, err := framework.ReadCSV("../examples/data/ising10_train.csv")
	require.NoError(t, err)

	for _, tc := range []struct{ file, key string }{
		{"ising10_params.csv", "true"}, {"ising10_mle.csv", "mle"}, {"ising10_mple.csv", "mple"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			d, theta, err := LoadIsingParams("../examples/data/" + tc.file)
			require.NoError(t, err)
			require.Equal(t, 10, d)
			e, err := NewIsing(d, true)
			require.NoError(t, err)

			// log Z over all 2¹⁰ states, s_i = +1 if bit i−1 of the index is set.
			states := mat.NewDense(1<<d, d, nil)
			for b := 0; b < 1<<d; b++ {
				for i := 0; i < d; i++ {
					states.Set(b, i, float64(2*((b>>i)&1)-1))
				}
			}
			en := isingEnergies(t, e, theta, states)
			m := math.Inf(1)
			for _, v := range en {
				m = math.Min(m, v)
			}
			z := 0.0
			for _, v := range en {
				z += math.Exp(m - v)
			}
			logZ := math.Log(z) - m
			assert.InDelta(t, ref["logZ_"+tc.key].(float64), logZ, 1e-10)

			// average log-likelihood and pseudo-log-likelihood of the training set
			n, _ := train.X.Dims()
			et := isingEnergies(t, e, theta, train.X)
			flipped := mat.DenseCopyOf(train.X)
			pl := 0.0
			for i := 0; i < d; i++ {
				for r := 0; r < n; r++ {
					flipped.Set(r, i, -train.X.At(r, i))
				}
				ef := isingEnergies(t, e, theta, flipped)
				for r := 0; r < n; r++ {
					pl += -math.Log1p(math.Exp(et[r] - ef[r])) // log σ(E(s⁽ⁱ⁾) − E(s))
					flipped.Set(r, i, train.X.At(r, i))
				}
			}
			ll := 0.0
			for _, v := range et {
				ll -= v + logZ
			}
			assert.InDelta(t, ref["avg_loglik_train_"+tc.key].(float64), ll/float64(n), 1e-10)
			assert.InDelta(t, ref["avg_pl_train_"+tc.key].(float64), pl/float64(n), 1e-10)
		})
	}
}

func TestLoadIsingParamsErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, msg string }{
		{"shape", "h,J1\n0,0\n1,0\n", "columns"},
		{"header", "h,K1\n0.5,0\n", "K1"},
		{"diag", "h,J1,J2\n0,1,0\n0,0,0\n", "diagonal"},
		{"asym", "h,J1,J2\n0,0,0.5\n0,0.25,0\n", "symmetric"},
	} {
		path := dir + "/" + tc.name + ".csv"
		require.NoError(t, os.WriteFile(path, []byte(tc.body), 0o644))
		_, _, err := LoadIsingParams(path)
		assert.ErrorContains(t, err, tc.msg, tc.name)
	}
}
