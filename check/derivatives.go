package check

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// offsets of the five-point stencil f'(0) ≈ Σ coef·f(m·h) / 12h.
var (
	stencilM    = [4]float64{-2, -1, 1, 2}
	stencilCoef = [4]float64{1, -8, 8, -1}
)

// step returns h = Step·max(1, |x|), adjusted so that x + h is exactly representable.
func (c *checker) step(x float64) float64 {
	h := c.opts.Step * math.Max(1, math.Abs(x))
	return (x + h) - x
}

// xDerivatives moves every row along each axis k by ±h, ±2h and checks grad_x against
// the stencil of E, and the Laplacian and HVP against the Hessian columns that the
// stencil of ∇ₓE gives: Δₓ E = Σₖ ∂ₖ(∇ₓE)ₖ, ∇²ₓE v = Σₖ vₖ ∂ₖ∇ₓE.
func (c *checker) xDerivatives() error {
	needE := c.outs.Has(framework.OutGradX)
	needG := c.outs&(framework.OutLaplacian|framework.OutHVP) != 0
	if !needE && !needG {
		return nil
	}
	var o framework.Output
	if needE {
		o |= framework.OutEnergy
	}
	if needG {
		o |= framework.OutGradX
	}
	n, d := c.n, c.d
	fdGrad := mat.NewDense(n, d, nil)
	fdHVP := mat.NewDense(n, d, nil)
	fdLap := make([]float64, n)
	h := make([]float64, n)
	hcol := make([]float64, d)
	var xs [4]*mat.Dense
	var res [4]framework.Result
	for m := range xs {
		xs[m] = mat.DenseCopyOf(c.x)
	}
	for k := 0; k < d; k++ {
		for i := 0; i < n; i++ {
			xi := c.x.At(i, k)
			h[i] = c.step(xi)
			for m := range xs {
				xs[m].Set(i, k, xi+stencilM[m]*h[i])
			}
		}
		for m := range xs {
			req := framework.Request{Outputs: o, X: xs[m], Theta: c.theta}
			if err := c.eval(&req, &res[m]); err != nil {
				return fmt.Errorf("check energy %s: %s at x ± h·e%d: %w", c.spec.Name, o, k, err)
			}
		}
		for i := 0; i < n; i++ {
			if needE {
				s := 0.0
				for m := range res {
					s += stencilCoef[m] * res[m].Energy[i]
				}
				fdGrad.Set(i, k, s/(12*h[i]))
			}
			if needG {
				for j := range hcol {
					s := 0.0
					for m := range res {
						s += stencilCoef[m] * res[m].GradX.At(i, j)
					}
					hcol[j] = s / (12 * h[i])
				}
				fdLap[i] += hcol[k]
				vik := c.v.At(i, k)
				row := fdHVP.RawRowView(i)
				for j := range row {
					row[j] += hcol[j] * vik
				}
			}
		}
		for i := 0; i < n; i++ { // restore column k
			for m := range xs {
				xs[m].Set(i, k, c.x.At(i, k))
			}
		}
	}
	dense := func(name, method string, got, want *mat.Dense) {
		cmp := newComparer(name, method, c.opts.Tol, c.opts.Floor)
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				cmp.add(got.At(i, j), want.At(i, j), func() string { return fmt.Sprintf("row %d, component %d", i, j) })
			}
		}
		c.add(cmp.item())
	}
	if c.outs.Has(framework.OutGradX) {
		dense("grad_x", "central differences of energy in x", c.res.GradX, fdGrad)
	}
	if c.outs.Has(framework.OutLaplacian) {
		cmp := newComparer("laplacian", "trace of central differences of grad_x in x", c.opts.Tol, c.opts.Floor)
		for i := 0; i < n; i++ {
			cmp.add(c.res.Laplacian[i], fdLap[i], func() string { return fmt.Sprintf("row %d", i) })
		}
		c.add(cmp.item())
	}
	if c.outs.Has(framework.OutHVP) {
		dense("hvp", "central differences of grad_x in x, times V", c.res.HVP, fdHVP)
	}
	return nil
}

