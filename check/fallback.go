package check

import (
	"fmt"
	"math/rand/v2"

	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// Fallback compares, on e at θ and the points x, the second-order outputs that e computes
// exactly with the framework.Evaluator's finite-difference fallbacks for them (forced with
// Evaluator.ForceFallback), through two Evaluators serving the same request. It also checks
// that each Evaluator reports the path it took. The tolerances are Options.FallbackTol for
// the first-difference fallbacks (mixed, laplacian, hvp) and Options.FallbackTol2 for the
// second-difference one (laplacian_vjp); the error is non-nil if a comparison fails or an
// evaluation does.
func Fallback(e framework.Energy, theta []float64, x *mat.Dense, opts Options) (Report, error) {
	opts = opts.withDefaults()
	spec := e.Spec()
	rep := Report{Energy: spec.Name}
	second := spec.Caps.Exact() & secondOrder
	if opts.Outputs != 0 {
		second &= opts.Outputs
	}
	if second == 0 {
		return rep, nil
	}
	n, d := x.Dims()
	rng := rand.New(rand.NewPCG(opts.Seed, 0x66616c6c))
	norm := func(k int) []float64 {
		s := make([]float64, k)
		for i := range s {
			s[i] = rng.NormFloat64()
		}
		return s
	}
	req := framework.Request{
		Outputs: second | framework.OutGradX, X: x, Theta: theta,
		U: mat.NewDense(n, d, norm(n*d)), MixedSelf: opts.MixedSelf,
		V: mat.NewDense(n, d, norm(n*d)), LapWeights: norm(n),
	}
	exact := framework.NewEvaluator(e)
	fd := framework.NewEvaluator(e)
	fd.ForceFallback = second
	fd.FDStep = opts.EvaluatorStep
	var re, rf framework.Result
	if err := exact.Evaluate(&req, &re); err != nil {
		return rep, fmt.Errorf("check fallback: exact path: %w", err)
	}
	if err := fd.Evaluate(&req, &rf); err != nil {
		return rep, fmt.Errorf("check fallback: finite-difference path: %w", err)
	}
	paths := ""
	for _, n := range outNames(second) {
		if exact.Paths()[n] != "exact" || fd.Paths()[n] != "finite-difference" {
			paths = fmt.Sprintf("%s: paths %q (exact evaluator) and %q (forced fallback)", n, exact.Paths()[n], fd.Paths()[n])
			break
		}
	}
	rep.Items = append(rep.Items, property("paths", "Evaluator.Paths reports exact and finite-difference", paths))
	vec := func(name string, tol float64, got, want []float64, perRow bool) {
		cmp := newComparer(name, "Evaluator finite-difference fallback vs exact", tol, opts.Floor)
		for i := range want {
			cmp.add(got[i], want[i], func() string {
				if perRow {
					return fmt.Sprintf("row %d", i)
				}
				return paramName(spec, i)
			})
		}
		rep.Items = append(rep.Items, cmp.item())
	}
	if second.Has(framework.OutMixed) {
		vec("mixed", opts.FallbackTol, rf.Mixed, re.Mixed, false)
	}
	if second.Has(framework.OutLaplacian) {
		vec("laplacian", opts.FallbackTol, rf.Laplacian, re.Laplacian, true)
	}
	if second.Has(framework.OutLaplacianVJP) {
		vec("laplacian_vjp", opts.FallbackTol2, rf.LaplacianVJP, re.LaplacianVJP, false)
	}
	if second.Has(framework.OutHVP) {
		cmp := newComparer("hvp", "Evaluator finite-difference fallback vs exact", opts.FallbackTol, opts.Floor)
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				cmp.add(rf.HVP.At(i, j), re.HVP.At(i, j), func() string { return fmt.Sprintf("row %d, component %d", i, j) })
			}
		}
		rep.Items = append(rep.Items, cmp.item())
	}
	if second.Has(framework.OutParamJac) {
		vec("param_jac", opts.FallbackTol, rf.ParamJac.RawMatrix().Data, re.ParamJac.RawMatrix().Data, false)
	}
	return rep, rep.Err()
}

// outNames lists the names of the outputs in o, as Evaluator.Paths keys them.
func outNames(o framework.Output) []string {
	var s []string
	for k, so := range sliceOutputs {
		if o.Has(so) {
			s = append(s, sliceNames[k])
		}
	}
	return s
}
