package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// KSDOptions set the kernel Stein discrepancy: the [eval.ksd] table.
type KSDOptions struct {
	C         float64 `toml:"c" help:"scale c of the IMQ kernel (c² + ‖x − y‖²)^β"`
	Beta      float64 `toml:"beta" help:"exponent β of the IMQ kernel, in (−1, 0)"`
	MaxPoints int     `toml:"max_points" help:"rows of the data used (a random subset when there are more); the cost grows as its square"`
}

// DefaultKSDOptions returns c = 1, β = −½ (Gorham and Mackey 2017) and 2000 points.
func DefaultKSDOptions() KSDOptions { return KSDOptions{C: 1, Beta: -0.5, MaxPoints: 2000} }

// Validate checks the options.
func (o *KSDOptions) Validate() error {
	switch {
	case !(o.C > 0):
		return &framework.KeyError{Key: "c", Msg: fmt.Sprintf("must be > 0, got %v", o.C)}
	case !(o.Beta > -1 && o.Beta < 0):
		return &framework.KeyError{Key: "beta", Msg: fmt.Sprintf("must be in (−1, 0), got %v", o.Beta)}
	case o.MaxPoints < 2:
		return &framework.KeyError{Key: "max_points", Msg: fmt.Sprintf("must be ≥ 2, got %d", o.MaxPoints)}
	}
	return nil
}

// SteinIMQ returns the Stein kernel of the IMQ kernel k(x, y) = (c² + ‖r‖²)^β, r = x − y, for a
// model with score s = −∇ₓE, at points x, y with scores sx, sy:
//
//	uₚ(x, y) = sxᵀsy·k + sxᵀ∇ᵧk + syᵀ∇ₓk + tr ∇ₓ∇ᵧk
//	         = sxᵀsy·uᵝ − 2βuᵝ⁻¹·(sx − sy)ᵀr − 4β(β−1)uᵝ⁻²‖r‖² − 2βd·uᵝ⁻¹,  u = c² + ‖r‖².
//
// E_{x,y∼q} uₚ(x, y) = KSD²(q, p) is zero when q = p (Stein's identity) and, for this kernel,
// positive otherwise (Gorham and Mackey 2017).
func SteinIMQ(x, y, sx, sy []float64, c, beta float64) float64 {
	var r2, ss, sr float64
	for j := range x {
		r := x[j] - y[j]
		r2 += r * r
		ss += sx[j] * sy[j]
		sr += (sx[j] - sy[j]) * r
	}
	u := c*c + r2
	k := math.Pow(u, beta)
	k1 := k / u
	k2 := k1 / u
	d := float64(len(x))
	return ss*k - 2*beta*k1*sr - 4*beta*(beta-1)*k2*r2 - 2*beta*d*k1
}

// subset returns x itself when it has at most m rows, else m of its rows chosen at random
// (without replacement, in increasing row order).
func subset(x *mat.Dense, m int, rng *rand.Rand) *mat.Dense {
	n, d := x.Dims()
	if n <= m {
		return x
	}
	idx := rng.Perm(n)[:m]
	sort.Ints(idx)
	out := mat.NewDense(m, d, nil)
	for i, r := range idx {
		out.SetRow(i, x.RawRowView(r))
	}
	return out
}

// KSD returns the squared kernel Stein discrepancy between the rows of x and the model, by the
// U-statistic (1/(n(n−1)))·Σ_{i≠j} uₚ(xᵢ, xⱼ) with the IMQ Stein kernel (SteinIMQ). It needs
// only the score, not log Z. The U-statistic is unbiased, so it can be slightly negative when
// the model fits; its standard deviation under the null is O(1/n). When x has more than
// o.MaxPoints rows a random subset (stream ("eval-subset", 0)) is used.
//
// nullSD is the standard deviation the statistic would have if the data came from the model:
// the U-statistic is then degenerate, with variance 2·E[uₚ²]/(n(n−1)), estimated from the same
// pairs. A KSD within a few nullSD of zero is no evidence against the model.
func KSD(ev *framework.Evaluator, theta []float64, x *mat.Dense, o KSDOptions, streams framework.Streams) (ksd2, nullSD float64, err error) {
	if err := continuous("the kernel Stein discrepancy", ev.Spec()); err != nil {
		return 0, 0, err
	}
	if err := o.Validate(); err != nil {
		return 0, 0, fmt.Errorf("ksd: %w", err)
	}
	x = subset(x, o.MaxPoints, streams.Rand("eval-subset", 0))
	n, d := x.Dims()
	if n < 2 {
		return 0, 0, fmt.Errorf("ksd: needs at least 2 rows, got %d", n)
	}
	var res framework.Result
	if err := ev.Evaluate(&framework.Request{Outputs: framework.OutGradX, X: x, Theta: theta}, &res); err != nil {
		return 0, 0, fmt.Errorf("ksd: %w", err)
	}
	score := mat.NewDense(n, d, nil)
	score.Scale(-1, res.GradX)
	var sum, sum2 float64
	for i := 0; i < n; i++ {
		xi, si := x.RawRowView(i), score.RawRowView(i)
		for j := i + 1; j < n; j++ {
			u := SteinIMQ(xi, x.RawRowView(j), si, score.RawRowView(j), o.C, o.Beta)
			sum += u
			sum2 += u * u
		}
	}
	pairs := float64(n) * float64(n-1) / 2
	return sum / pairs, math.Sqrt(2 * (sum2 / pairs) / (float64(n) * float64(n-1))), nil
}

