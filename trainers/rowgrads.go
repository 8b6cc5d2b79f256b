package trainers

// Per-observation gradient terms (framework.RowGrader) of the M-estimators, for standard
// errors. Each is the term of the trainer's Step gradient that one observation contributes;
// the tests check that the rows sum to the Step gradient.
//
// The per-row θ-gradients of the energy come from framework.OutParamJac. The per-row mixed
// product ∇θ uᵢᵀ∇ₓE(xᵢ) and Laplacian gradient ∇θΔₓE(xᵢ) that score matching needs are exact
// for energies linear in θ (from framework.LinearEnergy's statistics: Jᵢuᵢ and ΔₓT(xᵢ)); for
// energies with exact per-row θ-gradients (capability param-jac) they are central differences
// of OutParamJac in x, [∇θE(x + hu/‖u‖) − ∇θE(x − hu/‖u‖)]·‖u‖/2h and
// Σₖ [∇θE(x + heₖ) − 2∇θE(x) + ∇θE(x − heₖ)]/h²; otherwise central differences in θ of the
// exact per-row uᵢᵀ∇ₓE(xᵢ) and ΔₓE(xᵢ) (2p passes; differences of the Evaluator's own
// finite-difference ParamJac would compound two errors). h is the Evaluator's FD step.

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/numeric"
)

// rowGradChunk bounds the stacked rows of one ParamJac request of pl and rm.
const rowGradChunk = 1 << 14

// paramJac returns ∇θE of every row of x (n×p), through ev.
func paramJac(ev *framework.Evaluator, x *mat.Dense, theta []float64) (*mat.Dense, error) {
	var res framework.Result
	if err := ev.Evaluate(&framework.Request{Outputs: framework.OutParamJac, X: x, Theta: theta}, &res); err != nil {
		return nil, err
	}
	return res.ParamJac, nil
}

// rowMixed adds c·∇θ uᵢᵀ∇ₓE(xᵢ) (u held fixed) to row i of dst for every row of x.
func rowMixed(ev *framework.Evaluator, x, u *mat.Dense, theta []float64, c float64, dst *mat.Dense) error {
	n, d := x.Dims()
	p := len(theta)
	if le, ok := ev.Energy().(framework.LinearEnergy); ok && ev.Spec().Caps.Has(framework.CapLinear) {
		jac := mat.NewDense(p, d, nil)
		lap := make([]float64, p)
		for i := 0; i < n; i++ {
			jac.Zero()
			le.Statistics(x.RawRowView(i), jac, lap)
			ui, row := u.RawRowView(i), dst.RawRowView(i)
			for k := 0; k < p; k++ {
				row[k] += c * floatsDot(jac.RawRowView(k), ui)
			}
		}
		return nil
	}
	h := ev.FDStep
	if h == 0 {
		h = framework.DefaultFDStep
	}
	if !ev.Spec().Caps.Has(framework.CapParamJac) {
		return thetaDifferences(ev, x, theta, h, c, dst, func(res *framework.Result, i int) float64 {
			return floatsDot(u.RawRowView(i), res.GradX.RawRowView(i))
		}, framework.OutGradX)
	}
	xp, xm := mat.NewDense(n, d, nil), mat.NewDense(n, d, nil)
	scale := make([]float64, n)
	for i := 0; i < n; i++ {
		xi, ui := x.RawRowView(i), u.RawRowView(i)
		norm := math.Sqrt(floatsDot(ui, ui))
		hi := 0.0
		if norm > 0 {
			hi = h / norm
			scale[i] = 1 / (2 * hi)
		}
		for j := range xi {
			xp.Set(i, j, xi[j]+hi*ui[j])
			xm.Set(i, j, xi[j]-hi*ui[j])
		}
	}
	gp, err := paramJac(ev, xp, theta)
	if err != nil {
		return err
	}
	gm, err := paramJac(ev, xm, theta)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		row, a, b := dst.RawRowView(i), gp.RawRowView(i), gm.RawRowView(i)
		for k := range row {
			row[k] += c * (a[k] - b[k]) * scale[i]
		}
	}
	return nil
}

