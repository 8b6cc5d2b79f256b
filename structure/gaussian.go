package structure

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// Regularised score matching for the Gaussian energy E(x) = ½xᵀWx − bᵀx (Lin, Drton and Shojaie
// 2016). The score-matching loss is the quadratic ½θᵀAθ + θᵀc + κ of trainers.SMQuadratic; in
// the free coordinates ω = (Wⱼₖ for j ≤ k, b) of a symmetric W it is ½ωᵀQω + ωᵀg₀ + κ with
// Q = MᵀAM, g₀ = Mᵀc, M the map from ω to the stored θ. The path minimises
//
//	½ωᵀQω + ωᵀg₀ + λ Σ_{j<k} |Wⱼₖ|
//
// by cyclic coordinate descent, λ from λ_max (every off-diagonal Wⱼₖ zero) down, warm-started.
// EBIC uses the Gaussian log-likelihood ℓ = (n/2)[log det W − tr(W S_μ) − d log 2π] at
// μ = W⁻¹b, with |E| selected edges among d(d−1)/2 (Foygel and Drton 2010):
//
//	EBIC_γ = −2ℓ + |E|·log n + 4γ·|E|·log d   (+∞ when W is not positive definite).
//
// CV: the held-out Gaussian pseudolikelihood, −Σᵢ log p(xᵢ | x₋ᵢ) with p(xᵢ | x₋ᵢ) =
// N((bᵢ − Σ_{j≠i} Wᵢⱼxⱼ)/Wᵢᵢ, 1/Wᵢᵢ).

// gaussQuad is the loss in the free coordinates.
type gaussQuad struct {
	d     int
	q     *mat.SymDense
	g0    []float64
	pen   []bool  // off-diagonal Wⱼₖ
	index [][]int // stored θ entries of each free coordinate
}

func newGaussQuad(le framework.LinearEnergy, x *mat.Dense) *gaussQuad {
	d := le.Spec().Dim
	a, c, _ := trainers.SMQuadratic(le, x)
	var index [][]int
	var pen []bool
	for j := 0; j < d; j++ {
		for k := j; k < d; k++ {
			if j == k {
				index = append(index, []int{j*d + k})
			} else {
				index = append(index, []int{j*d + k, k*d + j})
			}
			pen = append(pen, j != k)
		}
	}
	for j := 0; j < d; j++ {
		index = append(index, []int{d*d + j})
		pen = append(pen, false)
	}
	m := len(index)
	q := mat.NewSymDense(m, nil)
	g0 := make([]float64, m)
	for u := 0; u < m; u++ {
		for _, s := range index[u] {
			g0[u] += c[s]
		}
		for v := u; v < m; v++ {
			sum := 0.0
			for _, s := range index[u] {
				for _, t := range index[v] {
					sum += a.At(s, t)
				}
			}
			q.SetSym(u, v, sum)
		}
	}
	return &gaussQuad{d: d, q: q, g0: g0, pen: pen, index: index}
}

// descend runs coordinate descent from ω at penalty λ (off-diagonal entries frozen at zero
// when λ is +Inf) and returns the gradient Qω + g₀ at the end.
func (g *gaussQuad) descend(omega []float64, lam, tol float64) []float64 {
	m := len(omega)
	grad := append([]float64(nil), g.g0...)
	for u := 0; u < m; u++ {
		for v := 0; v < m; v++ {
			grad[u] += g.q.At(u, v) * omega[v]
		}
	}
	for sweep := 0; sweep < 10000; sweep++ {
		move := 0.0
		for k := 0; k < m; k++ {
			qkk := g.q.At(k, k)
			if qkk <= 0 {
				continue
			}
			z := omega[k] - grad[k]/qkk
			nk := z
			if g.pen[k] {
				if math.IsInf(lam, 1) {
					nk = 0
				} else {
					nk = softThreshold(z, lam/qkk)
				}
			}
			if dl := nk - omega[k]; dl != 0 {
				omega[k] = nk
				for u := 0; u < m; u++ {
					grad[u] += dl * g.q.At(u, k)
				}
				move = math.Max(move, math.Abs(dl))
			}
		}
		if move < tol {
			break
		}
	}
	return grad
}

// theta writes the stored θ of ω.
func (g *gaussQuad) theta(omega, dst []float64) {
	for u, idx := range g.index {
		for _, s := range idx {
			dst[s] = omega[u]
		}
	}
}

// path returns the fits along the absolute λs (descending), warm-started from the unpenalised
// diagonal fit.
func (g *gaussQuad) path(lams []float64, tol float64) [][]float64 {
	omega := make([]float64, len(g.index))
	for u, idx := range g.index { // start at W = I
		if len(idx) == 1 && idx[0] < g.d*g.d {
			omega[u] = 1
		}
	}
	g.descend(omega, math.Inf(1), tol)
	out := make([][]float64, len(lams))
	for k, lam := range lams {
		g.descend(omega, lam, tol)
		out[k] = append([]float64(nil), omega...)
	}
	return out
}

