// Package framework implements the contracts of goebm: the Energy that every model satisfies,
// the Trainer, Sampler and Optimizer that act on it, and the Evaluator that serves an energy's
// requests in fixed-size chunks, derives the outputs an energy lacks by central differences,
// counts the work done and stops non-finite values at the boundary.
//
// Conventions: p(x; θ) ∝ exp(−E(x; θ)); the score is s(x) = −∇ₓE(x). A batch is an n×d
// *mat.Dense, one row per point. Parameters θ are one flat []float64 owned by the caller;
// energies are pure functions of (configuration, θ, x) and hold no training state.
//
// framework imports no other package of goebm; energies, trainers, samplers and plugins
// import it.
package framework
