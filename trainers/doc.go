// Package trainers implements the estimators of goebm and the optimizers that follow their
// gradients.
//
// Every estimator is a framework.Trainer: a loss on a batch and its gradient in θ, built from
// the energy's batched Requests (one request per step where the mathematics allows it). The
// model is p(x; θ) ∝ exp(−E(x; θ)) and the score is s(x) = −∇ₓE(x); each estimator's file
// states its loss in these terms, its assumptions and a reference.
//
//   - sm: exact (Hyvärinen) score matching, and its closed-form solution for energies linear
//     in θ (sm.go).
//   - dsm: denoising score matching, single σ or a geometric list of σ (dsm.go).
//   - ssm: sliced score matching, plain or variance-reduced (ssm.go).
//   - nce: noise-contrastive estimation with a learned log Z (nce.go, noise.go).
//   - pl: pseudolikelihood, exact over one-bit flips for binary and spin data, by 1-D
//     quadrature for continuous data, with an optional L1 penalty by proximal steps (pl.go).
//   - rm: ratio matching for binary and spin data (rm.go).
//   - cd, pcd: contrastive divergence and persistent CD with any sampler of the run (cd.go).
//   - adam, sgd: optimizers with PyTorch's update rules (adam.go, sgd.go).
//
// Derivative paths. The Evaluator records whether each output it served was exact or derived
// by finite differences (framework.Evaluator.Paths). A trainer that takes finite differences
// of its own (ssm differentiates the Hessian term in θ by central differences of mixed
// products) reports them through a method
//
//	Paths() map[string]string
//
// mapping a quantity to "exact", "finite-difference", or a short description of another
// approximation (pl on continuous data reports its quadrature rule); a run summary merges it
// with the Evaluator's.
//
// Register adds every trainer and optimizer of this package to a framework.Registry.
package trainers