// rowLapGrad adds c·∇θΔₓE(xᵢ) to row i of dst for every row of x.
func rowLapGrad(ev *framework.Evaluator, x *mat.Dense, theta []float64, c float64, dst *mat.Dense) error {
	n, d := x.Dims()
	p := len(theta)
	if le, ok := ev.Energy().(framework.LinearEnergy); ok && ev.Spec().Caps.Has(framework.CapLinear) {
		jac := mat.NewDense(p, d, nil)
		lap := make([]float64, p)
		for i := 0; i < n; i++ {
			le.Statistics(x.RawRowView(i), jac, lap)
			row := dst.RawRowView(i)
			for k, v := range lap {
				row[k] += c * v
			}
		}
		return nil
	}
	h := ev.FDStep
	if h == 0 {
		h = framework.DefaultFDStep
	}
	if !ev.Spec().Caps.Has(framework.CapParamJac) {
		return thetaDifferences(ev, x, theta, h, c, dst, func(res *framework.Result, i int) float64 {
			return res.Laplacian[i]
		}, framework.OutLaplacian)
	}
	g0, err := paramJac(ev, x, theta)
	if err != nil {
		return err
	}
	g0 = mat.DenseCopyOf(g0)
	xs := mat.NewDense(n, d, nil)
	for k := 0; k < d; k++ {
		for _, sgn := range []float64{1, -1} {
			xs.Copy(x)
			for i := 0; i < n; i++ {
				xs.Set(i, k, x.At(i, k)+sgn*h)
			}
			g, err := paramJac(ev, xs, theta)
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				row, a, b := dst.RawRowView(i), g.RawRowView(i), g0.RawRowView(i)
				for j := range row {
					row[j] += c * (a[j] - b[j]) / (h * h)
				}
			}
		}
	}
	return nil
}

// thetaDifferences adds c·∂fᵢ/∂θₖ to dst[i][k] by central differences in θ of a per-row
// quantity fᵢ that f reads from a result with outputs o.
func thetaDifferences(ev *framework.Evaluator, x *mat.Dense, theta []float64, h, c float64, dst *mat.Dense,
	f func(res *framework.Result, i int) float64, o framework.Output) error {
	n, _ := x.Dims()
	th := append([]float64(nil), theta...)
	var rp, rm framework.Result
	for k, t := range theta {
		hk := h * math.Max(1, math.Abs(t))
		hk = (t + hk) - t
		th[k] = t + hk
		if err := ev.Evaluate(&framework.Request{Outputs: o, X: x, Theta: th}, &rp); err != nil {
			return err
		}
		th[k] = t - hk
		if err := ev.Evaluate(&framework.Request{Outputs: o, X: x, Theta: th}, &rm); err != nil {
			return err
		}
		th[k] = t
		for i := 0; i < n; i++ {
			dst.Set(i, k, dst.At(i, k)+c*(f(&rp, i)-f(&rm, i))/(2*hk))
		}
	}
	return nil
}

// RowGrads returns the score-matching terms ψᵢ = (1/n)[∇θ ½‖∇ₓE(xᵢ)‖² − ∇θΔₓE(xᵢ)].
func (t *ScoreMatching) RowGrads(ctx *framework.StepContext, batch *mat.Dense, theta []float64) (*framework.RowGrads, error) {
	spec := ctx.Eval.Spec()
	if err := checkStep("sm", batch, spec.Dim, theta, nil, spec.NumParams()); err != nil {
		return nil, err
	}
	n, _ := batch.Dims()
	var res framework.Result
	if err := ctx.Eval.Evaluate(&framework.Request{Outputs: framework.OutGradX, X: batch, Theta: theta}, &res); err != nil {
		return nil, fmt.Errorf("sm: %w", err)
	}
	u := mat.DenseCopyOf(res.GradX)
	g := mat.NewDense(n, len(theta), nil)
	inv := 1 / float64(n)
	if err := rowMixed(ctx.Eval, batch, u, theta, inv, g); err != nil {
		return nil, fmt.Errorf("sm: %w", err)
	}
	if err := rowLapGrad(ctx.Eval, batch, theta, -inv, g); err != nil {
		return nil, fmt.Errorf("sm: %w", err)
	}
	return &framework.RowGrads{G: g, Groups: []int{n}}, nil
}

