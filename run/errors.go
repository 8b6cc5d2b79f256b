package run

// InputError is a fault in what a run was given, found by Build before any work: a data or
// parameter file that cannot be read or does not fit the energy, an energy, plugin or
// component that refuses its configuration. Its text is its cause's; ebm exits with status 2
// on it (bad usage or configuration), where a failure during the work is status 1.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }
