package samplers

import "github.com/goebm/goebm/framework"

// Memory estimates of the sampler options that set how much sampling allocates
// (framework.MemoryEstimator).
var (
	_ framework.MemoryEstimator = (*DrawOptions)(nil)
	_ framework.MemoryEstimator = (*AnnealedOptions)(nil)
)

const f64 = 8 // bytes

// Memory of drawing samples: each chain's state, proposal and gradients, a random stream per
// chain, and the kept draws (steps/thin per chain) with their energies, which are counted
// against chains or steps, whichever is the larger factor.
func (o *DrawOptions) Memory(s framework.Shape) []framework.Need {
	m, d := float64(o.Chains), float64(s.Dim)
	kept := float64(o.Steps) / float64(max(o.Thin, 1))
	draws := "steps"
	if m >= kept {
		draws = "chains"
	}
	return []framework.Need{
		{Key: "chains", Bytes: m*d*8*f64 + m*64},
		{Key: draws, Bytes: kept * m * (d + 1) * f64},
	}
}

// Memory of the annealed sampler: its levels.
func (o *AnnealedOptions) Memory(s framework.Shape) []framework.Need {
	return []framework.Need{{Key: "levels", Bytes: float64(max(o.Levels, len(o.Temperatures))) * 4 * f64}}
}
