package host

import (
	"context"
	"fmt"
	"io"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

var _ framework.ChunkedEvaluator = (*Energy)(nil)

// Evaluate implements framework.Energy: the request as one chunk.
func (e *Energy) Evaluate(req *framework.Request, res *framework.Result) error {
	return e.EvaluateChunks(req, res, 0)
}

// EvaluateChunks implements framework.ChunkedEvaluator: the whole request crosses in one
// round trip and the plugin evaluates it in chunks of chunkRows, summing θ-sized outputs in
// chunk order, so the bits are those of in-process evaluation. With a pool the request is
// split at chunk boundaries into one part per process, each answering its chunks' θ-sized
// outputs one by one, which the host sums in chunk order: the same bits again. A request
// larger than the plugin's message limit is split into more parts the same way, and θ larger
// than it crosses first, in pieces (PutParams). A plugin of protocol minor 0 gets one request
// per chunk.
func (e *Energy) EvaluateChunks(req *framework.Request, res *framework.Result, chunkRows int) error {
	if err := req.Validate(e.spec); err != nil {
		return fmt.Errorf("plugin %s: %w", e.label, err)
	}
	n, d := req.X.Dims()
	p := e.spec.NumParams()
	if chunkRows <= 0 || chunkRows > n {
		chunkRows = max(n, 1)
	}
	nc := (n + chunkRows - 1) / chunkRows
	version, thetaBytes := e.snapshotTheta(req.Theta)
	inline := e.inlineTheta(len(thetaBytes))
	fit := e.rowsPerPart(req.Outputs, d, len(thetaBytes), inline)
	if fit < 1 {
		return e.errorf(nil, describeRequest(req.Outputs, n), fmt.Errorf("one row needs more than the message limit of %d bytes", e.limit))
	}
	// Parts: runs of whole chunks, at least one per process, each within the limit. A chunk
	// larger than the limit is split (its θ-sized outputs are then sums of the pieces').
	chunksPer := (nc + len(e.slots) - 1) / len(e.slots)
	rowsPer := chunksPer * chunkRows
	if e.desc.ProtocolMinor < 1 {
		rowsPer = chunkRows
	}
	if rowsPer > fit {
		rowsPer = max(1, fit/chunkRows) * chunkRows
		if fit < chunkRows {
			rowsPer = fit
		}
	}
	type part struct {
		lo, hi int
		th     wire.ThetaOutputs
		err    error
	}
	var parts []*part
	for lo := 0; lo < n || (n == 0 && len(parts) == 0); lo += rowsPer {
		parts = append(parts, &part{lo: lo, hi: min(lo+rowsPer, n)})
	}
	perChunk := len(parts) > 1
	if len(parts) == 1 {
		pt := parts[0]
		pt.th, pt.err = e.evaluatePart(req, res, pt.lo, pt.hi, chunkRows, false, version, thetaBytes, inline)
	} else {
		var wg sync.WaitGroup
		for _, pt := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pt.th, pt.err = e.evaluatePart(req, res, pt.lo, pt.hi, chunkRows, perChunk, version, thetaBytes, inline)
			}()
		}
		wg.Wait()
	}
	for _, pt := range parts {
		if pt.err != nil {
			return pt.err
		}
	}
	// θ-sized outputs: the single part's sums as they are, or every chunk's in chunk order.
	for _, o := range []struct {
		out framework.Output
		dst []float64
		get func(wire.ThetaOutputs) []float64
	}{
		{framework.OutParamVJP, res.ParamVJP, func(t wire.ThetaOutputs) []float64 { return t.ParamVJP }},
		{framework.OutMixed, res.Mixed, func(t wire.ThetaOutputs) []float64 { return t.Mixed }},
		{framework.OutLaplacianVJP, res.LaplacianVJP, func(t wire.ThetaOutputs) []float64 { return t.LaplacianVJP }},
	} {
		if !req.Outputs.Has(o.out) {
			continue
		}
		if !perChunk {
			copy(o.dst, o.get(parts[0].th))
			continue
		}
		for _, pt := range parts {
			all := o.get(pt.th)
			for off := 0; off < len(all); off += p {
				for i, v := range all[off : off+p] {
					o.dst[i] += v
				}
			}
		}
	}
	return nil
}

// inlineTheta reports whether θ of b bytes rides in the request itself rather than in
// pieces before it.
func (e *Energy) inlineTheta(b int) bool {
	return e.desc.ProtocolMinor < 1 || b+4096 <= e.limit/2
}

