package structure

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/numeric"
)

// Neighbourhood selection for E(s) = −hᵀs − Σ_{i<j} Jᵢⱼsᵢsⱼ. The conditional of sᵢ is logistic:
// p(yᵢ = 1 | s₋ᵢ) = σ(β₀ + Σⱼ βⱼ zⱼ) with yᵢ = (sᵢ + 1)/2, zⱼ = sⱼ, β = 2(hᵢ, Jᵢⱼ) on spins, and
// yᵢ = sᵢ, zⱼ = sⱼ, β = (hᵢ, Jᵢⱼ) on bits. Each node's regression minimises
//
//	(1/n) Σᵣ [softplus(νᵣ) − yᵣνᵣ] + λ Σⱼ |βⱼ|,   ν = β₀ + zᵀβ (the intercept is not penalised),
//
// along λ = λ_max·ratio^(k/(K−1)), λ_max = maxⱼ |(1/n) Σᵣ zᵣⱼ(yᵣ − ȳ)| (the smallest λ with β = 0),
// each fit warm-started from the last.
//
// EBIC (Chen and Chen 2008; Foygel and Drton 2010; Barber and Drton 2015, as IsingFit uses it):
// for node i with s selected neighbours among d − 1,
//
//	EBIC_γ = −2 ℓᵢ + s·log n + 2γ·s·log(d − 1),
//
// ℓᵢ the node's conditional log-likelihood over the n rows; each node takes the λ minimising
// it. CV: K folds of the rows; the λ index minimising the held-out negative pseudo-log-
// likelihood Σᵢ −ℓᵢ, summed over the folds, is used for every node.

// nodeFit is one node's regression at one λ.
type nodeFit struct {
	b0   float64
	beta []float64 // over the other nodes, in order, skipping the node itself
}

// nodeData returns the response y and the features z (n×(d−1)) of node i.
func nodeData(x *mat.Dense, i int, dom framework.Domain) ([]float64, *mat.Dense) {
	n, d := x.Dims()
	y := make([]float64, n)
	z := mat.NewDense(n, d-1, nil)
	for r := 0; r < n; r++ {
		row := x.RawRowView(r)
		if dom == framework.Spin {
			y[r] = (row[i] + 1) / 2
		} else {
			y[r] = row[i]
		}
		dst := z.RawRowView(r)
		k := 0
		for j, v := range row {
			if j != i {
				dst[k] = v
				k++
			}
		}
	}
	return y, z
}

// lambdaMax returns maxⱼ |(1/n) Σᵣ zᵣⱼ(yᵣ − ȳ)|.
func lambdaMax(y []float64, z *mat.Dense) float64 {
	n, m := z.Dims()
	ybar := 0.0
	for _, v := range y {
		ybar += v / float64(n)
	}
	mx := 0.0
	for j := 0; j < m; j++ {
		s := 0.0
		for r := 0; r < n; r++ {
			s += z.At(r, j) * (y[r] - ybar)
		}
		mx = math.Max(mx, math.Abs(s/float64(n)))
	}
	return mx
}

// logisticPath fits the L1 logistic regression of y on z along lambdas (descending), by
// coordinate descent on the IRLS quadratic approximation with a backtracking step on the
// penalised objective, warm-started along the path.
func logisticPath(y []float64, z *mat.Dense, lambdas []float64, tol float64) []nodeFit {
	n, m := z.Dims()
	ybar := 0.0
	for _, v := range y {
		ybar += v / float64(n)
	}
	ybar = math.Min(math.Max(ybar, 1e-6), 1-1e-6)
	cur := nodeFit{b0: math.Log(ybar / (1 - ybar)), beta: make([]float64, m)}
	nu, w, res := make([]float64, n), make([]float64, n), make([]float64, n)
	objective := func(f nodeFit, lam float64) float64 {
		s := 0.0
		for r := 0; r < n; r++ {
			v := f.b0
			for j, zj := range z.RawRowView(r) {
				v += zj * f.beta[j]
			}
			s += numeric.Softplus(v) - y[r]*v
		}
		pen := 0.0
		for _, b := range f.beta {
			pen += math.Abs(b)
		}
		return s/float64(n) + lam*pen
	}
	// Columns of z, contiguous, for the coordinate updates.
	cols := make([][]float64, m)
	for j := range cols {
		cols[j] = make([]float64, n)
		for r := 0; r < n; r++ {
			cols[j][r] = z.At(r, j)
		}
	}
	diag := make([]float64, m)
	out := make([]nodeFit, len(lambdas))
	for k, lam := range lambdas {
		obj := objective(cur, lam)
		for outer := 0; outer < 100; outer++ {
			for r := 0; r < n; r++ {
				v := cur.b0
				for j, zj := range z.RawRowView(r) {
					v += zj * cur.beta[j]
				}
				p := numeric.Sigmoid(v)
				w[r] = math.Max(p*(1-p), 1e-5)
				res[r] = (y[r] - p) / w[r] // working response minus ν
				nu[r] = v
			}
			next := nodeFit{b0: cur.b0, beta: append([]float64(nil), cur.beta...)}
			for j, col := range cols {
				a := 0.0
				for r, zj := range col {
					a += w[r] * zj * zj
				}
				diag[j] = a / float64(n)
			}
			for sweep := 0; sweep < 1000; sweep++ {
				move := 0.0
				sw, swr := 0.0, 0.0
				for r := 0; r < n; r++ {
					sw += w[r]
					swr += w[r] * res[r]
				}
				d0 := swr / sw
				next.b0 += d0
				for r := range res {
					res[r] -= d0
				}
				move = math.Max(move, math.Abs(d0))
				for j, col := range cols {
					a, c := diag[j], 0.0
					for r, zj := range col {
						c += w[r] * zj * res[r]
					}
					c = c/float64(n) + a*next.beta[j]
					nb := softThreshold(c, lam) / a
					if dlt := nb - next.beta[j]; dlt != 0 {
						for r, zj := range col {
							res[r] -= dlt * zj
						}
						next.beta[j] = nb
						move = math.Max(move, math.Abs(dlt))
					}
				}
				if move < tol {
					break
				}
			}
			// Backtrack from the IRLS step if it does not lower the penalised objective.
			step := 1.0
			trial := next
			objNew := objective(trial, lam)
			for objNew > obj+1e-14*math.Abs(obj) && step > 1e-6 {
				step /= 2
				trial = nodeFit{b0: cur.b0 + step*(next.b0-cur.b0), beta: make([]float64, m)}
				for j := range trial.beta {
					trial.beta[j] = cur.beta[j] + step*(next.beta[j]-cur.beta[j])
				}
				objNew = objective(trial, lam)
			}
			change := math.Abs(trial.b0 - cur.b0)
			for j := range trial.beta {
				change = math.Max(change, math.Abs(trial.beta[j]-cur.beta[j]))
			}
			cur, obj = trial, objNew
			if change < tol || step <= 1e-6 {
				break
			}
		}
		out[k] = nodeFit{b0: cur.b0, beta: append([]float64(nil), cur.beta...)}
	}
	return out
}