// MMDOptions set the maximum mean discrepancy: the [eval.mmd] table.
type MMDOptions struct {
	Bandwidth float64 `toml:"bandwidth" help:"σ of the Gaussian kernel exp(−‖x − y‖²/(2σ²)); 0: the median pairwise distance of the pooled points"`
	MaxPoints int     `toml:"max_points" help:"rows used from the data and from the model samples each (random subsets when there are more)"`
}

// DefaultMMDOptions returns the median heuristic and 2000 points.
func DefaultMMDOptions() MMDOptions { return MMDOptions{MaxPoints: 2000} }

// Validate checks the options.
func (o *MMDOptions) Validate() error {
	switch {
	case o.Bandwidth < 0:
		return &framework.KeyError{Key: "bandwidth", Msg: fmt.Sprintf("must be ≥ 0, got %v", o.Bandwidth)}
	case o.MaxPoints < 2:
		return &framework.KeyError{Key: "max_points", Msg: fmt.Sprintf("must be ≥ 2, got %d", o.MaxPoints)}
	}
	return nil
}

// MedianDistance returns the median of the pairwise Euclidean distances between the rows of a
// and b pooled, over at most 1000 of them (the first 500 of each).
func MedianDistance(a, b *mat.Dense) float64 {
	var pts [][]float64
	for _, m := range []*mat.Dense{a, b} {
		n, _ := m.Dims()
		for i := 0; i < min(n, 500); i++ {
			pts = append(pts, m.RawRowView(i))
		}
	}
	var ds []float64
	for i := range pts {
		for j := i + 1; j < len(pts); j++ {
			ds = append(ds, math.Sqrt(sqDist(pts[i], pts[j])))
		}
	}
	if len(ds) == 0 {
		return 0
	}
	sort.Float64s(ds)
	k := len(ds) / 2
	if len(ds)%2 == 1 {
		return ds[k]
	}
	return 0.5 * (ds[k-1] + ds[k])
}

func sqDist(a, b []float64) float64 {
	s := 0.0
	for j := range a {
		v := a[j] - b[j]
		s += v * v
	}
	return s
}

// MMD returns the squared maximum mean discrepancy between the rows of x (data) and y (model
// samples) with the Gaussian kernel k(a, b) = exp(−‖a − b‖²/(2σ²)), by the unbiased estimate
//
//	MMD²ᵤ = Σ_{i≠i'} k(xᵢ, xᵢ')/(n(n−1)) + Σ_{j≠j'} k(yⱼ, yⱼ')/(m(m−1)) − 2Σᵢⱼ k(xᵢ, yⱼ)/(nm)
//
// (Gretton et al. 2012). σ = o.Bandwidth, or the median pairwise distance of the pooled points
// when it is 0; the σ used is returned. Random subsets of o.MaxPoints rows are taken from
// each side when they are larger (streams ("eval-subset", 1) and ("eval-subset", 2)).
func MMD(x, y *mat.Dense, o MMDOptions, streams framework.Streams) (mmd2, sigma float64, err error) {
	if err := o.Validate(); err != nil {
		return 0, 0, fmt.Errorf("mmd: %w", err)
	}
	_, dx := x.Dims()
	if _, dy := y.Dims(); dy != dx {
		return 0, 0, fmt.Errorf("mmd: data have %d columns, samples %d", dx, dy)
	}
	x = subset(x, o.MaxPoints, streams.Rand("eval-subset", 1))
	y = subset(y, o.MaxPoints, streams.Rand("eval-subset", 2))
	n, _ := x.Dims()
	m, _ := y.Dims()
	if n < 2 || m < 2 {
		return 0, 0, fmt.Errorf("mmd: needs at least 2 rows on each side, got %d and %d", n, m)
	}
	sigma = o.Bandwidth
	if sigma == 0 {
		sigma = MedianDistance(x, y)
		if sigma == 0 {
			sigma = 1 // every point the same: any bandwidth gives the same answer
		}
	}
	g := -1 / (2 * sigma * sigma)
	within := func(a *mat.Dense) float64 {
		k, _ := a.Dims()
		s := 0.0
		for i := 0; i < k; i++ {
			ai := a.RawRowView(i)
			for j := i + 1; j < k; j++ {
				s += math.Exp(g * sqDist(ai, a.RawRowView(j)))
			}
		}
		return 2 * s / (float64(k) * float64(k-1))
	}
	cross := 0.0
	for i := 0; i < n; i++ {
		xi := x.RawRowView(i)
		for j := 0; j < m; j++ {
			cross += math.Exp(g * sqDist(xi, y.RawRowView(j)))
		}
	}
	return within(x) + within(y) - 2*cross/(float64(n)*float64(m)), sigma, nil
}
