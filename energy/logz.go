package energy

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/numeric"
)

// Tractable log-partition functions (framework.Partitioner).

// LogPartition returns log Z of the Gaussian in closed form,
//
//	log Z = (d/2) log 2π − ½ log det W + ½ bᵀW⁻¹b,
//
// and ∇θ log Z = −E[∇θE]: −½(Σ + μμᵀ) for A (W = (A + Aᵀ)/2, Σ = W⁻¹, μ = Σb) or −½(Σₖₖ + μₖ²)
// for the diagonal w, and μ for b. W must be positive definite.
func (g *Gaussian) LogPartition(theta, grad []float64) (float64, error) {
	d := g.d
	w := mat.NewSymDense(d, nil)
	var b []float64
	if g.diagonal {
		for k := 0; k < d; k++ {
			w.SetSym(k, k, theta[k])
		}
		b = theta[d:]
	} else {
		for k := 0; k < d; k++ {
			for l := k; l < d; l++ {
				w.SetSym(k, l, 0.5*(theta[k*d+l]+theta[l*d+k]))
			}
		}
		b = theta[d*d:]
	}
	var chol mat.Cholesky
	if !chol.Factorize(w) {
		return 0, fmt.Errorf("gaussian: W is not positive definite: %w", framework.ErrNotNormalisable)
	}
	var mu mat.VecDense
	if err := chol.SolveVecTo(&mu, mat.NewVecDense(d, b)); err != nil {
		return 0, fmt.Errorf("gaussian: %w: %w", err, framework.ErrNotNormalisable)
	}
	logZ := 0.5*float64(d)*math.Log(2*math.Pi) - 0.5*chol.LogDet() + 0.5*floats.Dot(b, mu.RawVector().Data)
	if grad == nil {
		return logZ, nil
	}
	var sigma mat.SymDense
	if err := chol.InverseTo(&sigma); err != nil {
		return 0, fmt.Errorf("gaussian: %w: %w", err, framework.ErrNotNormalisable)
	}
	off := d * d
	if g.diagonal {
		off = d
		for k := 0; k < d; k++ {
			grad[k] = -0.5 * (sigma.At(k, k) + mu.AtVec(k)*mu.AtVec(k))
		}
	} else {
		for k := 0; k < d; k++ {
			for l := 0; l < d; l++ {
				grad[k*d+l] = -0.5 * (sigma.At(k, l) + mu.AtVec(k)*mu.AtVec(l))
			}
		}
	}
	for k := 0; k < d; k++ {
		grad[off+k] = mu.AtVec(k)
	}
	return logZ, nil
}

// MaxHiddenLogPartition is the largest number of hidden units RBM.LogPartition sums out.
const MaxHiddenLogPartition = 20

// LogPartition returns log Z of the RBM by summing out the visible units given each of the 2^H
// hidden states,
//
//	Z = Σ_h exp(cᵀh) Πₖ (1 + exp(bₖ + (Wᵀh)ₖ)),
//
// and ∇θ log Z = E[h vᵀ], E[v], E[h] under the joint, with E[v | h] = σ(b + Wᵀh): O(2^H·H·D).
func (e *RBM) LogPartition(theta, grad []float64) (float64, error) {
	H, D := e.h, e.d
	if H > MaxHiddenLogPartition {
		return 0, fmt.Errorf("rbm: %d hidden units, beyond %d for summing them out", H, MaxHiddenLogPartition)
	}
	W, b, c := e.blocks(theta)
	if grad == nil {
		return RBMLogZ(W, b, c, H, D, 0), nil
	}
	nh := 1 << H
	logw := make([]float64, nh)
	act := make([]float64, D)
	for k := 0; k < nh; k++ {
		copy(act, b)
		s := 0.0
		for j := 0; j < H; j++ {
			if k>>j&1 == 1 {
				s += c[j]
				floats.Add(act, W[j*D:(j+1)*D])
			}
		}
		for _, a := range act {
			s += numeric.Softplus(a)
		}
		logw[k] = s
	}
	logZ := floats.LogSumExp(logw)
	clear(grad)
	gW, gb, gc := e.blocks(grad)
	for k := 0; k < nh; k++ {
		p := math.Exp(logw[k] - logZ)
		copy(act, b)
		for j := 0; j < H; j++ {
			if k>>j&1 == 1 {
				floats.Add(act, W[j*D:(j+1)*D])
			}
		}
		for i, a := range act {
			act[i] = numeric.Sigmoid(a)
		}
		floats.AddScaled(gb, p, act)
		for j := 0; j < H; j++ {
			if k>>j&1 == 1 {
				gc[j] += p
				floats.AddScaled(gW[j*D:(j+1)*D], p, act)
			}
		}
	}
	return logZ, nil
}

// RBMLogZ returns log Z = log Σ_v exp(−F(v)) of the binary RBM with blocks w (h×d), b (d) and
// c (h), exactly, by summing out the visible units instead:
//
//	Z = Σ_h exp(cᵀh) Πᵢ (1 + exp(bᵢ + (Wᵀh)ᵢ)),
//
// a sum over the 2^h hidden states that costs O(2^h·d). The states are split into a high part
// (outer loop) and the low min(h, 10) bits, whose products Wᵀh_low are tabled once. workers
// goroutines (0: GOMAXPROCS) share the outer loop; the partial sums are combined in a fixed
// order, so the result does not depend on workers. The caller bounds h (2^h terms).
func RBMLogZ(w, b, c []float64, h, d, workers int) float64 {
	lowBits := min(h, 10)
	nLow, nHigh := 1<<lowBits, 1<<(h-lowBits)
	// Table of Wᵀh and cᵀh over the low bits (hidden units 0..lowBits−1).
	lowW := make([]float64, nLow*d)
	lowC := make([]float64, nLow)
	for k := 0; k < nLow; k++ {
		row := lowW[k*d : (k+1)*d]
		for j := 0; j < lowBits; j++ {
			if k>>j&1 == 1 {
				lowC[k] += c[j]
				for i, wv := range w[j*d : (j+1)*d] {
					row[i] += wv
				}
			}
		}
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, nHigh))
	parts := make([]float64, nHigh)
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func(wk int) {
			defer wg.Done()
			base := make([]float64, d)
			vals := make([]float64, nLow)
			for hi := wk; hi < nHigh; hi += workers {
				copy(base, b)
				cHigh := 0.0
				for j := lowBits; j < h; j++ {
					if hi>>(j-lowBits)&1 == 1 {
						cHigh += c[j]
						for i, wv := range w[j*d : (j+1)*d] {
							base[i] += wv
						}
					}
				}
				for k := 0; k < nLow; k++ {
					s := cHigh + lowC[k]
					for i, v := range lowW[k*d : (k+1)*d] {
						s += numeric.Softplus(base[i] + v)
					}
					vals[k] = s
				}
				parts[hi] = floats.LogSumExp(vals)
			}
		}(wk)
	}
	wg.Wait()
	return floats.LogSumExp(parts)
}