// flipRowGrads returns ψ_r = Σ over the d+1 stacked rows of data row r of wₖ∇θE(stackₖ), the
// per-row terms of pl and rm, given a function that writes the weights of the stacked rows of
// a chunk of data rows.
func flipRowGrads(ev *framework.Evaluator, batch *mat.Dense, dom framework.Domain, theta []float64, p int,
	weights func(e, w []float64, d int)) (*framework.RowGrads, error) {
	n, d := batch.Dims()
	g := mat.NewDense(n, p, nil)
	per := d + 1
	rows := max(1, rowGradChunk/per)
	var stack *mat.Dense
	for r0 := 0; r0 < n; r0 += rows {
		r1 := min(n, r0+rows)
		chunk := batch.Slice(r0, r1, 0, d).(*mat.Dense)
		stack = plFlipStack(stack, chunk, dom)
		var res framework.Result
		if err := ev.Evaluate(&framework.Request{Outputs: framework.OutEnergy | framework.OutParamJac, X: stack, Theta: theta[:ev.Spec().NumParams()]}, &res); err != nil {
			return nil, err
		}
		w := make([]float64, len(res.Energy))
		weights(res.Energy, w, d)
		for r := r0; r < r1; r++ {
			row := g.RawRowView(r)
			for k := 0; k < per; k++ {
				s := (r-r0)*per + k
				wk := w[s]
				for j, v := range res.ParamJac.RawRowView(s) {
					row[j] += wk * v
				}
			}
		}
	}
	return &framework.RowGrads{G: g, Groups: []int{n}}, nil
}

// RowGrads returns the pseudolikelihood terms of each data row: over its one-bit flips (binary
// and spin data) or its quadrature grids (continuous data).
func (t *Pseudolikelihood) RowGrads(ctx *framework.StepContext, batch *mat.Dense, theta []float64) (*framework.RowGrads, error) {
	if t.spec.Domain == framework.Continuous {
		return t.continuousRowGrads(ctx, batch, theta)
	}
	if err := t.checkData(batch, "batch"); err != nil {
		return nil, err
	}
	n, _ := batch.Dims()
	inv := 1 / float64(n)
	rg, err := flipRowGrads(ctx.Eval, batch, t.spec.Domain, theta, len(theta), func(e, w []float64, d int) {
		for b := 0; b+d < len(e); b += d + 1 {
			sum := 0.0
			for i := 1; i <= d; i++ {
				q := numeric.Sigmoid(e[b] - e[b+i])
				sum += q
				w[b+i] = -q * inv
			}
			w[b] = sum * inv
		}
	})
	if err != nil {
		return nil, fmt.Errorf("pl: %w", err)
	}
	return rg, nil
}

