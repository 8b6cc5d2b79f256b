package sdk

import (
	"context"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Statistics serves an energy linear in θ (framework.LinearEnergy, capability linear): the
// Jacobian and Laplacians of its statistics T, and the derivatives of its offset c, per row.
func (s *server) Statistics(_ context.Context, req *pb.StatisticsRequest) (*pb.StatisticsResponse, error) {
	e, spec, err := s.state()
	if err != nil {
		return nil, err
	}
	le, ok := e.(framework.LinearEnergy)
	if !ok || !spec.Caps.Has(framework.CapLinear) {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_UNIMPLEMENTED, "", "energy %s is not linear in θ (no capability linear)", spec.Name)
	}
	d, p := spec.Dim, spec.NumParams()
	x, err := wire.Matrix("x", req.X, -1, d)
	if err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "x", "%v", err)
	}
	n, _ := x.Dims()
	jac := make([]float64, n*p*d)
	lap := make([]float64, n*p)
	gc := make([]float64, n*d)
	lc := make([]float64, n)
	for i := 0; i < n; i++ {
		j := mat.NewDense(max(p, 1), max(d, 1), jac[i*p*d:(i+1)*p*d])
		le.Statistics(x.RawRowView(i), j, lap[i*p:(i+1)*p])
		lc[i] = le.OffsetGrad(x.RawRowView(i), gc[i*d:(i+1)*d])
	}
	return &pb.StatisticsResponse{
		Jacobian:        &pb.Tensor{Shape: []int64{int64(n), int64(p), int64(d)}, Data: wire.AppendFloats(nil, jac)},
		Laplacian:       wire.AppendFloats(nil, lap),
		OffsetGrad:      &pb.Tensor{Shape: []int64{int64(n), int64(d)}, Data: wire.AppendFloats(nil, gc)},
		OffsetLaplacian: wire.AppendFloats(nil, lc),
	}, nil
}

// BlockGibbs serves an energy with exact block-Gibbs sweeps (framework.BlockGibbser,
// capability block-gibbs): row i's randomness is a PCG seeded by its two words.
func (s *server) BlockGibbs(_ context.Context, req *pb.BlockGibbsRequest) (*pb.BlockGibbsResponse, error) {
	e, spec, err := s.state()
	if err != nil {
		return nil, err
	}
	bg, ok := e.(framework.BlockGibbser)
	if !ok || !spec.Caps.Has(framework.CapBlockGibbs) {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_UNIMPLEMENTED, "", "energy %s has no block-Gibbs sampler (no capability block-gibbs)", spec.Name)
	}
	x, err := wire.Matrix("x", req.X, -1, spec.Dim)
	if err != nil {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "x", "%v", err)
	}
	n, _ := x.Dims()
	x = mat.DenseCopyOf(x)
	seeds, err := wire.Uint64s(req.Seeds)
	if err != nil || len(seeds) != 2*n {
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "seeds", "seeds has %d bytes, want 16 per row (%d rows)", len(req.Seeds), n)
	}
	theta, err := s.thetas.get(req.Theta, spec.NumParams())
	if err != nil {
		return nil, err
	}
	rngs := make([]*rand.Rand, n)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(seeds[2*i], seeds[2*i+1]))
	}
	for t := uint32(0); t < max(req.Steps, 1); t++ {
		if err := bg.BlockGibbs(theta, x, rngs); err != nil {
			return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_FAILED, "", "BlockGibbs: %v", err)
		}
	}
	return &pb.BlockGibbsResponse{X: wire.Tensor(x)}, nil
}
