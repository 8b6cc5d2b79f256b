package energy

import (
	"fmt"
	"math"

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
	if grad == nil {
		return logZ, nil
	}
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
