package framework

import "gonum.org/v1/gonum/mat"

// RowGrader is implemented by M-estimators: trainers whose loss on a batch is a sum of terms,
// one per independent observation, L(θ) = Σₖ ℓₖ(θ). RowGrads returns each observation's term
// of the gradient, ψₖ = ∇θℓₖ, one row per observation: the rows sum to Step's gradient. Standard
// errors take the covariance of these rows (the "meat" J of the sandwich H⁻¹JH⁻¹).
//
// The rows come in consecutive groups, each an i.i.d. sample: one group of the n data rows for
// most estimators, and for NCE the n data rows then the m noise rows. Trainers that draw noise
// use the noise of their last FixNoise seed, so that the rows belong to the loss a batch
// optimizer minimised.
type RowGrader interface {
	RowGrads(ctx *StepContext, batch *mat.Dense, theta []float64) (*RowGrads, error)
}

// RowGrads are the per-observation gradient terms of a RowGrader.
type RowGrads struct {
	G      *mat.Dense // one row per observation, len(θ) columns
	Groups []int      // sizes of the consecutive i.i.d. groups of rows; they sum to the rows of G
}

// Gauged is implemented by energies whose parameters are identified only up to a group of
// transformations that leave E unchanged at every x (an RBM's or an MLP's hidden-unit
// permutations, a mixture's component labels). Standard errors of θ are then meaningless,
// and are refused with Gauge's description of the group.
type Gauged interface {
	Gauge() string
}

// Partitioner is implemented by energies whose log-partition function is tractable:
// LogPartition returns log Z(θ) = log ∫ exp(−E(x; θ)) dx (a sum on discrete domains) and, when
// grad is not nil, writes ∇θ log Z = −E_θ[∇θE] into it. It fails, wrapping ErrNotNormalisable,
// where exp(−E) has no finite integral. The exact maximum-likelihood trainer uses it.
type Partitioner interface {
	LogPartition(theta, grad []float64) (float64, error)
}
