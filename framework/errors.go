package framework

import (
	"errors"
	"fmt"
)

// ErrUnsupportedDomain is returned (wrapped) when a trainer or sampler is asked to work on an
// energy whose domain it cannot handle, e.g. score matching on binary data.
var ErrUnsupportedDomain = errors.New("unsupported domain")

// ErrInvalidRequest is wrapped by every error of Request.Validate: a request that no energy
// could serve as asked (no points, unknown outputs, inputs of the wrong shape).
var ErrInvalidRequest = errors.New("invalid request")

// ErrNotNormalisable is wrapped by errors about parameters at which exp(−E) has no finite
// integral (a Gaussian energy whose W is not positive definite).
var ErrNotNormalisable = errors.New("not normalisable")

// NonFiniteError reports a NaN or ±Inf where a finite number was required. Runs stop on it
// rather than carry on with poisoned parameters.
type NonFiniteError struct {
	Quantity string  // what was being computed, e.g. "grad_x", "loss", "gradient"
	Source   string  // who computed it, e.g. the energy's name or the trainer's
	Index    int     // row or parameter index of the first bad value, −1 if not applicable
	Value    float64 // the bad value
	Step     int     // training step, −1 outside training
}

func (e *NonFiniteError) Error() string {
	where := ""
	if e.Step >= 0 {
		where = fmt.Sprintf(" at step %d", e.Step)
	}
	idx := ""
	if e.Index >= 0 {
		idx = fmt.Sprintf(" (index %d)", e.Index)
	}
	return fmt.Sprintf("non-finite value %v in %s from %s%s%s", e.Value, e.Quantity, e.Source, idx, where)
}

// ShapeError reports an input or output of the wrong size.
type ShapeError struct {
	What      string
	Want, Got string
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("%s has shape %s, want %s", e.What, e.Got, e.Want)
}
