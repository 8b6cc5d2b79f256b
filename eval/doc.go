// Package eval implements the evaluation of trained energy-based models, p(x; θ) ∝ exp(−E(x; θ)):
// the log partition function log Z by exact enumeration (binary and spin energies up to
// MaxEnumerateDim), by midpoint quadrature (continuous energies of dimension 1 and 2, with a
// check that the grid holds the mass), by annealed importance sampling with its standard error
// (everything else), and for restricted Boltzmann machines exactly by summing out the hidden
// units; the test negative log-likelihood from log Z; parameter error against a reference;
// the Fisher divergence to a known target; the kernel Stein discrepancy (IMQ kernel), which
// needs only the score; the maximum mean discrepancy between model samples and data; and the
// held-out score-matching loss and pseudolikelihood.
//
// Every metric is lower-is-better and computed through a framework.Evaluator, so its work is
// counted and chunked like training's. Randomness (AIS, model samples, subsets of large data
// sets) comes from framework.Streams under components named "eval-…", so an evaluation is
// reproducible from its seed. Samplers are passed in as framework.Sampler values: eval imports
// no sibling package of framework.
//
// Sign conventions: the score is s(x) = −∇ₓE(x); log Z = log ∫ exp(−E(x; θ)) dx (a sum on
// discrete domains); NLL = mean over the data of E(x; θ) + log Z.
package eval
