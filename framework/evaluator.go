package framework

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// DefaultChunkRows is the number of rows per chunk when an Evaluator is not told otherwise.
// Chunks never depend on the number of workers or plugin processes, so sums over a batch are
// taken in the same order whoever computes them.
const DefaultChunkRows = 256

// DefaultFDStep is the central-difference step of the derivative fallbacks. With a unit-scale
// direction the truncation error is O(h²) ≈ 1e-8 and the rounding error O(ε/h) ≈ 1e-12 for
// first differences, O(ε/h²) ≈ 1e-8 for second differences.
const DefaultFDStep = 1e-4

// Counts is the work an Evaluator has done. Studies compare estimators at matched compute,
// so these numbers go into every run's summary.
type Counts struct {
	Requests        int64 `json:"requests"`          // Evaluate calls on the Evaluator
	Calls           int64 `json:"energy_calls"`      // chunk calls into the energy
	Rows            int64 `json:"rows"`              // rows over all energy calls
	EnergyRows      int64 `json:"energy_rows"`       // rows for which E was computed
	GradRows        int64 `json:"grad_rows"`         // rows for which ∇ₓE or ∇θE was computed
	SecondOrderRows int64 `json:"second_order_rows"` // rows of exact second-order outputs
	RoundTrips      int64 `json:"round_trips"`       // plugin round trips, if the energy reports them
}

// RoundTripCounter is implemented by energies that cross a process boundary.
type RoundTripCounter interface {
	RoundTrips() int64
}

// Evaluator serves Requests on an Energy: it splits the batch into chunks of ChunkRows rows
// (evaluated on up to Workers goroutines, θ-sized outputs summed in chunk order), derives the
// outputs the energy does not compute exactly by central differences of its first-order
// outputs, checks every output is finite, and counts the work.
//
// An Evaluator is not safe for concurrent use; it reuses its buffers between calls.
type Evaluator struct {
	energy Energy
	spec   Spec
	source string // "energy NAME", for error messages

	// ChunkRows is the chunk size; zero means DefaultChunkRows.
	ChunkRows int
	// Workers bounds the goroutines that evaluate chunks; zero means GOMAXPROCS.
	Workers int
	// FDStep is the central-difference step of the fallbacks; zero means DefaultFDStep.
	FDStep float64
	// ForceFallback makes the Evaluator derive these outputs by finite differences even
	// when the energy computes them exactly (for testing the fallbacks against the exact path).
	ForceFallback Output

	counts    Counts
	requested Output    // union of outputs asked for
	derived   Output    // outputs that took the finite-difference path
	theta     []float64 // θ of the request being served, for the fallbacks

	chunks  []chunk
	scratch fdScratch
	self    SelfScratch // runChunked's two passes
	sub     Request     // the direct part of the request being served

	// Chunk scheduling of the request being served. The caller and up to Workers−1 helper
	// goroutines claim chunks from next until none is left; helpers exit when the request
	// ends, so an Evaluator holds no goroutine between requests. helper is built once, so
	// that starting a helper (go ev.helper()) allocates nothing.
	next   atomic.Int64
	wg     sync.WaitGroup
	helper func()
}

type chunk struct {
	lo, hi   int
	req      Request
	res      Result
	x, u, v  mat.Dense
	gx, hvp  mat.Dense
	pj       mat.Dense
	err      error
	thetaOut Output
	self     SelfScratch
}

// NewEvaluator returns an Evaluator for e with default settings.
func NewEvaluator(e Energy) *Evaluator {
	s := e.Spec()
	return &Evaluator{energy: e, spec: s, source: "energy " + s.Name}
}

// Energy returns the energy the Evaluator serves.
func (ev *Evaluator) Energy() Energy { return ev.energy }

// Spec returns the energy's spec.
func (ev *Evaluator) Spec() Spec { return ev.spec }

// Counts returns the work done so far.
func (ev *Evaluator) Counts() Counts {
	c := ev.counts
	if rt, ok := ev.energy.(RoundTripCounter); ok {
		c.RoundTrips = rt.RoundTrips()
	}
	return c
}