// rowsPerPart returns how many rows one request may carry within the limit.
func (e *Energy) rowsPerPart(o framework.Output, d, thetaBytes int, inline bool) int {
	p := e.spec.NumParams()
	perRow := 8*d + 8*2 // x, weights, lap_weights
	if o.Has(framework.OutMixed) {
		perRow += 8 * d // u
	}
	if o.Has(framework.OutHVP) {
		perRow += 8 * d // v
	}
	if e.desc.ProtocolMinor < 1 {
		// The answer is one message too.
		out := 0
		for _, x := range []framework.Output{framework.OutEnergy, framework.OutLaplacian} {
			if o.Has(x) {
				out += 8
			}
		}
		for _, x := range []framework.Output{framework.OutGradX, framework.OutHVP} {
			if o.Has(x) {
				out += 8 * d
			}
		}
		if o.Has(framework.OutParamJac) {
			out += 8 * p
		}
		perRow = max(perRow, out)
		thetaBytes *= 4 // θ and up to three θ-sized outputs
	}
	fixed := 4096
	if inline {
		fixed += thetaBytes
	}
	if fixed >= e.limit {
		return 0
	}
	return (e.limit - fixed) / perRow
}

func describeRequest(o framework.Output, n int) string {
	return fmt.Sprintf("Evaluate(%s; %d rows)", o, n)
}

// evaluatePart sends rows [lo, hi) of req, writes the per-row outputs into those rows of res
// and returns the θ-sized outputs (summed over the part's chunks, or per chunk).
func (e *Energy) evaluatePart(req *framework.Request, res *framework.Result, lo, hi, chunkRows int, perChunk bool, version uint64, thetaBytes []byte, inline bool) (wire.ThetaOutputs, error) {
	n, d, p := hi-lo, e.spec.Dim, e.spec.NumParams()
	msg := &pb.EvaluateRequest{Outputs: uint32(req.Outputs), MixedSelf: req.MixedSelf, ChunkRows: uint32(chunkRows), PerChunk: perChunk}
	msg.X = wire.Tensor(rowSlice(req.X, lo, hi))
	if req.Weights != nil {
		msg.Weights = wire.AppendFloats(nil, req.Weights[lo:hi])
	}
	if req.LapWeights != nil {
		msg.LapWeights = wire.AppendFloats(nil, req.LapWeights[lo:hi])
	}
	if req.U != nil && req.Outputs.Has(framework.OutMixed) {
		msg.U = wire.Tensor(rowSlice(req.U, lo, hi))
	}
	if req.V != nil && req.Outputs.Has(framework.OutHVP) {
		msg.V = wire.Tensor(rowSlice(req.V, lo, hi))
	}
	k := 1
	if perChunk {
		k = (n + chunkRows - 1) / chunkRows
	}
	request := describeRequest(req.Outputs, n)
	var th wire.ThetaOutputs
	var answered *instance
	err := e.do(request, true, func(ctx context.Context, inst *instance, resend bool) (err error) {
		if msg.Theta, err = e.params(ctx, inst, version, thetaBytes, resend, inline); err != nil {
			return err
		}
		a := newAssembly(req.Outputs, res, lo, n, d, p, k*p)
		if e.desc.ProtocolMinor < 1 {
			resp, err := inst.rpc.Evaluate(ctx, msg)
			if err != nil {
				return err
			}
			if err := a.add(resp); err != nil {
				return &answerError{err}
			}
		} else {
			stream, err := inst.rpc.EvaluateStream(ctx, msg)
			if err != nil {
				return err
			}
			for {
				resp, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if err := a.add(resp); err != nil {
					return &answerError{err}
				}
			}
		}
		if len(msg.Theta.Data) > 0 {
			inst.version.Store(version)
		}
		answered = inst
		if err := a.complete(); err != nil {
			return &answerError{err}
		}
		th = a.theta
		return nil
	})
	if err != nil {
		return th, err
	}
	src := "plugin " + e.label
	for _, c := range []struct {
		o    framework.Output
		name string
		s    []float64
	}{{framework.OutParamVJP, "param_vjp", th.ParamVJP}, {framework.OutMixed, "mixed", th.Mixed}, {framework.OutLaplacianVJP, "laplacian_vjp", th.LaplacianVJP}} {
		if req.Outputs.Has(c.o) {
			if err := framework.FiniteVec(c.name, src, c.s); err != nil {
				return th, e.errorf(answered, request, err)
			}
		}
	}
	if err := e.finiteRows(req.Outputs, res, lo, hi); err != nil {
		return th, e.errorf(answered, request, err)
	}
	return th, nil
}

