package eval

import (
	"fmt"

	"github.com/goebm/goebm/framework"
)

// GraphRecovery compares the graph of a pairwise energy's estimate with a reference: the edges
// are the pairs i < j whose symmetric coupling (Aᵢⱼ + Aⱼᵢ)/2 is not zero, in the square block
// "J" (ising) or else "W" (gaussian). It returns the precision and recall of the estimated
// edges against the reference's, their F1 score and the number of estimated edges. Unlike the
// other metrics, precision, recall and F1 are higher-is-better.
func GraphRecovery(spec framework.Spec, theta []float64, ref *Reference) (prec, rec, f1 float64, edges int, err error) {
	name := "J"
	off, size, ok := spec.BlockOffset(name)
	if !ok {
		name = "W"
		off, size, ok = spec.BlockOffset(name)
	}
	d := spec.Dim
	if !ok || size != d*d {
		return 0, 0, 0, 0, fmt.Errorf("graph: energy %s has no square coupling block J or W: %w", spec.Name, ErrUnsupported)
	}
	rv, ok := ref.Blocks[name]
	if !ok || len(rv) != d*d {
		return 0, 0, 0, 0, fmt.Errorf("graph: the reference %s has no block %s of %d values", ref.Path, name, d*d)
	}
	est := theta[off : off+size]
	tp, truth := 0, 0
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			e := est[i*d+j]+est[j*d+i] != 0
			t := rv[i*d+j]+rv[j*d+i] != 0
			if e {
				edges++
			}
			if t {
				truth++
			}
			if e && t {
				tp++
			}
		}
	}
	if edges > 0 {
		prec = float64(tp) / float64(edges)
	}
	if truth > 0 {
		rec = float64(tp) / float64(truth)
	}
	if prec+rec > 0 {
		f1 = 2 * prec * rec / (prec + rec)
	}
	return prec, rec, f1, edges, nil
}
