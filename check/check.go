package check

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// secondOrder are the outputs an energy may compute exactly or leave to the Evaluator.
const secondOrder = framework.OutMixed | framework.OutLaplacian | framework.OutLaplacianVJP | framework.OutHVP | framework.OutParamJac

// Energy checks e at θ on the points x (n×d, n ≥ 1) and returns the report.
//
// The error is non-nil when the check could not be made (θ or x of the wrong size, an
// output the energy does not compute exactly, Evaluate failing on a valid request), or when
// any check failed; it then names each failing output and the row or parameter at fault.
func Energy(e framework.Energy, theta []float64, x *mat.Dense, opts Options) (Report, error) {
	c, err := newChecker(e, theta, x, opts)
	if err != nil {
		return Report{Energy: e.Spec().Name}, err
	}
	if err := c.run(); err != nil {
		return c.report, err
	}
	return c.report, c.report.Err()
}

type checker struct {
	e       framework.Energy
	spec    framework.Spec
	theta   []float64
	x       *mat.Dense
	n, d, p int
	opts    Options
	outs    framework.Output // outputs whose derivatives are checked
	all     framework.Output // outputs of the base request

	w, lw []float64  // random weights of ParamVJP and LaplacianVJP
	u, v  *mat.Dense // random directions of Mixed and HVP
	req   framework.Request
	self  framework.SelfScratch // for energies without CapMixedSelf (see framework.EvaluateChunk)
	res   framework.Result      // the base result
	rng   *rand.Rand

	report Report
}

func newChecker(e framework.Energy, theta []float64, x *mat.Dense, opts Options) (*checker, error) {
	spec := e.Spec()
	c := &checker{e: e, spec: spec, theta: theta, x: x, opts: opts.withDefaults()}
	c.report.Energy = spec.Name
	if x == nil {
		return nil, fmt.Errorf("check energy %s: no points", spec.Name)
	}
	c.n, c.d = x.Dims()
	c.p = spec.NumParams()
	if c.n == 0 {
		return nil, fmt.Errorf("check energy %s: no points", spec.Name)
	}
	if c.d != spec.Dim {
		return nil, fmt.Errorf("check energy %s: %w", spec.Name,
			&framework.ShapeError{What: "X", Want: fmt.Sprintf("n×%d", spec.Dim), Got: fmt.Sprintf("%d×%d", c.n, c.d)})
	}
	if len(theta) != c.p {
		return nil, fmt.Errorf("check energy %s: %w", spec.Name,
			&framework.ShapeError{What: "θ", Want: fmt.Sprint(c.p), Got: fmt.Sprint(len(theta))})
	}
	exact := spec.Caps.Exact()
	c.outs = c.opts.Outputs
	if c.outs == 0 {
		c.outs = exact
	}
	if extra := c.outs &^ exact; extra != 0 {
		return nil, fmt.Errorf("check energy %s: asked to check %s, which it does not compute exactly (capabilities %q)",
			spec.Name, extra, spec.Caps.String())
	}
	c.all = c.outs | framework.FirstOrder

	c.rng = rand.New(rand.NewPCG(c.opts.Seed, 0x636865636b))
	c.w = c.normals(c.n)
	c.lw = c.normals(c.n)
	c.u = mat.NewDense(c.n, c.d, c.normals(c.n*c.d))
	c.v = mat.NewDense(c.n, c.d, c.normals(c.n*c.d))
	c.req = framework.Request{
		Outputs: c.all, X: x, Theta: theta,
		Weights: c.w, U: c.u, MixedSelf: c.opts.MixedSelf, LapWeights: c.lw, V: c.v,
	}
	return c, nil
}

func (c *checker) normals(k int) []float64 {
	s := make([]float64, k)
	for i := range s {
		s[i] = c.rng.NormFloat64()
	}
	return s
}

func (c *checker) add(it Item) { c.report.Items = append(c.report.Items, it) }

func (c *checker) run() error {
	if err := c.base(); err != nil {
		return err
	}
	c.determinism()
	if err := c.batch(); err != nil {
		return err
	}
	if err := c.strided(); err != nil {
		return err
	}
	if err := c.subsets(); err != nil {
		return err
	}
	if err := c.defaults(); err != nil {
		return err
	}
	c.concurrency()
	c.badRequests()
	if err := c.xDerivatives(); err != nil {
		return err
	}
	return c.thetaDerivatives()
}