// thetaDerivatives moves θ along each coordinate (or random unit direction) by ±h, ±2h
// and checks param_vjp against the stencil of Σᵢ wᵢE(xᵢ), mixed against that of
// Σᵢ uᵢᵀ∇ₓE(xᵢ) with uᵢ = Uᵢ + MixedSelf·∇ₓE(xᵢ; θ) held fixed, and laplacian_vjp against
// that of Σᵢ vᵢΔₓE(xᵢ).
func (c *checker) thetaDerivatives() error {
	needPV := c.outs.Has(framework.OutParamVJP)
	needMix := c.outs.Has(framework.OutMixed)
	needLV := c.outs.Has(framework.OutLaplacianVJP)
	needPJ := c.outs.Has(framework.OutParamJac)
	if !needPV && !needMix && !needLV && !needPJ {
		return nil
	}
	var o framework.Output
	if needPV || needPJ {
		o |= framework.OutEnergy
	}
	if needMix {
		o |= framework.OutGradX
	}
	if needLV {
		o |= framework.OutLaplacian
	}
	n, d, p := c.n, c.d, c.p
	// uᵢ = Uᵢ + MixedSelf·∇ₓE(xᵢ), frozen at the base θ.
	u := mat.NewDense(n, d, nil)
	u.Scale(c.opts.MixedSelf, c.res.GradX)
	u.Add(u, c.u)

	ndir := p
	if c.opts.ThetaDirections > 0 {
		ndir = c.opts.ThetaDirections
	}
	cmpPV := newComparer("param_vjp", "central differences in θ of Σ wᵢE(xᵢ)", c.opts.Tol, c.opts.Floor)
	cmpMix := newComparer("mixed", "central differences in θ of Σ uᵢᵀ∇ₓE(xᵢ), u fixed", c.opts.Tol, c.opts.Floor)
	cmpLV := newComparer("laplacian_vjp", "central differences in θ of Σ vᵢΔₓE(xᵢ)", c.opts.Tol, c.opts.Floor)
	cmpPJ := newComparer("param_jac", "central differences in θ of each E(xᵢ)", c.opts.Tol, c.opts.Floor)
	fPJ := make([]float64, n)
	if c.opts.ThetaDirections > 0 {
		for _, cmp := range []*comparer{cmpPV, cmpMix, cmpLV, cmpPJ} {
			cmp.it.Method += fmt.Sprintf(", along %d random directions", ndir)
		}
	}
	th := make([]float64, p)
	dir := make([]float64, p)
	var res framework.Result
	for j := 0; j < ndir; j++ {
		var h float64
		if c.opts.ThetaDirections > 0 {
			norm := 0.0
			for k := range dir {
				dir[k] = c.rng.NormFloat64()
				norm += dir[k] * dir[k]
			}
			norm = math.Sqrt(norm)
			for k := range dir {
				dir[k] /= norm
			}
			h = c.opts.Step
		} else {
			h = c.step(c.theta[j])
		}
		var fPV, fMix, fLV float64
		clear(fPJ)
		for m := range stencilM {
			copy(th, c.theta)
			if c.opts.ThetaDirections > 0 {
				for k := range th {
					th[k] += stencilM[m] * h * dir[k]
				}
			} else {
				th[j] += stencilM[m] * h
			}
			req := framework.Request{Outputs: o, X: c.x, Theta: th}
			if err := c.eval(&req, &res); err != nil {
				return fmt.Errorf("check energy %s: %s at θ ± h along %s: %w", c.spec.Name, o, paramName(c.spec, j), err)
			}
			coef := stencilCoef[m]
			for i := 0; i < n; i++ {
				if needPV {
					fPV += coef * c.w[i] * res.Energy[i]
				}
				if needMix {
					fMix += coef * mat.Dot(u.RowView(i), res.GradX.RowView(i))
				}
				if needLV {
					fLV += coef * c.lw[i] * res.Laplacian[i]
				}
				if needPJ {
					fPJ[i] += coef * res.Energy[i]
				}
			}
		}
		exact := func(s []float64) float64 {
			if c.opts.ThetaDirections <= 0 {
				return s[j]
			}
			dot := 0.0
			for k, v := range s {
				dot += v * dir[k]
			}
			return dot
		}
		where := func() string {
			if c.opts.ThetaDirections > 0 {
				return fmt.Sprintf("random direction %d", j)
			}
			return paramName(c.spec, j)
		}
		if needPV {
			cmpPV.add(exact(c.res.ParamVJP), fPV/(12*h), where)
		}
		if needMix {
			cmpMix.add(exact(c.res.Mixed), fMix/(12*h), where)
		}
		if needLV {
			cmpLV.add(exact(c.res.LaplacianVJP), fLV/(12*h), where)
		}
		if needPJ {
			for i := 0; i < n; i++ {
				cmpPJ.add(exact(c.res.ParamJac.RawRowView(i)), fPJ[i]/(12*h), func() string { return fmt.Sprintf("row %d, %s", i, where()) })
			}
		}
	}
	if needPV {
		c.add(cmpPV.item())
	}
	if needMix {
		c.add(cmpMix.item())
	}
	if needLV {
		c.add(cmpLV.item())
	}
	if needPJ {
		c.add(cmpPJ.item())
	}
	return nil
}
