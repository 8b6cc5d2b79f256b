package trainers

import "github.com/goebm/goebm/framework"

// Compile-time checks of the contracts each estimator and optimizer satisfies.
var (
	_ framework.Trainer        = (*ScoreMatching)(nil)
	_ framework.ClosedFormer   = (*ScoreMatching)(nil)
	_ framework.Trainer        = (*DenoisingScoreMatching)(nil)
	_ framework.Trainer        = (*SlicedScoreMatching)(nil)
	_ framework.PathReporter   = (*SlicedScoreMatching)(nil)
	_ framework.Trainer        = (*Pseudolikelihood)(nil)
	_ framework.PathReporter   = (*Pseudolikelihood)(nil)
	_ framework.Proximal       = (*Pseudolikelihood)(nil)
	_ framework.Trainer        = (*RatioMatching)(nil)
	_ framework.PathReporter   = (*RatioMatching)(nil)
	_ framework.Trainer        = (*NoiseContrastive)(nil)
	_ framework.Extender       = (*NoiseContrastive)(nil)
	_ framework.Trainer        = (*ContrastiveDivergence)(nil)
	_ framework.Stateful       = (*ContrastiveDivergence)(nil)
	_ framework.Optimizer      = (*Adam)(nil)
	_ framework.Stateful       = (*Adam)(nil)
	_ framework.Optimizer      = (*SGD)(nil)
	_ framework.Stateful       = (*SGD)(nil)
	_ framework.Optimizer      = (*BatchMinimizer)(nil)
	_ framework.BatchOptimizer = (*BatchMinimizer)(nil)
	_ framework.NoiseFixer     = (*ScoreMatching)(nil)
	_ framework.NoiseFixer     = (*Pseudolikelihood)(nil)
	_ framework.NoiseFixer     = (*RatioMatching)(nil)
	_ framework.NoiseFixer     = (*NoiseContrastive)(nil)
	_ framework.NoiseFixer     = (*DenoisingScoreMatching)(nil)
	_ framework.NoiseFixer     = (*SlicedScoreMatching)(nil)
	_ framework.RowGrader      = (*ScoreMatching)(nil)
	_ framework.Hessianer      = (*ScoreMatching)(nil)
	_ framework.Trainer        = (*MaximumLikelihood)(nil)
	_ framework.ClosedFormer   = (*MaximumLikelihood)(nil)
	_ framework.RowGrader      = (*MaximumLikelihood)(nil)
	_ framework.NoiseFixer     = (*MaximumLikelihood)(nil)
	_ framework.RowGrader      = (*Pseudolikelihood)(nil)
	_ framework.RowGrader      = (*RatioMatching)(nil)
	_ framework.RowGrader      = (*NoiseContrastive)(nil)
	_ framework.RowGrader      = (*DenoisingScoreMatching)(nil)
)

// Register adds the trainers and optimizers of this package to r. Each file registers its
// own components through a small function; a new estimator adds one line here.
func Register(r *framework.Registry) {
	registerAdam(r)
	registerSGD(r)
	registerBatch(r)
	registerSM(r)
	registerDSM(r)
	registerSSM(r)
	registerNCE(r)
	registerPL(r)
	registerRM(r)
	registerCD(r)
	registerMLE(r)
}