// negLogLik returns −Σᵣ log p(yᵣ | zᵣ) of a fit.
func negLogLik(f nodeFit, y []float64, z *mat.Dense) float64 {
	n, _ := z.Dims()
	s := 0.0
	for r := 0; r < n; r++ {
		v := f.b0
		for j, zj := range z.RawRowView(r) {
			v += zj * f.beta[j]
		}
		s += numeric.Softplus(v) - y[r]*v
	}
	return s
}

func support(beta []float64) int {
	s := 0
	for _, b := range beta {
		if b != 0 {
			s++
		}
	}
	return s
}

// isingGraph selects the graph of an Ising model on x and writes (h, J) into theta.
func isingGraph(x *mat.Dense, dom framework.Domain, o Options, streams framework.Streams, theta []float64) ([]Edge, *Report, error) {
	n, d := x.Dims()
	if d < 2 {
		return nil, nil, fmt.Errorf("neighbourhood selection needs at least 2 spins, have %d", d)
	}
	scale := 1.0 // β = scale·(h, J)
	if dom == framework.Spin {
		scale = 2
	}
	rel := lambdaPath(o)
	lams := make([][]float64, d)
	fits := make([][]nodeFit, d)
	ys := make([][]float64, d)
	zs := make([]*mat.Dense, d)
	for i := 0; i < d; i++ {
		ys[i], zs[i] = nodeData(x, i, dom)
		lmax := lambdaMax(ys[i], zs[i])
		lams[i] = make([]float64, len(rel))
		for k, r := range rel {
			lams[i][k] = math.Max(lmax, 1e-12) * r
		}
		fits[i] = logisticPath(ys[i], zs[i], lams[i], o.Tol)
	}
	rep := &Report{Method: "neighbourhood selection", Select: o.Select, Rule: o.Rule, Lambdas: rel, Criteria: make([]float64, len(rel))}
	chosen := make([]int, d)
	switch o.Select {
	case "ebic":
		rep.Gamma = o.Gamma
		for i := 0; i < d; i++ {
			best := math.Inf(1)
			for k, f := range fits[i] {
				s := float64(support(f.beta))
				ebic := 2*negLogLik(f, ys[i], zs[i]) + s*math.Log(float64(n)) + 2*o.Gamma*s*math.Log(float64(d-1))
				rep.Criteria[k] += ebic
				if ebic < best {
					best, chosen[i] = ebic, k
				}
			}
		}
		rep.Chosen = chosen
	case "cv":
		fold := folds(n, o.Folds, streams)
		for f := 0; f < o.Folds; f++ {
			tr, te := subset(x, fold, f, false), subset(x, fold, f, true)
			for i := 0; i < d; i++ {
				ytr, ztr := nodeData(tr, i, dom)
				yte, zte := nodeData(te, i, dom)
				for k, fit := range logisticPath(ytr, ztr, lams[i], o.Tol) {
					rep.Criteria[k] += negLogLik(fit, yte, zte)
				}
			}
		}
		best := 0
		for k, v := range rep.Criteria {
			if v < rep.Criteria[best] {
				best = k
			}
		}
		for i := range chosen {
			chosen[i] = best
		}
		rep.Chosen = []int{best}
	}
	// Couplings of node i's regression, in the energy's scale, as a d×d matrix (row i).
	est := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		f := fits[i][chosen[i]]
		theta[i] = f.b0 / scale
		k := 0
		for j := 0; j < d; j++ {
			if j != i {
				est.Set(i, j, f.beta[k]/scale)
				k++
			}
		}
	}
	var edges []Edge
	J := theta[d:]
	for i := 0; i < d; i++ {
		J[i*d+i] = 0
		for j := i + 1; j < d; j++ {
			a, b := est.At(i, j), est.At(j, i)
			keep := a != 0 && b != 0
			if o.Rule == "or" {
				keep = a != 0 || b != 0
			}
			v := 0.0
			if keep {
				v = (a + b) / 2
				edges = append(edges, Edge{I: i + 1, J: j + 1, Weight: v})
			}
			J[i*d+j], J[j*d+i] = v, v
		}
	}
	rep.Edges = len(edges)
	return edges, rep, nil
}
