package samplers

import (
	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
)

// The tests sample the built-in energies; the quantities they compare with (variances,
// moments, marginals) are computed in the tests from the mathematics, not from the energies.

// gaussDiag is the diagonal Gaussian E(x) = ½Σⱼ wⱼxⱼ² − bᵀx on ℝ^d, θ = (w, b), N(b/w, diag(1/w)).
func gaussDiag(d int) framework.Energy {
	g, err := energy.NewGaussian(d, true)
	if err != nil {
		panic(err)
	}
	return g
}

// gaussTheta returns θ = (w, 0): precisions w, mean 0.
func gaussTheta(w ...float64) []float64 {
	return append(append([]float64(nil), w...), make([]float64, len(w))...)
}

// rbmEnergy is the RBM free energy on {0,1}^dv with nh hidden units, θ = (W nh×dv, b, c).
func rbmEnergy(dv, nh int) framework.Energy {
	e, err := energy.NewRBM(dv, nh)
	if err != nil {
		panic(err)
	}
	return e
}
