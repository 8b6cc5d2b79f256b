// Package energy implements goebm's built-in energies: a quadratic (Gaussian) energy, a
// multilayer perceptron with smooth activations, the Ising model (fully visible Boltzmann
// machine), the binary RBM by its free energy, and Gaussian mixtures, which also serve as
// analytic targets (Ring8).
//
// Every built-in computes every output of framework.Request exactly — first order, the mixed
// product, the Laplacian and its θ-gradient, and Hessian-vector products — so the Evaluator
// never falls back to finite differences for them. The discrete energies (Ising, RBM) define
// their x-derivatives as those of the same formula extended to ℝ^d.
//
// Conventions: p(x; θ) ∝ exp(−E(x; θ)); θ is a flat slice laid out block by block in the
// order of Spec().Blocks, each block row-major. Energies hold only their configuration, never
// θ, and are safe for concurrent use: per-call scratch space comes from a sync.Pool, so a hot
// loop allocates nothing. Batch work is done with matrix products whose result for a row
// does not depend on the other rows, so evaluating rows one at a time gives the batch's bits:
// an AVX2/FMA kernel on CPUs that have it, gonum's blas64.Gemm (serial tiles) otherwise.
//
// Register adds all of them to a framework.Registry under the names gaussian, mlp, ising,
// rbm and gmm.
package energy
