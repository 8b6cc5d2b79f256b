package energy

import "github.com/goebm/goebm/framework"

// Memory estimates of the built-in energies (framework.MemoryEstimator): θ and the copies a
// run keeps of it, and each worker's workspace for a chunk of rows.
var (
	_ framework.MemoryEstimator = (*GaussianOptions)(nil)
	_ framework.MemoryEstimator = (*MLPOptions)(nil)
	_ framework.MemoryEstimator = (*IsingOptions)(nil)
	_ framework.MemoryEstimator = (*RBMOptions)(nil)
	_ framework.MemoryEstimator = (*GMMOptions)(nil)
)

const f64 = 8 // bytes

func params(p float64) float64 { return p * f64 * framework.ParamCopies }

// Memory of the gaussian energy: W is d×d, set by the data's dimension.
func (o *GaussianOptions) Memory(s framework.Shape) []framework.Need {
	d := float64(s.Dim)
	if o.Diagonal {
		return []framework.Need{{Key: "", Bytes: params(2 * d)}}
	}
	return []framework.Need{{Key: "", Bytes: params(d*d + d)}}
}

// Memory of the mlp energy: the weights of every layer, and per worker and chunk row the
// activations and their derivatives (about 16 values per unit) plus the Jacobians of exact
// second-order outputs (3·d values per unit).
func (o *MLPOptions) Memory(s framework.Shape) []framework.Need {
	in, p, units := float64(s.Dim), 0.0, 0.0
	for _, h := range o.Hidden {
		w := float64(h)
		p += in*w + w
		units += w
		in = w
	}
	p += in + 1
	work := float64(max(s.Workers, 1)) * float64(max(s.Chunk, 1)) * units * (16 + 3*float64(s.Dim)) * f64
	return []framework.Need{{Key: "hidden", Bytes: params(p) + work}}
}

// Memory of the ising energy: J is d×d, set by the data's dimension.
func (o *IsingOptions) Memory(s framework.Shape) []framework.Need {
	d := float64(s.Dim)
	return []framework.Need{{Key: "", Bytes: params(d*d + d)}}
}

// Memory of the rbm energy: W is hidden×d, and each worker keeps a few values per hidden
// unit and chunk row.
func (o *RBMOptions) Memory(s framework.Shape) []framework.Need {
	h, d := float64(o.Hidden), float64(s.Dim)
	work := float64(max(s.Workers, 1)) * float64(max(s.Chunk, 1)) * h * 8 * f64
	return []framework.Need{{Key: "hidden", Bytes: params(h*d+h+d) + work}}
}

// Memory of the gmm energy: K means of dimension d, and per worker and chunk row a few values
// per component and coordinate.
func (o *GMMOptions) Memory(s framework.Shape) []framework.Need {
	k, d := float64(o.Components), float64(s.Dim)
	work := float64(max(s.Workers, 1)) * float64(max(s.Chunk, 1)) * k * (d + 4) * 2 * f64
	return []framework.Need{{Key: "components", Bytes: params(k*(d+2)) + work}}
}
