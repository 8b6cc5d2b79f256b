package eval

import (
	"errors"
	"fmt"
)

// ErrUnsupported is wrapped by the errors of metrics that do not apply to an energy (a
// score-based metric on binary data, enumeration beyond MaxEnumerateDim, quadrature in
// dimension 3).
var ErrUnsupported = errors.New("not supported")

// BoundaryMassError reports that a quadrature grid does not hold the density: the fraction
// Mass of the probability on the grid lies in the band of cells along its boundary, more than
// Tol, so mass outside the grid is probably not negligible either.
type BoundaryMassError struct {
	Mass, Tol float64
	Band      int // cells per side in the band
}

func (e *BoundaryMassError) Error() string {
	return fmt.Sprintf("quadrature: %.3g of the mass lies in the %d outermost cells of the grid (tolerance %.3g): widen the range (lo, hi)",
		e.Mass, e.Band, e.Tol)
}
