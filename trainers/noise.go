package trainers

// Noise distributions for noise-contrastive estimation, fitted to the training data once at
// Init: a full-covariance Gaussian (the maximum-likelihood fit: sample mean and biased sample
// covariance), or a Gaussian mixture fitted by a fixed number of EM steps from a deterministic
// start (the data split into equal slabs along its first principal axis). Both sample and
// evaluate log q without allocating.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/floats"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// noiseDist is a distribution that NCE contrasts the data with.
type noiseDist interface {
	// sample writes one draw into dst and returns its log-density.
	sample(dst []float64, rng *rand.Rand) float64
	// logProb returns log q(x).
	logProb(x []float64) float64
}

// gaussNoise is N(μ, LLᵀ).
type gaussNoise struct {
	mu      []float64
	l       []float64 // lower Cholesky factor, row-major d×d
	logNorm float64   // −½d log 2π − Σ log Lᵢᵢ
	z       []float64
}

// newGaussNoise returns N(mu, cov); a tiny ridge is added when cov is numerically singular.
func newGaussNoise(mu []float64, cov *mat.SymDense) (*gaussNoise, error) {
	d := len(mu)
	var chol mat.Cholesky
	ridge := 0.0
	scale := mat.Trace(cov) / float64(d)
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("covariance with trace %v", mat.Trace(cov))
	}
	c := mat.NewSymDense(d, nil)
	for try := 0; ; try++ {
		c.CopySym(cov)
		for j := 0; j < d; j++ {
			c.SetSym(j, j, c.At(j, j)+ridge)
		}
		if chol.Factorize(c) {
			break
		}
		if try == 8 {
			return nil, errors.New("covariance is not positive definite, even with a ridge")
		}
		ridge = scale * math.Pow(10, float64(try-12))
	}
	var lt mat.TriDense
	chol.LTo(&lt)
	g := &gaussNoise{mu: append([]float64(nil), mu...), l: make([]float64, d*d), z: make([]float64, d)}
	g.logNorm = -0.5 * float64(d) * math.Log(2*math.Pi)
	for i := 0; i < d; i++ {
		for j := 0; j <= i; j++ {
			g.l[i*d+j] = lt.At(i, j)
		}
		g.logNorm -= math.Log(g.l[i*d+i])
	}
	return g, nil
}

func (g *gaussNoise) sample(dst []float64, rng *rand.Rand) float64 {
	d := len(g.mu)
	sq := 0.0
	for j := range g.z {
		g.z[j] = rng.NormFloat64()
		sq += g.z[j] * g.z[j]
	}
	for i := 0; i < d; i++ {
		s := g.mu[i]
		row := g.l[i*d : i*d+i+1]
		for j, v := range row {
			s += v * g.z[j]
		}
		dst[i] = s
	}
	return g.logNorm - 0.5*sq
}

func (g *gaussNoise) logProb(x []float64) float64 {
	d := len(g.mu)
	sq := 0.0
	for i := 0; i < d; i++ { // forward substitution L z = x − μ
		s := x[i] - g.mu[i]
		row := g.l[i*d : i*d+i]
		for j, v := range row {
			s -= v * g.z[j]
		}
		g.z[i] = s / g.l[i*d+i]
		sq += g.z[i] * g.z[i]
	}
	return g.logNorm - 0.5*sq
}

// gmmNoise is Σₖ πₖ N(μₖ, Σₖ).
type gmmNoise struct {
	comps []*gaussNoise
	logw  []float64
	cum   []float64 // cumulative weights, for sampling
	lp    []float64
}

func (m *gmmNoise) sample(dst []float64, rng *rand.Rand) float64 {
	u := rng.Float64()
	k := sort.SearchFloat64s(m.cum, u)
	if k >= len(m.comps) {
		k = len(m.comps) - 1
	}
	m.comps[k].sample(dst, rng)
	return m.logProb(dst)
}

func (m *gmmNoise) logProb(x []float64) float64 {
	for k, c := range m.comps {
		m.lp[k] = m.logw[k] + c.logProb(x)
	}
	return floats.LogSumExp(m.lp)
}

// fitGaussNoise returns the maximum-likelihood Gaussian of the rows of x.
func fitGaussNoise(x *mat.Dense) (*gaussNoise, error) {
	mu, cov := weightedMoments(x, nil)
	return newGaussNoise(mu, cov)
}

// weightedMoments returns the weighted mean and biased covariance of the rows of x (all
// weights 1 when w is nil).
func weightedMoments(x *mat.Dense, w []float64) ([]float64, *mat.SymDense) {
	n, d := x.Dims()
	mu := make([]float64, d)
	tot := 0.0
	for i := 0; i < n; i++ {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		tot += wi
		for j, v := range x.RawRowView(i) {
			mu[j] += wi * v
		}
	}
	for j := range mu {
		mu[j] /= tot
	}
	cov := mat.NewSymDense(d, nil)
	raw := cov.RawSymmetric()
	dev := make([]float64, d)
	for i := 0; i < n; i++ {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		if wi == 0 {
			continue
		}
		for j, v := range x.RawRowView(i) {
			dev[j] = v - mu[j]
		}
		for j := 0; j < d; j++ {
			row := raw.Data[j*raw.Stride:]
			for k := j; k < d; k++ {
				row[k] += wi * dev[j] * dev[k]
			}
		}
	}
	for j := 0; j < d; j++ {
		for k := j; k < d; k++ {
			raw.Data[j*raw.Stride+k] /= tot
		}
	}
	return mu, cov
}

