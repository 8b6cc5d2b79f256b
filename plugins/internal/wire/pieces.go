package wire

import (
	"runtime/debug"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// pieceOverhead bounds the bytes of a piece beyond its numbers (tags, lengths, shapes).
const pieceOverhead = 1 << 10

// ThetaOutputs are the θ-sized outputs of an answer: p values each, or k·p when per chunk.
type ThetaOutputs struct {
	ParamVJP, Mixed, LaplacianVJP []float64
}

// Pieces splits the answer to an EvaluateStream request into messages of at most limit
// bytes: first the per-row outputs of res (n rows of dimension d; param_jac of width p) in ranges of rows, then each
// θ-sized output in ranges of values. An answer that fits is one message.
func Pieces(out framework.Output, res *framework.Result, n, d, p int, th ThetaOutputs, limit int) []*pb.EvaluateResponse {
	perRow := 0
	if out.Has(framework.OutParamJac) {
		perRow += 8 * p
	}
	for _, o := range []framework.Output{framework.OutEnergy, framework.OutLaplacian} {
		if out.Has(o) {
			perRow += 8
		}
	}
	for _, o := range []framework.Output{framework.OutGradX, framework.OutHVP} {
		if out.Has(o) {
			perRow += 8 * d
		}
	}
	thetaBytes := 8 * (len(th.ParamVJP) + len(th.Mixed) + len(th.LaplacianVJP))
	if perRow*n+thetaBytes+pieceOverhead <= limit {
		return []*pb.EvaluateResponse{rowsPiece(out, res, 0, n, d, p, th)}
	}
	var pieces []*pb.EvaluateResponse
	if perRow > 0 {
		step := max(1, (limit-pieceOverhead)/perRow)
		for lo := 0; lo < n; lo += step {
			pieces = append(pieces, rowsPiece(out, res, lo, min(lo+step, n), d, p, ThetaOutputs{}))
		}
	}
	step := max(1, (limit-pieceOverhead)/8)
	for _, v := range []struct {
		o   framework.Output
		s   []float64
		set func(*pb.EvaluateResponse, []byte)
	}{
		{framework.OutParamVJP, th.ParamVJP, func(r *pb.EvaluateResponse, b []byte) { r.ParamVjp = b }},
		{framework.OutMixed, th.Mixed, func(r *pb.EvaluateResponse, b []byte) { r.Mixed = b }},
		{framework.OutLaplacianVJP, th.LaplacianVJP, func(r *pb.EvaluateResponse, b []byte) { r.LaplacianVjp = b }},
	} {
		if !out.Has(v.o) {
			continue
		}
		for lo := 0; lo < len(v.s); lo += step {
			r := &pb.EvaluateResponse{ValueOffset: int64(lo)}
			v.set(r, AppendFloats(nil, v.s[lo:min(lo+step, len(v.s))]))
			pieces = append(pieces, r)
		}
	}
	return pieces
}

// rowsPiece encodes rows [lo, hi) of the per-row outputs, and th whole.
func rowsPiece(out framework.Output, res *framework.Result, lo, hi, d, p int, th ThetaOutputs) *pb.EvaluateResponse {
	r := &pb.EvaluateResponse{RowOffset: int64(lo)}
	rows := func(m *mat.Dense, w int) *pb.Tensor {
		t := &pb.Tensor{Shape: []int64{int64(hi - lo), int64(w)}}
		if hi > lo && w > 0 {
			t = Tensor(m.Slice(lo, hi, 0, w).(*mat.Dense))
		}
		return t
	}
	if out.Has(framework.OutEnergy) {
		r.Energy = AppendFloats(nil, res.Energy[lo:hi])
	}
	if out.Has(framework.OutGradX) {
		r.GradX = rows(res.GradX, d)
	}
	if out.Has(framework.OutLaplacian) {
		r.Laplacian = AppendFloats(nil, res.Laplacian[lo:hi])
	}
	if out.Has(framework.OutHVP) {
		r.Hvp = rows(res.HVP, d)
	}
	if out.Has(framework.OutParamJac) {
		r.ParamJac = rows(res.ParamJac, p)
	}
	if out.Has(framework.OutParamVJP) && th.ParamVJP != nil {
		r.ParamVjp = AppendFloats(make([]byte, 0, 8*len(th.ParamVJP)), th.ParamVJP)
	}
	if out.Has(framework.OutMixed) && th.Mixed != nil {
		r.Mixed = AppendFloats(make([]byte, 0, 8*len(th.Mixed)), th.Mixed)
	}
	if out.Has(framework.OutLaplacianVJP) && th.LaplacianVJP != nil {
		r.LaplacianVjp = AppendFloats(make([]byte, 0, 8*len(th.LaplacianVJP)), th.LaplacianVJP)
	}
	return r
}

// Chunks evaluates req on e in chunks of chunk rows (0: one chunk), each through
// framework.EvaluateChunk, on up to workers goroutines, as goebm's Evaluator does: per-row
// outputs into res (sized by the caller with Reset), θ-sized outputs per chunk. It returns the
// θ-sized outputs summed over the chunks in chunk order from zero, or, with perChunk, the
// chunks' own, concatenated (k·p values).
func Chunks(e framework.Energy, caps framework.Capability, req *framework.Request, res *framework.Result, chunk, workers int, perChunk bool) (ThetaOutputs, error) {
	n, d := req.X.Dims()
	p := len(req.Theta)
	if chunk <= 0 || chunk > n {
		chunk = max(n, 1)
	}
	nc := (n + chunk - 1) / chunk
	thetaOut := req.Outputs & (framework.OutParamVJP | framework.OutMixed | framework.OutLaplacianVJP)
	per := make([]framework.Result, nc)
	errs := make([]error, nc)
	view := func(m *mat.Dense, lo, hi int) *mat.Dense {
		if m == nil {
			return nil
		}
		_, w := m.Dims()
		return m.Slice(lo, hi, 0, w).(*mat.Dense)
	}
	runChunk := func(c int, self *framework.SelfScratch) {
		lo, hi := c*chunk, min((c+1)*chunk, n)
		cr := framework.Request{Outputs: req.Outputs, Theta: req.Theta, MixedSelf: req.MixedSelf,
			X: view(req.X, lo, hi), U: view(req.U, lo, hi), V: view(req.V, lo, hi)}
		if req.Weights != nil {
			cr.Weights = req.Weights[lo:hi]
		}
		if req.LapWeights != nil {
			cr.LapWeights = req.LapWeights[lo:hi]
		}
		r := &per[c]
		if req.Outputs.Has(framework.OutEnergy) {
			r.Energy = res.Energy[lo:hi]
		}
		if req.Outputs.Has(framework.OutLaplacian) {
			r.Laplacian = res.Laplacian[lo:hi]
		}
		if req.Outputs.Has(framework.OutGradX) {
			r.GradX = view(res.GradX, lo, hi)
		}
		if req.Outputs.Has(framework.OutHVP) {
			r.HVP = view(res.HVP, lo, hi)
		}
		if req.Outputs.Has(framework.OutParamJac) {
			r.ParamJac = view(res.ParamJac, lo, hi)
		}
		r.Reset(thetaOut, hi-lo, d, p)
		func() {
			defer func() {
				if x := recover(); x != nil {
					errs[c] = &PanicError{Value: x, Stack: debug.Stack()}
				}
			}()
			errs[c] = framework.EvaluateChunk(e, caps, &cr, r, self)
		}()
	}
	workers = max(1, min(workers, nc))
	if workers == 1 {
		// One worker: the chunks run on this goroutine, without a hand-off to another.
		var self framework.SelfScratch
		for c := 0; c < nc; c++ {
			runChunk(c, &self)
		}
	} else {
		work := make(chan int)
		done := make(chan struct{})
		for w := 0; w < workers; w++ {
			go func() {
				var self framework.SelfScratch
				for c := range work {
					runChunk(c, &self)
				}
				done <- struct{}{}
			}()
		}
		for c := 0; c < nc; c++ {
			work <- c
		}
		close(work)
		for w := 0; w < workers; w++ {
			<-done
		}
	}
	for c, err := range errs {
		if err != nil {
			return ThetaOutputs{}, chunkError{lo: c * chunk, hi: min((c+1)*chunk, n), err: err}
		}
	}
	var th ThetaOutputs
	gather := func(o framework.Output, get func(*framework.Result) []float64) []float64 {
		if !thetaOut.Has(o) {
			return nil
		}
		if perChunk {
			all := make([]float64, 0, nc*p)
			for c := range per {
				all = append(all, get(&per[c])...)
			}
			return all
		}
		sum := make([]float64, p)
		for c := range per {
			for i, v := range get(&per[c]) {
				sum[i] += v
			}
		}
		return sum
	}
	th.ParamVJP = gather(framework.OutParamVJP, func(r *framework.Result) []float64 { return r.ParamVJP })
	th.Mixed = gather(framework.OutMixed, func(r *framework.Result) []float64 { return r.Mixed })
	th.LaplacianVJP = gather(framework.OutLaplacianVJP, func(r *framework.Result) []float64 { return r.LaplacianVJP })
	return th, nil
}
