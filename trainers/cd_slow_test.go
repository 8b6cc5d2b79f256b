//go:build slow

package trainers

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// From θ = 0, with the same steps, learning rate and seed, PCD ends nearer the exact MLE of
// the first 50 rows of ising10_train.csv than CD-1, whose end point is near its own exact
// fixed point (see TestPCDIsingNearerMLEThanCD1).
func TestPCDIsingFromZero(t *testing.T) {
	x, xr := cdIsingSubset(t, 50, 20)
	mle := cdIsingMLE(t, x)
	fixed := cdCD1FixedPoint(t, x, mle)
	bias := cdMaxAbsDiff(fixed, mle)
	const steps, lr, seed = 3000, 0.5, 8
	zero := make([]float64, len(mle))
	cd := cdTrainIsing(t, cdNewCD(t, CDOptions{K: 1}), xr, zero, steps, lr, seed)
	pcd := cdTrainIsing(t, cdNewPCD(t, PCDOptions{K: 1, Init: "uniform"}), xr, zero, steps, lr, seed)
	dCD, dPCD := cdMaxAbsDiff(cd, mle), cdMaxAbsDiff(pcd, mle)
	t.Logf("max-abs distance to the MLE: exact CD-1 fixed point %.4f, CD-1 %.4f, PCD %.4f", bias, dCD, dPCD)
	require.Less(t, dPCD, dCD)
	require.Less(t, dPCD, bias/3)
	require.Less(t, cdMaxAbsDiff(cd, fixed), bias/3)
}