// fitGMMNoise fits a k-component Gaussian mixture to the rows of x by steps EM iterations.
// Start: the rows sorted by their projection on the first principal axis and cut into k
// equal slabs; each slab gives a component's mean and covariance, weights equal. Every
// covariance gets a ridge of 1e-6 times the mean variance of the data, so no component
// collapses onto a point. Deterministic: no random numbers are used.
func fitGMMNoise(x *mat.Dense, k, steps int) (*gmmNoise, error) {
	n, d := x.Dims()
	if n < k {
		return nil, fmt.Errorf("%d components need at least as many training points, have %d", k, n)
	}
	mu0, cov0 := weightedMoments(x, nil)
	ridge := 1e-6 * mat.Trace(cov0) / float64(d)
	var eig mat.EigenSym
	if !eig.Factorize(cov0, true) {
		return nil, errors.New("eigen-decomposition of the data covariance did not converge")
	}
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	axis := vecs.ColView(d - 1) // eigenvalues ascend
	proj := make([]float64, n)
	order := make([]int, n)
	for i := range order {
		order[i] = i
		s := 0.0
		for j, v := range x.RawRowView(i) {
			s += (v - mu0[j]) * axis.AtVec(j)
		}
		proj[i] = s
	}
	sort.SliceStable(order, func(a, b int) bool { return proj[order[a]] < proj[order[b]] })

	resp := make([][]float64, k) // responsibilities, one column per component
	for c := range resp {
		resp[c] = make([]float64, n)
		for r := c * n / k; r < (c+1)*n/k; r++ {
			resp[c][order[r]] = 1
		}
	}
	m := &gmmNoise{comps: make([]*gaussNoise, k), logw: make([]float64, k), cum: make([]float64, k), lp: make([]float64, k)}
	mstep := func() error {
		for c := 0; c < k; c++ {
			tot := 0.0
			for _, r := range resp[c] {
				tot += r
			}
			if tot < 1e-8 { // an empty component keeps its previous parameters
				if m.comps[c] == nil {
					return fmt.Errorf("component %d is empty at the start", c)
				}
				m.logw[c] = math.Log(tot / float64(n))
				continue
			}
			mu, cov := weightedMoments(x, resp[c])
			for j := 0; j < d; j++ {
				cov.SetSym(j, j, cov.At(j, j)+ridge)
			}
			g, err := newGaussNoise(mu, cov)
			if err != nil {
				return fmt.Errorf("component %d: %w", c, err)
			}
			m.comps[c] = g
			m.logw[c] = math.Log(tot / float64(n))
		}
		return nil
	}
	if err := mstep(); err != nil {
		return nil, err
	}
	for s := 0; s < steps; s++ {
		for i := 0; i < n; i++ { // E step
			xi := x.RawRowView(i)
			for c, g := range m.comps {
				m.lp[c] = m.logw[c] + g.logProb(xi)
			}
			lse := floats.LogSumExp(m.lp)
			for c := range m.comps {
				resp[c][i] = math.Exp(m.lp[c] - lse)
			}
		}
		if err := mstep(); err != nil {
			return nil, err
		}
	}
	acc := 0.0
	for c := range m.cum {
		acc += math.Exp(m.logw[c])
		m.cum[c] = acc
	}
	for c := range m.cum {
		m.cum[c] /= acc
	}
	return m, nil
}

// bernoulliNoise is a product of independent Bernoullis on {0,1}^d or {−1,+1}^d.
type bernoulliNoise struct {
	lo     float64   // the low value: 0 or −1
	pi     []float64 // P(xⱼ = high)
	lp, lq []float64 // log πⱼ, log(1 − πⱼ)
}

// fitBernoulliNoise fits the marginals of x (values in dom) with Laplace's rule.
func fitBernoulliNoise(x *mat.Dense, dom framework.Domain) *bernoulliNoise {
	n, d := x.Dims()
	b := &bernoulliNoise{pi: make([]float64, d), lp: make([]float64, d), lq: make([]float64, d)}
	if dom == framework.Spin {
		b.lo = -1
	}
	for j := 0; j < d; j++ {
		c := 0.0
		for r := 0; r < n; r++ {
			if x.At(r, j) == 1 {
				c++
			}
		}
		b.pi[j] = (c + 1) / float64(n+2)
		b.lp[j], b.lq[j] = math.Log(b.pi[j]), math.Log1p(-b.pi[j])
	}
	return b
}

func (b *bernoulliNoise) sample(dst []float64, rng *rand.Rand) float64 {
	for j, p := range b.pi {
		if rng.Float64() < p {
			dst[j] = 1
		} else {
			dst[j] = b.lo
		}
	}
	return b.logProb(dst)
}

func (b *bernoulliNoise) logProb(x []float64) float64 {
	s := 0.0
	for j, v := range x {
		if v == 1 {
			s += b.lp[j]
		} else {
			s += b.lq[j]
		}
	}
	return s
}