// answerError is a malformed answer: the plugin's fault, reported as it is (not retried).
type answerError struct{ err error }

func (a *answerError) Error() string { return a.err.Error() }

// finiteRows checks the per-row outputs of rows [lo, hi); a NonFiniteError's Index is the
// row within the part.
func (e *Energy) finiteRows(o framework.Output, res *framework.Result, lo, hi int) error {
	src := "plugin " + e.label
	if o.Has(framework.OutEnergy) {
		if err := framework.FiniteVec("energy", src, res.Energy[lo:hi]); err != nil {
			return err
		}
	}
	if o.Has(framework.OutLaplacian) {
		if err := framework.FiniteVec("laplacian", src, res.Laplacian[lo:hi]); err != nil {
			return err
		}
	}
	if hi == lo {
		return nil
	}
	if o.Has(framework.OutGradX) {
		if err := framework.FiniteDense("grad_x", src, rowSlice(res.GradX, lo, hi)); err != nil {
			return err
		}
	}
	if o.Has(framework.OutHVP) {
		if err := framework.FiniteDense("hvp", src, rowSlice(res.HVP, lo, hi)); err != nil {
			return err
		}
	}
	if o.Has(framework.OutParamJac) {
		if err := framework.FiniteDense("param_jac", src, rowSlice(res.ParamJac, lo, hi)); err != nil {
			return err
		}
	}
	return nil
}

// params returns θ for a request to inst: its version alone when inst holds it, inline, or
// sent first in pieces (PutParams) when it is too large to ride in the request.
func (e *Energy) params(ctx context.Context, inst *instance, version uint64, data []byte, resend, inline bool) (*pb.Params, error) {
	if !resend && inst.version.Load() == version {
		return &pb.Params{Version: version}, nil
	}
	if inline {
		return &pb.Params{Version: version, Data: data}, nil
	}
	if err := e.put(ctx, inst, version, data); err != nil {
		return nil, err
	}
	inst.version.Store(version)
	return &pb.Params{Version: version}, nil
}

