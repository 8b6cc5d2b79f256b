package samplers

import (
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Chain diagnostics for one scalar quantity observed in m chains: chains[k][t] is the value
// in chain k at kept draw t. All chains must have the same length.
//
// The estimators are those of Stan (Vehtari, Gelman, Simpson, Carpenter and Bürkner 2021,
// "Rank-normalization, folding, and localization: an improved R̂", without the rank
// normalisation): split chains, the multi-chain autocorrelation estimate and Geyer's initial
// monotone sequence.

// SplitRHat returns the potential scale reduction factor R̂ of Gelman and Rubin over split
// chains: every chain is cut into its first and second half (the middle draw of an odd
// length is dropped) and, with W the mean within-half variance and B/N the variance of the
// half means,
//
//	R̂ = √(var⁺/W),  var⁺ = (N−1)/N·W + B/N.
//
// R̂ ≈ 1 when the chains agree and have forgotten their start; values above about 1.01 say
// they have not. A quantity that is constant over all chains has R̂ = 1; one constant within
// each half but not across them has R̂ = +Inf. Fewer than 4 draws per chain give NaN.
func SplitRHat(chains [][]float64) float64 {
	halves := splitChains(chains)
	if halves == nil {
		return math.NaN()
	}
	n := float64(len(halves[0]))
	w, b := withinBetween(halves)
	if w == 0 {
		if b == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return math.Sqrt(((n-1)/n*w + b) / w)
}

// SplitESS returns the effective sample size of the mean of one quantity, estimated from
// the chains split in halves (see ESS). Splitting makes a chain that drifts count as two
// chains that disagree, which lowers the estimate as it should. Chains of fewer than 8
// draws (halves of fewer than 4) give NaN.
func SplitESS(chains [][]float64) float64 {
	halves := splitChains(chains)
	if halves == nil {
		return math.NaN()
	}
	return ESS(halves)
}

// ESS returns the effective sample size of the mean of one quantity over m chains of N
// draws each: N·m/τ with the integrated autocorrelation time τ = −1 + 2Σₜρₜ. The
// autocorrelation ρₜ combines the chains as Stan does,
//
//	ρₜ = 1 − (W − (1/m)Σₖ γₖ,ₜ)/var⁺,
//
// with γₖ,ₜ the autocovariance of chain k at lag t (by FFT), W the mean within-chain variance
// and var⁺ as in SplitRHat, so chains that disagree on the mean have a small ESS. The sum is
// truncated by Geyer's initial positive sequence (pairs ρ₂ₜ + ρ₂ₜ₊₁ while positive) and made
// monotone (Geyer's initial monotone sequence); τ is at least 1/log₁₀(N·m), so ESS can exceed
// N·m for antithetic chains, as Stan allows. A quantity constant over every chain has ESS NaN
// (undefined), as have chains of fewer than 4 draws.
func ESS(chains [][]float64) float64 {
	m := len(chains)
	if m == 0 || len(chains[0]) < 4 {
		return math.NaN()
	}
	n := len(chains[0])
	for _, c := range chains {
		if len(c) != n {
			return math.NaN()
		}
	}
	var ws acovWorkspace
	acov := make([][]float64, m)
	means := make([]float64, m)
	for k, c := range chains {
		acov[k] = make([]float64, n)
		means[k] = ws.autocov(acov[k], c)
	}
	meanVar := 0.0 // W: mean over chains of the unbiased within-chain variance
	for k := range chains {
		meanVar += acov[k][0] * float64(n) / float64(n-1)
	}
	meanVar /= float64(m)
	varPlus := meanVar * float64(n-1) / float64(n)
	if m > 1 {
		varPlus += variance(means)
	}
	if !(varPlus > 0) {
		return math.NaN()
	}
	meanAcov := func(t int) float64 {
		s := 0.0
		for k := range acov {
			s += acov[k][t]
		}
		return s / float64(m)
	}
	rho := make([]float64, n)
	rho[0] = 1
	rhoEven, rhoOdd := 1.0, 1-(meanVar-meanAcov(1))/varPlus
	rho[1] = rhoOdd
	t := 1
	// Geyer's initial positive sequence: sum pairs while their sum stays positive.
	for t < n-5 && !math.IsNaN(rhoEven+rhoOdd) && rhoEven+rhoOdd > 0 {
		rhoEven = 1 - (meanVar-meanAcov(t+1))/varPlus
		rhoOdd = 1 - (meanVar-meanAcov(t+2))/varPlus
		if rhoEven+rhoOdd >= 0 {
			rho[t+1], rho[t+2] = rhoEven, rhoOdd
		}
		t += 2
	}
	maxT := t
	if rhoEven > 0 && maxT+1 < n {
		rho[maxT+1] = rhoEven
	}
	// Geyer's initial monotone sequence: pair sums must not increase.
	for t := 1; t <= maxT-3; t += 2 {
		if rho[t+1]+rho[t+2] > rho[t-1]+rho[t] {
			rho[t+1] = (rho[t-1] + rho[t]) / 2
			rho[t+2] = rho[t+1]
		}
	}
	total := float64(n * m)
	tau := -1.0
	for _, r := range rho[:maxT] {
		tau += 2 * r
	}
	if maxT+1 < n {
		tau += rho[maxT+1]
	}
	tau = max(tau, 1/math.Log10(total))
	return total / tau
}

// splitChains returns the first and second half of every chain (views, no copy), or nil if
// a chain has fewer than 4 draws or the chains differ in length.
func splitChains(chains [][]float64) [][]float64 {
	if len(chains) == 0 || len(chains[0]) < 4 {
		return nil
	}
	n := len(chains[0])
	half := n / 2
	out := make([][]float64, 0, 2*len(chains))
	for _, c := range chains {
		if len(c) != n {
			return nil
		}
		out = append(out, c[:half], c[n-half:])
	}
	return out
}

// withinBetween returns W, the mean of the unbiased within-chain variances, and B/N, the
// unbiased variance of the chain means (0 for one chain).
func withinBetween(chains [][]float64) (w, bn float64) {
	means := make([]float64, len(chains))
	for k, c := range chains {
		mu := mean(c)
		means[k] = mu
		s := 0.0
		for _, v := range c {
			s += (v - mu) * (v - mu)
		}
		w += s / float64(len(c)-1)
	}
	w /= float64(len(chains))
	if len(chains) > 1 {
		bn = variance(means)
	}
	return w, bn
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// variance returns the unbiased sample variance of x.
func variance(x []float64) float64 {
	mu := mean(x)
	s := 0.0
	for _, v := range x {
		s += (v - mu) * (v - mu)
	}
	return s / float64(len(x)-1)
}

// acovWorkspace computes autocovariances by FFT, reusing its buffers.
type acovWorkspace struct {
	fft   *fourier.FFT
	size  int
	seq   []float64
	coeff []complex128
}

// autocov writes γₜ = (1/N) Σₛ (xₛ − x̄)(xₛ₊ₜ − x̄), t = 0..N−1, into dst and returns x̄. The
// sequence is zero-padded to a power of two ≥ 2N so the circular correlation is the linear one.
func (w *acovWorkspace) autocov(dst, x []float64) float64 {
	n := len(x)
	size := 1
	for size < 2*n {
		size *= 2
	}
	if w.fft == nil || w.size != size {
		w.fft = fourier.NewFFT(size)
		w.size = size
		w.seq = make([]float64, size)
		w.coeff = make([]complex128, size/2+1)
	}
	mu := mean(x)
	for i := range w.seq {
		w.seq[i] = 0
	}
	for i, v := range x {
		w.seq[i] = v - mu
	}
	w.fft.Coefficients(w.coeff, w.seq)
	for i, c := range w.coeff {
		w.coeff[i] = complex(real(c)*real(c)+imag(c)*imag(c), 0)
	}
	w.fft.Sequence(w.seq, w.coeff)
	// Sequence is unnormalised: it multiplies by size.
	for t := range dst {
		dst[t] = w.seq[t] / float64(size) / float64(n)
	}
	return mu
}
