package samplers

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
)

// isingExact returns E[sᵢ] and E[sᵢsⱼ] under p(s) ∝ exp(hᵀs + ½sᵀJs) by enumerating the 2^d
// states (θ = (h, J d×d) as energy.Ising lays it out).
func isingExact(theta []float64, d int) (m []float64, c [][]float64) {
	h, J := theta[:d], theta[d:]
	m = make([]float64, d)
	c = make([][]float64, d)
	for i := range c {
		c[i] = make([]float64, d)
	}
	s := make([]float64, d)
	z := 0.0
	for b := 0; b < 1<<d; b++ {
		for i := range s {
			s[i] = float64(2*(b>>i&1) - 1)
		}
		lp := 0.0
		for i := range s {
			lp += h[i] * s[i]
			for j := i + 1; j < d; j++ {
				lp += J[i*d+j] * s[i] * s[j]
			}
		}
		p := math.Exp(lp)
		z += p
		for i := range s {
			m[i] += p * s[i]
			for j := range s {
				c[i][j] += p * s[i] * s[j]
			}
		}
	}
	for i := range m {
		m[i] /= z
		for j := range c[i] {
			c[i][j] /= z
		}
	}
	return m, c
}

func TestGibbsIsing10Marginals(t *testing.T) {
	d, theta, err := energy.LoadIsingParams("../examples/data/ising10_params.csv")
	require.NoError(t, err)
	require.Equal(t, 10, d)
	m, c := isingExact(theta, d)
	ising, err := energy.NewIsing(d, true)
	require.NoError(t, err)
	g, err := NewGibbs(GibbsOptions{})
	require.NoError(t, err)
	ev := framework.NewEvaluator(ising)
	dr, err := Draw(context.Background(), Target{Eval: ev, Theta: theta, Streams: framework.Streams{Seed: 21}}, "gibbs", g,
		DrawOptions{Chains: 100, Warmup: 50, Steps: 1500, Thin: 1, Init: "uniform"})
	require.NoError(t, err)
	// One request of n rows per site, plus one for the initial energies: the energies stay
	// known between calls of Run, so Draw asks for none.
	sweeps := int64(50 + 1500)
	require.Equal(t, 1+sweeps*int64(d), dr.Diagnostics.Counts.Requests)
	require.Equal(t, 100*(1+sweeps*int64(d)), dr.Diagnostics.Counts.Rows)
	for i := 0; i < d; i++ {
		got, mcse := mcEstimate(dr, func(x []float64) float64 { return x[i] })
		within(t, fmt.Sprintf("E[s%d]", i+1), got, m[i], mcse, 4)
		for j := i + 1; j < d; j++ {
			got, mcse := mcEstimate(dr, func(x []float64) float64 { return x[i] * x[j] })
			within(t, fmt.Sprintf("E[s%d·s%d]", i+1, j+1), got, c[i][j], mcse, 4)
		}
	}
}

// rbmExact returns E[vⱼ] of the RBM p(v, h) ∝ exp(bᵀv + cᵀh + hᵀWv) by enumerating every
// joint state (v, h): independent of the free-energy formula the sampler works with.
func rbmExact(theta []float64, dv, nh int) []float64 {
	W, b, c := theta[:nh*dv], theta[nh*dv:nh*dv+dv], theta[nh*dv+dv:]
	m := make([]float64, dv)
	z := 0.0
	for bv := 0; bv < 1<<dv; bv++ {
		for bh := 0; bh < 1<<nh; bh++ {
			lp := 0.0
			for j := 0; j < dv; j++ {
				lp += b[j] * float64(bv>>j&1)
			}
			for k := 0; k < nh; k++ {
				hk := float64(bh >> k & 1)
				lp += c[k] * hk
				for j := 0; j < dv; j++ {
					lp += hk * W[k*dv+j] * float64(bv>>j&1)
				}
			}
			p := math.Exp(lp)
			z += p
			for j := range m {
				m[j] += p * float64(bv>>j&1)
			}
		}
	}
	for j := range m {
		m[j] /= z
	}
	return m
}

func TestGibbsRBMMarginals(t *testing.T) {
	const dv, nh = 6, 3
	theta := make([]float64, nh*dv+dv+nh)
	for i := range theta {
		theta[i] = 0.9 * math.Sin(float64(3*i+1)) // a fixed RBM with marginals away from 0 and 1
	}
	want := rbmExact(theta, dv, nh)
	for _, block := range []bool{false, true} {
		t.Run(fmt.Sprintf("block=%v", block), func(t *testing.T) {
			g, err := NewGibbs(GibbsOptions{Block: block})
			require.NoError(t, err)
			dr := draw(t, rbmEnergy(dv, nh), theta, g,
				DrawOptions{Chains: 100, Warmup: 50, Steps: 1000, Thin: 1, Init: "uniform"}, 22)
			for j := 0; j < dv; j++ {
				got, mcse := mcEstimate(dr, func(x []float64) float64 { return x[j] })
				within(t, fmt.Sprintf("E[v%d]", j+1), got, want[j], mcse, 4)
			}
			a := dr.Diagnostics.Acceptance
			require.True(t, a > 0 && a < 1, "fraction of changed units %v", a)
		})
	}
}
