package framework

// Averager is implemented by optimizers that keep an average of their iterates (Polyak–Ruppert
// or exponential). When the training loop finishes it calls Average; when it reports true, θ
// is the averaged iterate from then on (params.json, summary.json's "averaged").
type Averager interface {
	Average(dst []float64) bool
}

// Horizoner is implemented by optimizers whose schedule depends on the run's length (a cosine
// decay over the whole run); the training loop calls SetHorizon with the total number of steps
// before the first.
type Horizoner interface {
	SetHorizon(total int)
}

// average replaces θ by the optimizer's average of the iterates, if it keeps one.
func (l *loop) average() {
	if av, ok := l.r.Optimizer.(Averager); ok && av.Average(l.r.Theta) {
		l.averaged = true
	}
}
