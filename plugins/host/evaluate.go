package host

import (
	"context"
	"errors"
	"fmt"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Evaluate implements framework.Energy: one fused request per call (or per part, when the
// batch would not fit in one message), answered by the least busy plugin process.
func (e *Energy) Evaluate(req *framework.Request, res *framework.Result) error {
	if err := req.Validate(e.spec); err != nil {
		return fmt.Errorf("plugin %s: %w", e.label, err)
	}
	n, d := req.X.Dims()
	p := e.spec.NumParams()
	version, thetaBytes := e.snapshotTheta(req.Theta)
	rows := e.rowsPerPart(req.Outputs, n, d, p, len(thetaBytes))
	if rows < 1 {
		return e.errorf(nil, describeRequest(req.Outputs, n), fmt.Errorf("one row and θ need more than the message limit of %d bytes", e.limit))
	}
	if rows >= n {
		return e.evaluatePart(req, res, 0, n, version, thetaBytes)
	}
	// Split: per-row outputs land in their rows, θ-sized outputs are added part by part.
	for lo := 0; lo < n; lo += rows {
		if err := e.evaluatePart(req, res, lo, min(lo+rows, n), version, thetaBytes); err != nil {
			return err
		}
	}
	return nil
}

// rowsPerPart returns how many rows fit in one request and its answer under the limit.
func (e *Energy) rowsPerPart(o framework.Output, n, d, p, thetaBytes int) int {
	perRow := 8 * d // x
	perRow += 8 * d // u or v, conservatively one of them
	perRow += 8 * 2 // weights, lap_weights
	out := 0
	if o.Has(framework.OutEnergy) {
		out += 8
	}
	if o.Has(framework.OutLaplacian) {
		out += 8
	}
	if o.Has(framework.OutGradX) {
		out += 8 * d
	}
	if o.Has(framework.OutHVP) {
		out += 8 * d
	}
	if o.Has(framework.OutParamJac) {
		out += 8 * p
	}
	perRow = max(perRow+8*d, out) // U and V both, or the answer
	fixed := thetaBytes + 3*8*p + 4096
	if fixed >= e.limit {
		return 0
	}
	return (e.limit - fixed) / perRow
}

func describeRequest(o framework.Output, n int) string {
	return fmt.Sprintf("Evaluate(%s; %d rows)", o, n)
}

// evaluatePart sends rows [lo, hi) of req and writes the answer into res: per-row outputs
// into rows [lo, hi), θ-sized ones added to what res holds.
func (e *Energy) evaluatePart(req *framework.Request, res *framework.Result, lo, hi int, version uint64, thetaBytes []byte) error {
	n := hi - lo
	msg := &pb.EvaluateRequest{Outputs: uint32(req.Outputs), MixedSelf: req.MixedSelf}
	var xv, uv, vv mat.Dense
	msg.X = wire.Tensor(rows(&xv, req.X, lo, hi))
	if req.Weights != nil {
		msg.Weights = wire.AppendFloats(nil, req.Weights[lo:hi])
	}
	if req.LapWeights != nil {
		msg.LapWeights = wire.AppendFloats(nil, req.LapWeights[lo:hi])
	}
	if req.U != nil && req.Outputs.Has(framework.OutMixed) {
		msg.U = wire.Tensor(rows(&uv, req.U, lo, hi))
	}
	if req.V != nil && req.Outputs.Has(framework.OutHVP) {
		msg.V = wire.Tensor(rows(&vv, req.V, lo, hi))
	}
	request := describeRequest(req.Outputs, n)
	var resp *pb.EvaluateResponse
	var answered *instance
	err := e.do(request, true, func(ctx context.Context, inst *instance, resend bool) (err error) {
		msg.Theta = params(inst, version, thetaBytes, resend)
		resp, err = inst.rpc.Evaluate(ctx, msg)
		if err == nil {
			if len(msg.Theta.Data) > 0 {
				inst.version.Store(version)
			}
			answered = inst
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := e.decode(req.Outputs, resp, res, lo, n); err != nil {
		return e.errorf(answered, request, err)
	}
	return nil
}

// rows sets dst to rows [lo, hi) of m.
func rows(dst *mat.Dense, m *mat.Dense, lo, hi int) *mat.Dense {
	r, c := m.Dims()
	if lo == 0 && hi == r {
		return m
	}
	raw := m.RawMatrix()
	if hi == lo {
		return &mat.Dense{}
	}
	dst.SetRawMatrix(blas64.General{Rows: hi - lo, Cols: c, Stride: raw.Stride,
		Data: raw.Data[lo*raw.Stride : (hi-1)*raw.Stride+c]})
	return dst
}

// decode checks the answer's shapes and values and writes it into res.
func (e *Energy) decode(o framework.Output, resp *pb.EvaluateResponse, res *framework.Result, off, n int) error {
	p := e.spec.NumParams()
	src := "plugin " + e.label
	vec := func(name string, b []byte, dst []float64) error {
		if len(b) != 8*len(dst) {
			return fmt.Errorf("answer has %s of %d bytes, want %d values (%d bytes)", name, len(b), len(dst), 8*len(dst))
		}
		wire.CopyFloats(dst, b)
		return framework.FiniteVec(name, src, dst)
	}
	add := func(name string, b []byte, dst []float64) error {
		got, err := wire.Vector(name, b, p)
		if err != nil {
			return fmt.Errorf("answer has %w", err)
		}
		if err := framework.FiniteVec(name, src, got); err != nil {
			return err
		}
		for i, v := range got {
			dst[i] += v
		}
		return nil
	}
	matrix := func(name string, t *pb.Tensor, dst *mat.Dense) error {
		if t == nil {
			return fmt.Errorf("answer has no %s", name)
		}
		_, d := dst.Dims() // d, or p for param_jac
		if len(t.Shape) != 2 || t.Shape[0] != int64(n) || t.Shape[1] != int64(d) {
			return fmt.Errorf("answer has %s of shape %v, want [%d %d]", name, t.Shape, n, d)
		}
		if len(t.Data) != 8*n*d {
			return fmt.Errorf("answer has %s of %d bytes, want %d", name, len(t.Data), 8*n*d)
		}
		raw := dst.RawMatrix()
		for i := 0; i < n; i++ {
			row := raw.Data[(off+i)*raw.Stride : (off+i)*raw.Stride+d]
			wire.CopyFloats(row, t.Data[8*i*d:8*(i+1)*d])
			if err := framework.FiniteVec(name, src, row); err != nil {
				var nf *framework.NonFiniteError
				if errors.As(err, &nf) {
					nf.Index = i
				}
				return err
			}
		}
		return nil
	}
	if o.Has(framework.OutEnergy) {
		if err := vec("energy", resp.Energy, res.Energy[off:off+n]); err != nil {
			return err
		}
	}
	if o.Has(framework.OutGradX) {
		if err := matrix("grad_x", resp.GradX, res.GradX); err != nil {
			return err
		}
	}
	if o.Has(framework.OutParamVJP) {
		if err := add("param_vjp", resp.ParamVjp, res.ParamVJP); err != nil {
			return err
		}
	}
	if o.Has(framework.OutMixed) {
		if err := add("mixed", resp.Mixed, res.Mixed); err != nil {
			return err
		}
	}
	if o.Has(framework.OutLaplacian) {
		if err := vec("laplacian", resp.Laplacian, res.Laplacian[off:off+n]); err != nil {
			return err
		}
	}
	if o.Has(framework.OutLaplacianVJP) {
		if err := add("laplacian_vjp", resp.LaplacianVjp, res.LaplacianVJP); err != nil {
			return err
		}
	}
	if o.Has(framework.OutHVP) {
		if err := matrix("hvp", resp.Hvp, res.HVP); err != nil {
			return err
		}
	}
	if o.Has(framework.OutParamJac) {
		if err := matrix("param_jac", resp.ParamJac, res.ParamJac); err != nil {
			return err
		}
	}
	return nil
}