// Paths returns, for every output requested so far, "exact" or "finite-difference".
func (ev *Evaluator) Paths() map[string]string {
	m := map[string]string{}
	for _, n := range outNames {
		if !ev.requested.Has(n.o) {
			continue
		}
		if ev.derived.Has(n.o) {
			m[n.name] = "finite-difference"
		} else {
			m[n.name] = "exact"
		}
	}
	return m
}

func (ev *Evaluator) step() float64 {
	if ev.FDStep > 0 {
		return ev.FDStep
	}
	return DefaultFDStep
}

func (ev *Evaluator) chunkRows() int {
	if ev.ChunkRows > 0 {
		return ev.ChunkRows
	}
	return DefaultChunkRows
}

func (ev *Evaluator) workers() int {
	if ev.Workers > 0 {
		return ev.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Evaluate computes the outputs of req into res, sizing res's buffers as needed.
func (ev *Evaluator) Evaluate(req *Request, res *Result) error {
	if err := req.Validate(ev.spec); err != nil {
		return fmt.Errorf("energy %s: %w", ev.spec.Name, err)
	}
	ev.counts.Requests++
	n, d, p := req.Rows(), ev.spec.Dim, ev.spec.NumParams()
	res.Reset(req.Outputs, n, d, p)
	ev.requested |= req.Outputs

	exact := ev.spec.Caps.Exact() &^ ev.ForceFallback
	direct := req.Outputs & exact
	derive := req.Outputs &^ exact
	ev.derived |= derive
	if req.Outputs.Has(OutMixed) && req.MixedSelf != 0 && (derive.Has(OutMixed) || !ev.spec.Caps.Has(CapMixedSelf)) {
		direct |= OutGradX // to form uᵢ: the fallback needs ∇ₓE, and so does EvaluateChunk
	}
	if direct != 0 {
		ev.sub = *req // a field, not a local: the request may reach an interface method (ChunkedEvaluator), which would make a local escape
		sub := &ev.sub
		sub.Outputs = direct
		if !direct.Has(OutMixed) {
			sub.U, sub.MixedSelf = nil, 0 // the mixed product is derived, not asked of the energy
		}
		if direct.Has(OutGradX) && !req.Outputs.Has(OutGradX) {
			res.GradX = resizeDense(res.GradX, n, d)
		}
		if err := ev.run(sub, res); err != nil {
			return err
		}
	}
	if derive != 0 {
		ev.theta = req.Theta
		if err := ev.derive(req, res, derive); err != nil {
			return fmt.Errorf("energy %s: finite-difference %s: %w", ev.spec.Name, derive, err)
		}
	}
	return ev.checkFinite(req.Outputs, res)
}

// ChunkedEvaluator is implemented by energies that evaluate a whole request in one call and
// chunk it themselves: a plugin, which sends the request in one round trip and has the plugin
// process evaluate it chunk by chunk. The Evaluator then hands it whole requests with its
// chunk size. EvaluateChunks must give the bits the Evaluator's own chunking gives: rows in
// chunks of chunkRows (the last may be shorter), each chunk evaluated as EvaluateChunk does,
// per-row outputs into their rows of res, θ-sized outputs summed into res (zeroed by Reset)
// in chunk order. It is asked only for outputs in Spec().Caps.Exact(), and for the mixed
// product with MixedSelf ≠ 0 only when Spec().Caps has CapMixedSelf.
type ChunkedEvaluator interface {
	EvaluateChunks(req *Request, res *Result, chunkRows int) error
}

// run evaluates req on the energy chunk by chunk. Per-row outputs land in res directly;
// θ-sized outputs are computed per chunk and summed into res in chunk order.
func (ev *Evaluator) run(req *Request, res *Result) error {
	n, d, p := req.Rows(), ev.spec.Dim, ev.spec.NumParams()
	size := ev.chunkRows()
	nc := (n + size - 1) / size
	if ce, ok := ev.energy.(ChunkedEvaluator); ok {
		if err := ev.runChunked(ce, req, res, size); err != nil {
			return fmt.Errorf("energy %s: %w", ev.spec.Name, err)
		}
		ev.count(req.Outputs, nc, n)
		return nil
	}
	if cap(ev.chunks) < nc {
		ev.chunks = append(ev.chunks[:cap(ev.chunks)], make([]chunk, nc-cap(ev.chunks))...)
	}
	ev.chunks = ev.chunks[:nc]
	thetaOut := req.Outputs & (OutParamVJP | OutMixed | OutLaplacianVJP)
	for c := range ev.chunks {
		ch := &ev.chunks[c]
		ch.lo, ch.hi = c*size, min((c+1)*size, n)
		ch.err = nil
		ch.thetaOut = thetaOut
		m := ch.hi - ch.lo
		ch.req = Request{Outputs: req.Outputs, Theta: req.Theta, MixedSelf: req.MixedSelf}
		ch.req.X = rowView(&ch.x, req.X, ch.lo, ch.hi)
		if req.U != nil {
			ch.req.U = rowView(&ch.u, req.U, ch.lo, ch.hi)
		}
		if req.V != nil {
			ch.req.V = rowView(&ch.v, req.V, ch.lo, ch.hi)
		}
		if req.Weights != nil {
			ch.req.Weights = req.Weights[ch.lo:ch.hi]
		}
		if req.LapWeights != nil {
			ch.req.LapWeights = req.LapWeights[ch.lo:ch.hi]
		}
		// Per-row outputs are views of res; θ-sized ones are the chunk's own.
		r := &ch.res
		if req.Outputs.Has(OutEnergy) {
			r.Energy = res.Energy[ch.lo:ch.hi]
		}
		if req.Outputs.Has(OutLaplacian) {
			r.Laplacian = res.Laplacian[ch.lo:ch.hi]
		}
		if req.Outputs.Has(OutGradX) {
			r.GradX = rowView(&ch.gx, res.GradX, ch.lo, ch.hi)
		}
		if req.Outputs.Has(OutHVP) {
			r.HVP = rowView(&ch.hvp, res.HVP, ch.lo, ch.hi)
		}
		if req.Outputs.Has(OutParamJac) {
			r.ParamJac = rowView(&ch.pj, res.ParamJac, ch.lo, ch.hi)
		}
		r.Reset(thetaOut, m, d, p)
	}
	ev.next.Store(0)
	if w := min(ev.workers(), nc); w > 1 {
		if ev.helper == nil {
			ev.helper = func() {
				defer ev.wg.Done()
				ev.work()
			}
		}
		ev.wg.Add(w - 1)
		for i := 1; i < w; i++ {
			go ev.helper()
		}
		ev.work()
		ev.wg.Wait()
	} else {
		ev.work()
	}
	ev.count(req.Outputs, nc, n)
	for c := range ev.chunks {
		ch := &ev.chunks[c]
		if ch.err != nil {
			return fmt.Errorf("energy %s, rows %d–%d: %w", ev.spec.Name, ch.lo, ch.hi-1, ch.err)
		}
		addTheta(res, &ch.res, thetaOut)
	}
	return nil
}

// count adds one request of n rows in nc chunks to the counts.
func (ev *Evaluator) count(o Output, nc, n int) {
	ev.counts.Calls += int64(nc)
	ev.counts.Rows += int64(n)
	if o.Has(OutEnergy) {
		ev.counts.EnergyRows += int64(n)
	}
	if o&(OutGradX|OutParamVJP|OutParamJac) != 0 {
		ev.counts.GradRows += int64(n)
	}
	if o&(OutMixed|OutLaplacian|OutLaplacianVJP|OutHVP) != 0 {
		ev.counts.SecondOrderRows += int64(n)
	}
}

// runChunked hands a whole request to an energy that chunks it itself. Without CapMixedSelf a
// mixed product with MixedSelf ≠ 0 takes two requests, as EvaluateChunk's two passes: ∇ₓE
// with the other outputs, then the mixed product along U + MixedSelf·∇ₓE; each output is
// still computed chunk by chunk and summed in chunk order, so the bits are EvaluateChunk's.
func (ev *Evaluator) runChunked(ce ChunkedEvaluator, req *Request, res *Result, size int) error {
	if req.MixedSelf == 0 || !req.Outputs.Has(OutMixed) || ev.spec.Caps.Has(CapMixedSelf) {
		return ce.EvaluateChunks(req, res, size)
	}
	n, d := req.X.Dims()
	s := &ev.self
	first := *req
	first.Outputs = (req.Outputs &^ OutMixed) | OutGradX
	first.U, first.MixedSelf = nil, 0
	if !req.Outputs.Has(OutGradX) {
		own := res.GradX
		res.GradX = reuseDense(&s.g, n, d)
		defer func() { res.GradX = own }()
	}
	if err := ce.EvaluateChunks(&first, res, size); err != nil {
		return err
	}
	u := reuseDense(&s.u, n, d)
	for i := 0; i < n; i++ {
		ui, gi := u.RawRowView(i), res.GradX.RawRowView(i)
		if req.U != nil {
			copy(ui, req.U.RawRowView(i))
		} else {
			clear(ui)
		}
		for j, v := range gi {
			ui[j] += req.MixedSelf * v
		}
	}
	second := Request{Outputs: OutMixed, X: req.X, Theta: req.Theta, U: u}
	return ce.EvaluateChunks(&second, res, size)
}

// work evaluates chunks claimed from ev.next until none is left. Which goroutine evaluates a
// chunk does not matter: each chunk writes its own rows and θ-sized outputs, which run sums
// in chunk order afterwards. A panic in an energy becomes that chunk's error.
func (ev *Evaluator) work() {
	for {
		c := int(ev.next.Add(1) - 1)
		if c >= len(ev.chunks) {
			return
		}
		ch := &ev.chunks[c]
		func() {
			defer func() {
				if r := recover(); r != nil {
					ch.err = fmt.Errorf("panic in Evaluate: %v", r)
				}
			}()
			ch.err = EvaluateChunk(ev.energy, ev.spec.Caps, &ch.req, &ch.res, &ch.self)
		}()
	}
}

// SelfScratch holds what EvaluateChunk needs to form the mixed product's direction for an
// energy without CapMixedSelf. Its zero value is ready; reuse it between calls so that they
// allocate nothing.
type SelfScratch struct {
	g, u mat.Dense
	req  Request
}

// EvaluateChunk calls e.Evaluate on req (one chunk: no splitting, no fallbacks) and keeps the
// contract's promise about MixedSelf: when req asks for the mixed product with
// MixedSelf ≠ 0 and caps lacks CapMixedSelf, it asks e for ∇ₓE with req's other outputs
// first, forms uᵢ = Uᵢ + MixedSelf·∇ₓE(xᵢ), then asks e for the mixed product along u with
// MixedSelf = 0. The Evaluator serves every chunk through it, and a plugin SDK serves every
// request through it, so an energy author never has to handle MixedSelf.
func EvaluateChunk(e Energy, caps Capability, req *Request, res *Result, s *SelfScratch) error {
	if req.MixedSelf == 0 || caps.Has(CapMixedSelf) {
		return e.Evaluate(req, res)
	}
	if !req.Outputs.Has(OutMixed) {
		s.req = *req
		s.req.U, s.req.MixedSelf = nil, 0
		return e.Evaluate(&s.req, res)
	}
	n, d := req.X.Dims()
	first := &s.req
	*first = *req
	first.Outputs = (req.Outputs &^ OutMixed) | OutGradX
	first.U, first.MixedSelf = nil, 0
	g := res.GradX
	if !req.Outputs.Has(OutGradX) {
		// ∇ₓE was not asked for: lend e a buffer for it, and give res its own back after.
		own := res.GradX
		g = reuseDense(&s.g, n, d)
		res.GradX = g
		defer func() { res.GradX = own }()
	}
	if err := e.Evaluate(first, res); err != nil {
		return err
	}
	u := reuseDense(&s.u, n, d)
	for i := 0; i < n; i++ {
		ui, gi := u.RawRowView(i), g.RawRowView(i)
		if req.U != nil {
			copy(ui, req.U.RawRowView(i))
		} else {
			clear(ui)
		}
		for j, v := range gi {
			ui[j] += req.MixedSelf * v
		}
	}
	*first = Request{Outputs: OutMixed, X: req.X, Theta: req.Theta, U: u}
	return e.Evaluate(first, res)
}

// reuseDense makes m an n×d matrix, reusing its storage when large enough, and returns it.
func reuseDense(m *mat.Dense, n, d int) *mat.Dense {
	raw := m.RawMatrix().Data
	if cap(raw) < n*d {
		raw = make([]float64, n*d)
	}
	m.SetRawMatrix(blas64.General{Rows: n, Cols: d, Stride: d, Data: raw[:n*d]})
	return m
}

func addTheta(dst, src *Result, o Output) {
	if o.Has(OutParamVJP) {
		addTo(dst.ParamVJP, src.ParamVJP)
	}
	if o.Has(OutMixed) {
		addTo(dst.Mixed, src.Mixed)
	}
	if o.Has(OutLaplacianVJP) {
		addTo(dst.LaplacianVJP, src.LaplacianVJP)
	}
}

func addTo(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

// rowView sets dst to rows [lo, hi) of m, sharing storage, without allocating.
func rowView(dst *mat.Dense, m *mat.Dense, lo, hi int) *mat.Dense {
	raw := m.RawMatrix()
	if hi == lo {
		*dst = mat.Dense{}
		return dst
	}
	dst.SetRawMatrix(blas64.General{
		Rows: hi - lo, Cols: raw.Cols, Stride: raw.Stride,
		Data: raw.Data[lo*raw.Stride : (hi-1)*raw.Stride+raw.Cols],
	})
	return dst
}

func (ev *Evaluator) checkFinite(o Output, res *Result) error {
	src := ev.source
	if o.Has(OutEnergy) {
		if err := FiniteVec("energy", src, res.Energy); err != nil {
			return err
		}
	}
	if o.Has(OutGradX) {
		if err := FiniteDense("grad_x", src, res.GradX); err != nil {
			return err
		}
	}
	if o.Has(OutParamVJP) {
		if err := FiniteVec("param_vjp", src, res.ParamVJP); err != nil {
			return err
		}
	}
	if o.Has(OutMixed) {
		if err := FiniteVec("mixed", src, res.Mixed); err != nil {
			return err
		}
	}
	if o.Has(OutLaplacian) {
		if err := FiniteVec("laplacian", src, res.Laplacian); err != nil {
			return err
		}
	}
	if o.Has(OutLaplacianVJP) {
		if err := FiniteVec("laplacian_vjp", src, res.LaplacianVJP); err != nil {
			return err
		}
	}
	if o.Has(OutHVP) {
		if err := FiniteDense("hvp", src, res.HVP); err != nil {
			return err
		}
	}
	if o.Has(OutParamJac) {
		if err := FiniteDense("param_jac", src, res.ParamJac); err != nil {
			return err
		}
	}
	return nil
}

// FiniteVec returns a *NonFiniteError for the first NaN or Inf in s, naming quantity and source.
func FiniteVec(quantity, source string, s []float64) error {
	// Fast path: v − v is 0 for every finite v and NaN for NaN and ±Inf, so one sum without
	// branches clears the common all-finite case; only a bad sum pays for the search.
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a0 += s[i] - s[i]
		a1 += s[i+1] - s[i+1]
		a2 += s[i+2] - s[i+2]
		a3 += s[i+3] - s[i+3]
	}
	for ; i < len(s); i++ {
		a0 += s[i] - s[i]
	}
	if a0+a1+a2+a3 == 0 {
		return nil
	}
	for i, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return &NonFiniteError{Quantity: quantity, Source: source, Index: i, Value: v, Step: -1}
		}
	}
	return nil
}

// FiniteDense returns a *NonFiniteError for the first NaN or Inf in m; Index is the row.
func FiniteDense(quantity, source string, m *mat.Dense) error {
	raw := m.RawMatrix()
	for i := 0; i < raw.Rows; i++ {
		for _, v := range raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return &NonFiniteError{Quantity: quantity, Source: source, Index: i, Value: v, Step: -1}
			}
		}
	}
	return nil
}

// setCounts restores the work counts of a resumed run (plugin round trips are the plugin's).
func (ev *Evaluator) setCounts(c Counts) {
	rt := ev.counts.RoundTrips
	ev.counts = c
	ev.counts.RoundTrips = rt
}
