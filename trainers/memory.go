package trainers

import (
	"math"

	"github.com/goebm/goebm/framework"
)

// Memory estimates of the trainers whose keys set how much they allocate
// (framework.MemoryEstimator).
var (
	_ framework.MemoryEstimator = (*DSMOptions)(nil)
	_ framework.MemoryEstimator = (*NCEOptions)(nil)
	_ framework.MemoryEstimator = (*PLOptions)(nil)
	_ framework.MemoryEstimator = (*SSMOptions)(nil)
	_ framework.MemoryEstimator = (*PCDOptions)(nil)
	_ framework.MemoryEstimator = (*CDOptions)(nil)
)

const f64 = 8 // bytes

// rows is the memory of n rows of dimension d, with the energy's outputs for them (∇ₓE and
// friends): about four matrices of that size.
func rows(n float64, s framework.Shape) float64 { return n * float64(s.Dim) * f64 * 4 }

// Memory of dsm: the noise levels and their weights, and the batch × draws corrupted points
// with their noise, targets and gradients.
func (o *DSMOptions) Memory(s framework.Shape) []framework.Need {
	levels := float64(max(o.Levels, len(o.Sigmas), 1))
	return []framework.Need{
		{Key: "draws", Bytes: rows(float64(s.Batch)*float64(o.Draws), s)},
		{Key: "levels", Bytes: levels * 2 * f64},
	}
}

// Memory of nce: ν noise points per data point, with their energies and noise densities, and
// the fitted noise (a d×d factor per component).
func (o *NCEOptions) Memory(s framework.Shape) []framework.Need {
	d := float64(s.Dim)
	return []framework.Need{
		{Key: "nu", Bytes: rows(float64(s.Batch)*(1+math.Max(o.Nu, 0)), s)},
		{Key: "noise_components", Bytes: float64(o.Components) * (d*d + float64(s.Rows) + 4*d) * f64},
	}
}

// Memory of pl: on continuous data, each row's conditionals on a grid of grid_points values
// per coordinate (processed in groups of about 32 768 rows).
func (o *PLOptions) Memory(s framework.Shape) []framework.Need {
	per := 1 + float64(s.Dim)*float64(o.GridPoints)
	return []framework.Need{{Key: "grid_points", Bytes: rows(math.Max(plMaxRows, per), s) + float64(o.GridPoints)*2*f64}}
}

// Memory of ssm: projections per point, each a point, a direction, and the two shifted
// points of the finite difference.
func (o *SSMOptions) Memory(s framework.Shape) []framework.Need {
	return []framework.Need{{Key: "projections", Bytes: 2 * rows(float64(s.Batch)*float64(o.Projections), s)}}
}

// Memory of pcd: the persistent chains (chains, or the batch size) with the batch stacked on
// them, and a random stream per chain.
func (o *PCDOptions) Memory(s framework.Shape) []framework.Need {
	m := float64(o.Chains)
	if m == 0 {
		m = float64(s.Batch)
	}
	return []framework.Need{{Key: "chains", Bytes: 2*rows(m, s) + m*64}}
}

// Memory of cd: a chain per batch row.
func (o *CDOptions) Memory(s framework.Shape) []framework.Need {
	return []framework.Need{{Key: "k", Bytes: 2*rows(float64(s.Batch), s) + float64(s.Batch)*64}}
}
