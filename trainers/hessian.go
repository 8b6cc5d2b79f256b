package trainers

// Exact Hessians of pl and rm for energies linear in θ (framework.Hessianer), so that newton
// and standard errors need no differences of the gradient there. Both losses are sums of
// f(zᵣᵢ) with zᵣᵢ = E(xᵣ) − E(xᵣ⁽ⁱ⁾); for E = θᵀT(x) + c(x), z is linear in θ with gradient
// gᵣᵢ = ∇θE(xᵣ) − ∇θE(xᵣ⁽ⁱ⁾) (rows of OutParamJac), so
//
//	∇²L = (1/n) Σᵣ Σᵢ f″(zᵣᵢ) gᵣᵢgᵣᵢᵀ,
//
// f″ = σ(1 − σ) for the pseudolikelihood (f = softplus) and 2σ²(1 − σ)(2 − 3σ) for ratio
// matching (f = σ²). Other energies (and continuous pl) get central differences of the gradient.

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/numeric"
)

// flipHessian writes (1/n) Σᵣ Σᵢ f″(zᵣᵢ) gᵣᵢgᵣᵢᵀ into dst (the energy's parameters; trainer
// blocks beyond them, if any, are left at zero).
func flipHessian(ev *framework.Evaluator, batch *mat.Dense, dom framework.Domain, theta []float64, f2 func(z float64) float64, dst *mat.SymDense) error {
	n, d := batch.Dims()
	p := ev.Spec().NumParams()
	per := d + 1
	rows := max(1, rowGradChunk/per)
	acc := mat.NewSymDense(p, nil)
	var stack *mat.Dense
	for r0 := 0; r0 < n; r0 += rows {
		r1 := min(n, r0+rows)
		stack = plFlipStack(stack, batch.Slice(r0, r1, 0, d).(*mat.Dense), dom)
		var res framework.Result
		if err := ev.Evaluate(&framework.Request{Outputs: framework.OutEnergy | framework.OutParamJac, X: stack, Theta: theta[:p]}, &res); err != nil {
			return err
		}
		g := mat.NewDense((r1-r0)*d, p, nil)
		for r := 0; r < r1-r0; r++ {
			b := r * per
			g0 := res.ParamJac.RawRowView(b)
			for i := 1; i <= d; i++ {
				w := f2(res.Energy[b]-res.Energy[b+i]) / float64(n)
				s := math.Sqrt(max(w, 0))
				dstRow, gi := g.RawRowView(r*d+i-1), res.ParamJac.RawRowView(b+i)
				for k := range dstRow {
					dstRow[k] = s * (g0[k] - gi[k])
				}
			}
		}
		acc.SymRankK(acc, 1, g.T())
	}
	dst.Zero()
	for i := 0; i < p; i++ {
		for j := i; j < p; j++ {
			dst.SetSym(i, j, acc.At(i, j))
		}
	}
	return nil
}

func linearFor(ev *framework.Evaluator) bool {
	_, ok := ev.Energy().(framework.LinearEnergy)
	return ok && ev.Spec().Caps.Has(framework.CapLinear)
}

// Hessian writes the pseudolikelihood's Hessian on batch into dst.
func (t *Pseudolikelihood) Hessian(ctx *framework.StepContext, batch *mat.Dense, theta []float64, dst *mat.SymDense) error {
	if t.spec.Domain == framework.Continuous || !linearFor(ctx.Eval) {
		return framework.HessianByDifferences(func(th, g []float64) (float64, error) { return t.Step(ctx, batch, th, g) }, theta, 1e-5, dst)
	}
	return flipHessian(ctx.Eval, batch, t.spec.Domain, theta, func(z float64) float64 {
		s := numeric.Sigmoid(z)
		return s * (1 - s)
	}, dst)
}

// Hessian writes the ratio-matching loss's Hessian on batch into dst. Ratio matching is not
// convex: f″ < 0 where σ > 2/3, and those terms are kept (the Hessian is exact).
func (t *RatioMatching) Hessian(ctx *framework.StepContext, batch *mat.Dense, theta []float64, dst *mat.SymDense) error {
	if !linearFor(ctx.Eval) {
		return framework.HessianByDifferences(func(th, g []float64) (float64, error) { return t.Step(ctx, batch, th, g) }, theta, 1e-5, dst)
	}
	// f″ may be negative: accumulate its positive and negative parts separately.
	pos := mat.NewSymDense(ctx.Eval.Spec().NumParams(), nil)
	neg := mat.NewSymDense(ctx.Eval.Spec().NumParams(), nil)
	f2 := func(z float64) float64 {
		s := numeric.Sigmoid(z)
		return 2 * s * s * (1 - s) * (2 - 3*s)
	}
	if err := flipHessian(ctx.Eval, batch, t.spec.Domain, theta, func(z float64) float64 { return max(f2(z), 0) }, pos); err != nil {
		return err
	}
	if err := flipHessian(ctx.Eval, batch, t.spec.Domain, theta, func(z float64) float64 { return max(-f2(z), 0) }, neg); err != nil {
		return err
	}
	for i := 0; i < pos.SymmetricDim(); i++ {
		for j := i; j < pos.SymmetricDim(); j++ {
			dst.SetSym(i, j, pos.At(i, j)-neg.At(i, j))
		}
	}
	return nil
}