// lambdaMax returns the smallest λ at which every off-diagonal entry stays zero.
func (g *gaussQuad) lambdaMax(tol float64) float64 {
	omega := make([]float64, len(g.index))
	for u, idx := range g.index {
		if len(idx) == 1 && idx[0] < g.d*g.d {
			omega[u] = 1
		}
	}
	grad := g.descend(omega, math.Inf(1), tol)
	mx := 0.0
	for u, p := range g.pen {
		if p {
			mx = math.Max(mx, math.Abs(grad[u]))
		}
	}
	return mx
}

// gaussLogLik returns the Gaussian log-likelihood of x under N(W⁻¹b, W⁻¹), or −Inf when W is
// not positive definite.
func gaussLogLik(theta []float64, x *mat.Dense) float64 {
	n, d := x.Dims()
	w := mat.NewSymDense(d, nil)
	for j := 0; j < d; j++ {
		for k := j; k < d; k++ {
			w.SetSym(j, k, 0.5*(theta[j*d+k]+theta[k*d+j]))
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(w) {
		return math.Inf(-1)
	}
	var mu mat.VecDense
	if err := chol.SolveVecTo(&mu, mat.NewVecDense(d, theta[d*d:])); err != nil {
		return math.Inf(-1)
	}
	quad := 0.0
	dev := make([]float64, d)
	for r := 0; r < n; r++ {
		for j, v := range x.RawRowView(r) {
			dev[j] = v - mu.AtVec(j)
		}
		dv := mat.NewVecDense(d, dev)
		quad += mat.Inner(dv, w, dv)
	}
	return 0.5 * (float64(n)*(chol.LogDet()-float64(d)*math.Log(2*math.Pi)) - quad)
}

// gaussNegPL returns −Σᵣ Σᵢ log p(xᵣᵢ | xᵣ,₋ᵢ), +Inf when some Wᵢᵢ ≤ 0.
func gaussNegPL(theta []float64, x *mat.Dense) float64 {
	n, d := x.Dims()
	s := 0.0
	for i := 0; i < d; i++ {
		wii := theta[i*d+i]
		if !(wii > 0) {
			return math.Inf(1)
		}
		for r := 0; r < n; r++ {
			row := x.RawRowView(r)
			m := theta[d*d+i]
			for j, v := range row {
				if j != i {
					m -= 0.5 * (theta[i*d+j] + theta[j*d+i]) * v
				}
			}
			m /= wii
			e := row[i] - m
			s += 0.5*math.Log(2*math.Pi/wii) + 0.5*wii*e*e
		}
	}
	return s
}

// gaussianGraph selects the graph of a Gaussian on x by regularised score matching and writes
// (W, b) into theta.
func gaussianGraph(le framework.LinearEnergy, x *mat.Dense, o Options, streams framework.Streams, theta []float64) ([]Edge, *Report, error) {
	n, d := x.Dims()
	if d < 2 {
		return nil, nil, fmt.Errorf("graph selection needs at least 2 variables, have %d", d)
	}
	quad := newGaussQuad(le, x)
	lmax := math.Max(quad.lambdaMax(o.Tol), 1e-12)
	rel := lambdaPath(o)
	lams := make([]float64, len(rel))
	for k, r := range rel {
		lams[k] = lmax * r
	}
	fits := quad.path(lams, o.Tol)
	rep := &Report{Method: "regularised score matching", Select: o.Select, Lambdas: rel, Criteria: make([]float64, len(rel))}
	th := make([]float64, len(theta))
	edgesOf := func(omega []float64) int {
		s := 0
		for u, p := range quad.pen {
			if p && omega[u] != 0 {
				s++
			}
		}
		return s
	}
	best := 0
	switch o.Select {
	case "ebic":
		rep.Gamma = o.Gamma
		for k, omega := range fits {
			quad.theta(omega, th)
			e := float64(edgesOf(omega))
			rep.Criteria[k] = -2*gaussLogLik(th, x) + e*math.Log(float64(n)) + 4*o.Gamma*e*math.Log(float64(d))
		}
	case "cv":
		fold := folds(n, o.Folds, streams)
		for f := 0; f < o.Folds; f++ {
			tr, te := subset(x, fold, f, false), subset(x, fold, f, true)
			for k, omega := range newGaussQuad(le, tr).path(lams, o.Tol) {
				quad.theta(omega, th)
				rep.Criteria[k] += gaussNegPL(th, te)
			}
		}
	}
	for k, v := range rep.Criteria {
		if v < rep.Criteria[best] {
			best = k
		}
	}
	rep.Chosen = []int{best}
	for k, v := range rep.Criteria { // +Inf is not JSON
		if math.IsInf(v, 0) || math.IsNaN(v) {
			rep.Criteria[k] = math.MaxFloat64
		}
	}
	quad.theta(fits[best], theta)
	var edges []Edge
	for j := 0; j < d; j++ {
		for k := j + 1; k < d; k++ {
			if v := theta[j*d+k]; v != 0 {
				edges = append(edges, Edge{I: j + 1, J: k + 1, Weight: v})
			}
		}
	}
	rep.Edges = len(edges)
	return edges, rep, nil
}