// eval calls e.Evaluate (through framework.EvaluateChunk) on req with res sized by Reset, turning a panic into an error.
func (c *checker) eval(req *framework.Request, res *framework.Result) error {
	return c.evalWith(req, res, &c.self)
}

// evalWith is eval with its own scratch, for calls on several goroutines at once.
func (c *checker) evalWith(req *framework.Request, res *framework.Result, self *framework.SelfScratch) (err error) {
	n, _ := req.X.Dims()
	res.Reset(req.Outputs, n, c.d, c.p)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in Evaluate: %v", r)
		}
	}()
	return framework.EvaluateChunk(c.e, c.spec.Caps, req, res, self)
}

// base evaluates the full request once and checks shapes, buffer identity, that every
// per-row output was written and finite, and that the inputs were left unchanged.
func (c *checker) base() error {
	res := &c.res
	res.Reset(c.all, c.n, c.d, c.p)
	// Per-row outputs are poisoned so that rows an energy forgets to write show up.
	nan := math.NaN()
	fill := func(s []float64) {
		for i := range s {
			s[i] = nan
		}
	}
	fill(res.Energy)
	fill(res.Laplacian)
	if res.GradX != nil {
		fill(res.GradX.RawMatrix().Data)
	}
	if res.HVP != nil {
		fill(res.HVP.RawMatrix().Data)
	}
	if res.ParamJac != nil {
		fill(res.ParamJac.RawMatrix().Data)
	}
	before := snapshotResult(res, c.all)
	inputs := snapshotInputs(&c.req)

	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic in Evaluate: %v", r)
			}
		}()
		return framework.EvaluateChunk(c.e, c.spec.Caps, &c.req, res, &c.self)
	}()
	if err != nil {
		c.add(property("evaluate", "Evaluate on a valid request", err.Error()))
		return fmt.Errorf("check energy %s: %s: %w", c.spec.Name, c.all, err)
	}
	c.add(property("shapes", "outputs in the buffers sized by Result.Reset", before.diff(res, c.all)))
	c.add(property("inputs", "X, θ, weights and directions unchanged by Evaluate", inputs.diff(&c.req)))
	c.add(property("finite", "every requested output written and finite", nonFinite(res, c.all)))
	return nil
}

// nonFinite names the first output and row holding a NaN or Inf, or returns "".
func nonFinite(res *framework.Result, o framework.Output) string {
	vec := func(name string, s []float64, perRow bool) string {
		for i, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				if perRow {
					return fmt.Sprintf("%s row %d is %v (not written, or not finite)", name, i, v)
				}
				return fmt.Sprintf("%s[%d] is %v", name, i, v)
			}
		}
		return ""
	}
	dense := func(name string, m *mat.Dense) string {
		r, cols := m.Dims()
		for i := 0; i < r; i++ {
			for j := 0; j < cols; j++ {
				if v := m.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Sprintf("%s row %d, component %d is %v (not written, or not finite)", name, i, j, v)
				}
			}
		}
		return ""
	}
	checks := []struct {
		o framework.Output
		f func() string
	}{
		{framework.OutEnergy, func() string { return vec("energy", res.Energy, true) }},
		{framework.OutGradX, func() string { return dense("grad_x", res.GradX) }},
		{framework.OutParamVJP, func() string { return vec("param_vjp", res.ParamVJP, false) }},
		{framework.OutMixed, func() string { return vec("mixed", res.Mixed, false) }},
		{framework.OutLaplacian, func() string { return vec("laplacian", res.Laplacian, true) }},
		{framework.OutLaplacianVJP, func() string { return vec("laplacian_vjp", res.LaplacianVJP, false) }},
		{framework.OutHVP, func() string { return dense("hvp", res.HVP) }},
		{framework.OutParamJac, func() string { return dense("param_jac", res.ParamJac) }},
	}
	for _, ch := range checks {
		if o.Has(ch.o) {
			if s := ch.f(); s != "" {
				return s
			}
		}
	}
	return ""
}
