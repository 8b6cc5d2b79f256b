package framework

// Reporter is implemented by trainers with a report of their own for a run's summary.json,
// under "report" (a regularisation path and how λ was chosen).
type Reporter interface {
	Report() any
}

// Filer is implemented by trainers that leave files of their own in a run folder, beside
// params.json (a selected graph's edge list): Files maps each file name to its contents,
// written atomically when the run finishes.
type Filer interface {
	Files() map[string][]byte
}
