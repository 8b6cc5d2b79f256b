package host

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Compile-time checks: over protocol minor 1, a plugin that declares capability linear or
// block-gibbs serves these (the spec says which).
var (
	_ framework.LinearEnergy = (*Energy)(nil)
	_ framework.BlockGibbser = (*Energy)(nil)
)

// linearCache keeps the offset's derivatives of the last row whose statistics were asked for:
// closed-form score matching asks for a row's Statistics and then its OffsetGrad, which one
// Statistics request answers together.
type linearCache struct {
	mu  sync.Mutex
	x   []float64
	gc  []float64
	lap float64
}

// Statistics implements framework.LinearEnergy: one Statistics request for the row x. It
// panics when the plugin's spec lacks capability linear (callers check the spec first, as
// the contract says) or the request fails: the interface has no error to return.
func (e *Energy) Statistics(x []float64, jac *mat.Dense, lap []float64) {
	d, p := e.spec.Dim, e.spec.NumParams()
	if !e.spec.Caps.Has(framework.CapLinear) {
		panic(fmt.Sprintf("plugin %s: Statistics on an energy without capability linear", e.label))
	}
	var resp *pb.StatisticsResponse
	xm := mat.NewDense(1, d, append([]float64(nil), x...))
	err := e.do("Statistics(1 row)", true, func(ctx context.Context, inst *instance, _ bool) (err error) {
		resp, err = inst.rpc.Statistics(ctx, &pb.StatisticsRequest{X: wire.Tensor(xm)})
		return err
	})
	if err == nil {
		err = checkStatistics(resp, p, d)
	}
	if err != nil {
		panic(fmt.Errorf("plugin %s: %w", e.label, err))
	}
	raw := jac.RawMatrix()
	for k := 0; k < p; k++ {
		wire.CopyFloats(raw.Data[k*raw.Stride:k*raw.Stride+d], resp.Jacobian.Data[8*k*d:8*(k+1)*d])
	}
	wire.CopyFloats(lap, resp.Laplacian)
	e.linear.mu.Lock()
	e.linear.x = append(e.linear.x[:0], x...)
	e.linear.gc = append(e.linear.gc[:0], make([]float64, d)...)
	wire.CopyFloats(e.linear.gc, resp.OffsetGrad.Data)
	var lc [1]float64
	wire.CopyFloats(lc[:], resp.OffsetLaplacian)
	e.linear.lap = lc[0]
	e.linear.mu.Unlock()
}

// OffsetGrad implements framework.LinearEnergy: from the last Statistics request when it was
// for the same row, else by one of its own.
func (e *Energy) OffsetGrad(x, dst []float64) float64 {
	e.linear.mu.Lock()
	same := len(e.linear.x) == len(x)
	for i := 0; same && i < len(x); i++ {
		same = math.Float64bits(x[i]) == math.Float64bits(e.linear.x[i])
	}
	if same {
		copy(dst, e.linear.gc)
		lap := e.linear.lap
		e.linear.mu.Unlock()
		return lap
	}
	e.linear.mu.Unlock()
	p, d := e.spec.NumParams(), e.spec.Dim
	e.Statistics(x, mat.NewDense(max(p, 1), max(d, 1), nil), make([]float64, p))
	return e.OffsetGrad(x, dst)
}

func checkStatistics(r *pb.StatisticsResponse, p, d int) error {
	switch {
	case r.Jacobian == nil || len(r.Jacobian.Data) != 8*p*d:
		return fmt.Errorf("Statistics answer: jacobian must hold 1×%d×%d values", p, d)
	case len(r.Laplacian) != 8*p:
		return fmt.Errorf("Statistics answer: laplacian must hold %d values", p)
	case r.OffsetGrad == nil || len(r.OffsetGrad.Data) != 8*d:
		return fmt.Errorf("Statistics answer: offset_grad must hold %d values", d)
	case len(r.OffsetLaplacian) != 8:
		return fmt.Errorf("Statistics answer: offset_laplacian must hold 1 value")
	}
	return nil
}

// BlockGibbs implements framework.BlockGibbser: one sweep of every row of x inside the
// plugin, row i's randomness seeded by two words drawn from rngs[i]. The draws differ from
// the in-process energy's, but depend only on the rows' streams, not on the processes.
func (e *Energy) BlockGibbs(theta []float64, x *mat.Dense, rngs []*rand.Rand) error {
	if !e.spec.Caps.Has(framework.CapBlockGibbs) {
		return fmt.Errorf("plugin %s: %w: block Gibbs (no capability block-gibbs)", e.label, ErrUnimplemented)
	}
	n, d := x.Dims()
	if len(rngs) != n {
		return &framework.ShapeError{What: "block Gibbs streams", Want: fmt.Sprint(n), Got: fmt.Sprint(len(rngs))}
	}
	seeds := make([]uint64, 2*n)
	for i, r := range rngs {
		seeds[2*i], seeds[2*i+1] = r.Uint64(), r.Uint64()
	}
	version, thetaBytes := e.snapshotTheta(theta)
	msg := &pb.BlockGibbsRequest{X: wire.Tensor(x), Steps: 1, Seeds: wire.AppendUint64s(nil, seeds)}
	request := fmt.Sprintf("BlockGibbs(%d rows)", n)
	var resp *pb.BlockGibbsResponse
	err := e.do(request, true, func(ctx context.Context, inst *instance, resend bool) (err error) {
		if msg.Theta, err = e.params(ctx, inst, version, thetaBytes, resend, e.inlineTheta(len(thetaBytes))); err != nil {
			return err
		}
		if resp, err = inst.rpc.BlockGibbs(ctx, msg); err == nil && len(msg.Theta.Data) > 0 {
			inst.version.Store(version)
		}
		return err
	})
	if err != nil {
		return err
	}
	got, err := wire.Matrix("x", resp.X, n, d)
	if err != nil {
		return e.errorf(nil, request, fmt.Errorf("answer: %w", err))
	}
	if err := framework.FiniteDense("block Gibbs states", "plugin "+e.label, got); err != nil {
		return e.errorf(nil, request, err)
	}
	x.Copy(got)
	return nil
}
