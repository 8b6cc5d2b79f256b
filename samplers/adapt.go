package samplers

import "math"

// dualAveraging tunes a step size h so that the mean acceptance statistic approaches a
// target δ, by Nesterov's dual averaging as Hoffman and Gelman (2014, Algorithm 5) use it:
//
//	H̄ₜ = (1 − 1/(t+t₀)) H̄ₜ₋₁ + (δ − αₜ)/(t+t₀)
//	log hₜ = μ − √t/γ · H̄ₜ,  μ = log(10 h₀)
//	log h̄ₜ = t^(−κ) log hₜ + (1 − t^(−κ)) log h̄ₜ₋₁
//
// with γ = 0.05, t₀ = 10, κ = 0.75. αₜ is the acceptance probability min(1, r) averaged over
// all chains at step t, so one step size serves every chain and the averaged statistic has
// little noise. During warm-up the sampler uses hₜ; when warm-up ends it keeps h̄ₜ.
type dualAveraging struct {
	target  float64
	mu      float64
	hBar    float64
	logStep float64
	logBar  float64
	t       int
	active  bool
}

const (
	daGamma = 0.05
	daT0    = 10
	daKappa = 0.75
	// Step sizes stay within [e^−40, e^10] however adaptation goes.
	logStepMin, logStepMax = -40, 10
)

// start begins adaptation from step size h.
func (a *dualAveraging) start(h float64) {
	*a = dualAveraging{target: a.target, mu: math.Log(10 * h), logStep: math.Log(h), active: true}
}

// update records the mean acceptance probability of one step and returns the next step size.
func (a *dualAveraging) update(accept float64) float64 {
	a.t++
	t := float64(a.t)
	eta := 1 / (t + daT0)
	a.hBar = (1-eta)*a.hBar + eta*(a.target-accept)
	a.logStep = min(max(a.mu-math.Sqrt(t)/daGamma*a.hBar, logStepMin), logStepMax)
	w := math.Pow(t, -daKappa)
	a.logBar = w*a.logStep + (1-w)*a.logBar
	return math.Exp(a.logStep)
}

// finish ends adaptation and returns the averaged step size h̄ (or h if no step was taken).
func (a *dualAveraging) finish() float64 {
	a.active = false
	if a.t == 0 {
		return math.Exp(a.logStep)
	}
	return math.Exp(a.logBar)
}
