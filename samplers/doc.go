// Package samplers implements Markov chain samplers for energy-based models,
// p(x) ∝ exp(−E(x)), and the diagnostics that say whether their chains can be trusted.
//
// Continuous energies are sampled by the Langevin family (unadjusted Langevin, ULA;
// Metropolis-adjusted Langevin, MALA; annealed Langevin) and by Hamiltonian Monte Carlo;
// binary and spin energies by single-site Gibbs sampling, or by block Gibbs for energies with
// framework.CapBlockGibbs (an RBM). Every sampler satisfies framework.Sampler and advances many
// chains at once: all chains share one framework.Evaluator request per step (one request per
// site for Gibbs), and chain i draws its randomness only from its own stream Chains.RNG[i], so
// the samples do not depend on the number of workers or on how the batch is chunked.
//
// The score is s(x) = −∇ₓE(x); the samplers ask the Evaluator for ∇ₓE and step against it.
// Samplers keep their buffers between calls and allocate nothing per step once sized.
//
// Draw is the driver behind `ebm sample`: it initialises chains, runs warm-up (with step-size
// adaptation where the sampler has it) and the sampling phase with thinning, and returns the
// draws with their diagnostics: effective sample size and split R̂ per coordinate (Vehtari et
// al. 2021, without rank normalisation), acceptance rate, energy trace and timing.
//
// Register adds the samplers to a framework.Registry under their TOML names: ula, mala,
// annealed, hmc and gibbs.
package samplers