// put sends data to inst in pieces within the message limit, to keep under version.
func (e *Energy) put(ctx context.Context, inst *instance, version uint64, data []byte) error {
	stream, err := inst.rpc.PutParams(ctx)
	if err != nil {
		return err
	}
	step := max(8, (e.limit-1024)/8*8)
	for off := 0; off < len(data); off += step {
		piece := &pb.ParamsPiece{Version: version, Total: uint64(len(data)), Offset: uint64(off), Data: data[off:min(off+step, len(data))]}
		if err := stream.Send(piece); err != nil {
			if err == io.EOF {
				_, err = stream.CloseAndRecv() // the plugin's reason
			}
			return err
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

// rowSlice returns rows [lo, hi) of m as a view.
func rowSlice(m *mat.Dense, lo, hi int) *mat.Dense {
	if hi == lo {
		return &mat.Dense{}
	}
	return m.Slice(lo, hi, 0, m.RawMatrix().Cols).(*mat.Dense)
}

// assembly collects the pieces of an answer: per-row outputs into rows [off, off+n) of res,
// θ-sized outputs (size values each) into its own buffers, each row and value exactly once.
type assembly struct {
	o      framework.Output
	res    *framework.Result
	off, n int
	d, p   int
	size   int
	rows   map[framework.Output]int
	values map[framework.Output]int
	theta  wire.ThetaOutputs
}

func newAssembly(o framework.Output, res *framework.Result, off, n, d, p, size int) *assembly {
	a := &assembly{o: o, res: res, off: off, n: n, d: d, p: p, size: size, rows: map[framework.Output]int{}, values: map[framework.Output]int{}}
	if o.Has(framework.OutParamVJP) {
		a.theta.ParamVJP = make([]float64, size)
	}
	if o.Has(framework.OutMixed) {
		a.theta.Mixed = make([]float64, size)
	}
	if o.Has(framework.OutLaplacianVJP) {
		a.theta.LaplacianVJP = make([]float64, size)
	}
	return a
}

// add places one piece.
func (a *assembly) add(r *pb.EvaluateResponse) error {
	ro, vo := int(r.RowOffset), int(r.ValueOffset)
	vec := func(o framework.Output, name string, b []byte, dst []float64) error {
		if b == nil {
			return nil
		}
		if !a.o.Has(o) {
			return fmt.Errorf("answer has %s, which was not asked for", name)
		}
		if len(b)%8 != 0 || ro < 0 || ro+len(b)/8 > a.n {
			return fmt.Errorf("answer has %s of %d bytes at row %d, want at most %d values in all", name, len(b), ro, a.n)
		}
		wire.CopyFloats(dst[a.off+ro:a.off+ro+len(b)/8], b)
		a.rows[o] += len(b) / 8
		return nil
	}
	matrix := func(o framework.Output, name string, t *pb.Tensor, dst *mat.Dense) error {
		if t == nil {
			return nil
		}
		if !a.o.Has(o) {
			return fmt.Errorf("answer has %s, which was not asked for", name)
		}
		w := a.d
		if o == framework.OutParamJac {
			w = a.p
		}
		if len(t.Shape) != 2 || t.Shape[1] != int64(w) || t.Shape[0] < 0 || ro+int(t.Shape[0]) > a.n {
			return fmt.Errorf("answer has %s of shape %v at row %d, want m×%d within %d rows", name, t.Shape, ro, w, a.n)
		}
		m := int(t.Shape[0])
		if len(t.Data) != 8*m*w {
			return fmt.Errorf("answer has %s of %d bytes, want %d", name, len(t.Data), 8*m*w)
		}
		raw := dst.RawMatrix()
		for i := 0; i < m; i++ {
			row := raw.Data[(a.off+ro+i)*raw.Stride : (a.off+ro+i)*raw.Stride+w]
			wire.CopyFloats(row, t.Data[8*i*w:8*(i+1)*w])
		}
		a.rows[o] += m
		return nil
	}
	theta := func(o framework.Output, name string, b []byte, dst []float64) error {
		if b == nil {
			return nil
		}
		if !a.o.Has(o) {
			return fmt.Errorf("answer has %s, which was not asked for", name)
		}
		if len(b)%8 != 0 || vo < 0 || vo+len(b)/8 > a.size {
			return fmt.Errorf("answer has %s of %d bytes at value %d, want %d values in all", name, len(b), vo, a.size)
		}
		wire.CopyFloats(dst[vo:vo+len(b)/8], b)
		a.values[o] += len(b) / 8
		return nil
	}
	for _, err := range []error{
		vec(framework.OutEnergy, "energy", r.Energy, a.res.Energy),
		vec(framework.OutLaplacian, "laplacian", r.Laplacian, a.res.Laplacian),
		matrix(framework.OutGradX, "grad_x", r.GradX, a.res.GradX),
		matrix(framework.OutHVP, "hvp", r.Hvp, a.res.HVP),
		matrix(framework.OutParamJac, "param_jac", r.ParamJac, a.res.ParamJac),
		theta(framework.OutParamVJP, "param_vjp", r.ParamVjp, a.theta.ParamVJP),
		theta(framework.OutMixed, "mixed", r.Mixed, a.theta.Mixed),
		theta(framework.OutLaplacianVJP, "laplacian_vjp", r.LaplacianVjp, a.theta.LaplacianVJP),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// complete checks that every requested output came, each row and value once.
func (a *assembly) complete() error {
	for _, c := range []struct {
		o    framework.Output
		name string
	}{{framework.OutEnergy, "energy"}, {framework.OutGradX, "grad_x"}, {framework.OutLaplacian, "laplacian"}, {framework.OutHVP, "hvp"}, {framework.OutParamJac, "param_jac"}} {
		if a.o.Has(c.o) && a.rows[c.o] != a.n {
			return fmt.Errorf("answer has %s for %d rows, want %d", c.name, a.rows[c.o], a.n)
		}
	}
	for _, c := range []struct {
		o    framework.Output
		name string
	}{{framework.OutParamVJP, "param_vjp"}, {framework.OutMixed, "mixed"}, {framework.OutLaplacianVJP, "laplacian_vjp"}} {
		if a.o.Has(c.o) && a.values[c.o] != a.size {
			return fmt.Errorf("answer has %s of %d values, want %d", c.name, a.values[c.o], a.size)
		}
	}
	return nil
}