// continuousRowGrads returns ψᵣ = Σ over the stacked rows of data row r of wₖ∇θE(stackₖ).
func (t *Pseudolikelihood) continuousRowGrads(ctx *framework.StepContext, batch *mat.Dense, theta []float64) (*framework.RowGrads, error) {
	if err := t.checkData(batch, "batch"); err != nil {
		return nil, err
	}
	n, d := batch.Dims()
	p := t.spec.NumParams()
	g := mat.NewDense(n, len(theta), nil)
	per := 1 + d*len(t.grid)
	_, err := t.continuousGroups(ctx, batch, theta[:p], func(r0, r1 int) error {
		pj, err := paramJac(ctx.Eval, t.stack, theta[:p])
		if err != nil {
			return fmt.Errorf("pl: %w", err)
		}
		for r := r0; r < r1; r++ {
			row := g.RawRowView(r)
			for k := 0; k < per; k++ {
				s := (r-r0)*per + k
				wk := t.w[s]
				for j, v := range pj.RawRowView(s) {
					row[j] += wk * v
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &framework.RowGrads{G: g, Groups: []int{n}}, nil
}

// RowGrads returns the ratio-matching terms of each data row.
func (t *RatioMatching) RowGrads(ctx *framework.StepContext, batch *mat.Dense, theta []float64) (*framework.RowGrads, error) {
	if err := plCheckDomain(batch, t.spec.Domain, "batch"); err != nil {
		return nil, fmt.Errorf("rm: energy %s: %w", t.spec.Name, err)
	}
	n, _ := batch.Dims()
	inv := 1 / float64(n)
	rg, err := flipRowGrads(ctx.Eval, batch, t.spec.Domain, theta, len(theta), func(e, w []float64, d int) {
		for b := 0; b+d < len(e); b += d + 1 {
			sum := 0.0
			for i := 1; i <= d; i++ {
				q := numeric.Sigmoid(e[b] - e[b+i])
				c := 2 * q * q * (1 - q) * inv
				sum += c
				w[b+i] = -c
			}
			w[b] = sum
		}
	})
	if err != nil {
		return nil, fmt.Errorf("rm: %w", err)
	}
	return rg, nil
}

// RowGrads returns the NCE terms: n data rows, then m noise rows (two i.i.d. groups), each
// wₖ∇θE(zₖ) with ∂J/∂log Z = wₖ in the last column. The noise is that of the last FixNoise seed
// (or a fresh draw from ctx.RNG without one).
func (t *NoiseContrastive) RowGrads(ctx *framework.StepContext, batch *mat.Dense, theta []float64) (*framework.RowGrads, error) {
	if _, err := t.Step(ctx, batch, theta, nil); err != nil { // fills t.z and t.w for this θ and noise
		return nil, err
	}
	n, _ := batch.Dims()
	rows, _ := t.z.Dims()
	pj, err := paramJac(ctx.Eval, t.z, theta[:t.p])
	if err != nil {
		return nil, fmt.Errorf("nce: %w", err)
	}
	g := mat.NewDense(rows, t.p+1, nil)
	for k := 0; k < rows; k++ {
		row, src := g.RawRowView(k), pj.RawRowView(k)
		for j, v := range src {
			row[j] = t.w[k] * v
		}
		row[t.p] = t.w[k]
	}
	return &framework.RowGrads{G: g, Groups: []int{n, rows - n}}, nil
}

// RowGrads returns the DSM terms of each data row: the sum over its noise draws and levels of
// c·∇θ uᵀ∇ₓE(x̃) with u = ∇ₓE(x̃) − ε/σ held fixed, c = λ(σ)/(n·draws). The noise is that of the
// last FixNoise seed (or a fresh draw from ctx.RNG without one).
func (t *DenoisingScoreMatching) RowGrads(ctx *framework.StepContext, batch *mat.Dense, theta []float64) (*framework.RowGrads, error) {
	spec := ctx.Eval.Spec()
	d := spec.Dim
	if err := checkStep("dsm", batch, d, theta, nil, spec.NumParams()); err != nil {
		return nil, err
	}
	n, _ := batch.Dims()
	m := n * t.draws
	rng := t.source(ctx.RNG)
	xt, eps, u := mat.NewDense(m, d, nil), mat.NewDense(m, d, nil), mat.NewDense(m, d, nil)
	per := mat.NewDense(m, len(theta), nil)
	for l, sigma := range t.sigmas {
		c := t.weights[l] / float64(m)
		for r := 0; r < m; r++ {
			x := batch.RawRowView(r / t.draws)
			a, e := xt.RawRowView(r), eps.RawRowView(r)
			for j := range x {
				e[j] = rng.NormFloat64()
				a[j] = x[j] + sigma*e[j]
			}
		}
		var res framework.Result
		if err := ctx.Eval.Evaluate(&framework.Request{Outputs: framework.OutGradX, X: xt, Theta: theta}, &res); err != nil {
			return nil, fmt.Errorf("dsm: σ = %v: %w", sigma, err)
		}
		for r := 0; r < m; r++ {
			ur, gr, er := u.RawRowView(r), res.GradX.RawRowView(r), eps.RawRowView(r)
			for j := range ur {
				ur[j] = gr[j] - er[j]/sigma
			}
		}
		if err := rowMixed(ctx.Eval, xt, u, theta, c, per); err != nil {
			return nil, fmt.Errorf("dsm: %w", err)
		}
	}
	g := mat.NewDense(n, len(theta), nil)
	for r := 0; r < m; r++ {
		dst := g.RawRowView(r / t.draws)
		for j, v := range per.RawRowView(r) {
			dst[j] += v
		}
	}
	return &framework.RowGrads{G: g, Groups: []int{n}}, nil
}
