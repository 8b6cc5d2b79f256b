package framework

// Shape is what a memory estimate knows of a run before anything is allocated.
type Shape struct {
	Dim     int // columns of the data
	Rows    int // training rows
	Batch   int // rows per training step (at most Rows)
	Chunk   int // rows per chunk of an energy request
	Workers int // goroutines evaluating chunks
	Params  int // values of θ: the energy's, once it is known (0 while estimating the energy)
}

// Need is memory a component would allocate, with the key of its options that sets it.
type Need struct {
	// Key is relative to the component's table ("levels", "hidden"); "" means the data's
	// dimension sets it (a d×d coupling matrix).
	Key   string
	Bytes float64 // a float, so that an absurd key cannot overflow the estimate
}

// ParamCopies is how many θ-sized vectors of float64 a training run keeps at once, counted
// generously: θ, its gradient, the optimizer's moments, the divergence guard's snapshots,
// the Evaluator's per-worker sums and a checkpoint being written.
const ParamCopies = 16

// MemoryEstimator is implemented by the options of components whose memory grows with their
// keys: noise draws and levels, hidden units, mixture components, chains, grid points,
// projections. Memory returns what the component would allocate for a run of shape s, before
// it is built, so that a configuration that would exhaust the machine is refused with the
// key that sets it rather than ending in an out-of-memory crash. An estimate is an upper
// bound to within a small factor; it need not be exact.
type MemoryEstimator interface {
	Memory(s Shape) []Need
}
