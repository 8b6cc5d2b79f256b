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
// does not depend on the other rows, so evaluating rows one at a time gives the batch's bits.
//
// Every output is the same, bit for bit, on every machine: amd64 with or without AVX2/FMA,
// arm64, 386, and with the purego build tag. The matrix products, softplus, exp and log run
// AVX2/FMA assembly where the CPU has it, and otherwise Go twins that perform the same
// operations in the same order (kernels.go, softplus.go, exp.go): a fused multiply-add of
// the assembly is a math.FMA of the twin, exact everywhere. The rest of the package keeps
// two rules that TestPortableArithmetic checks on the source: a product that meets an
// addition is rounded first, float64(x*y) + z (Go lets a compiler fuse x*y + z, and it does
// on arm64), and only exact functions of package math are called (the exponentials,
// logarithms and tanh are the package's own). TestBitsGolden compares the bits of every
// output with a file written on amd64; make test-purego runs it with -tags purego, on 386,
// with GOAMD64=v3 (fused arithmetic) and on arm64 under qemu. Where a CPU has no FMA
// instruction (x86 before 2013) math.FMA runs in software, and the energies are tens of
// times slower there.
//
// Register adds all of them to a framework.Registry under the names gaussian, mlp, ising,
// rbm and gmm.
package energy
