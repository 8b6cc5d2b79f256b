package check

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/mat"
)

// resultSnapshot records the buffers Reset gave a Result, to see whether Evaluate kept them.
type resultSnapshot struct {
	ptrs [8]*float64
	lens [8]int
	mats [3]*mat.Dense
}

func firstElem(s []float64) *float64 {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func denseData(m *mat.Dense) []float64 {
	if m == nil {
		return nil
	}
	return m.RawMatrix().Data
}

func resultSlices(r *framework.Result) [8][]float64 {
	return [8][]float64{r.Energy, denseData(r.GradX), r.ParamVJP, r.Mixed, r.Laplacian, r.LaplacianVJP, denseData(r.HVP), denseData(r.ParamJac)}
}

var sliceNames = [8]string{"energy", "grad_x", "param_vjp", "mixed", "laplacian", "laplacian_vjp", "hvp", "param_jac"}
var sliceOutputs = [8]framework.Output{framework.OutEnergy, framework.OutGradX, framework.OutParamVJP,
	framework.OutMixed, framework.OutLaplacian, framework.OutLaplacianVJP, framework.OutHVP, framework.OutParamJac}

func snapshotResult(r *framework.Result, o framework.Output) resultSnapshot {
	var s resultSnapshot
	for k, sl := range resultSlices(r) {
		if o.Has(sliceOutputs[k]) {
			s.ptrs[k], s.lens[k] = firstElem(sl), len(sl)
		}
	}
	s.mats = [3]*mat.Dense{r.GradX, r.HVP, r.ParamJac}
	return s
}

// diff returns "" if r still uses the buffers of the snapshot, or says which output moved.
func (s resultSnapshot) diff(r *framework.Result, o framework.Output) string {
	for k, sl := range resultSlices(r) {
		if !o.Has(sliceOutputs[k]) {
			continue
		}
		if len(sl) != s.lens[k] || firstElem(sl) != s.ptrs[k] {
			return fmt.Sprintf("%s was reallocated or resized by Evaluate (length %d, want %d in the buffer from Reset)",
				sliceNames[k], len(sl), s.lens[k])
		}
	}
	if o.Has(framework.OutGradX) && r.GradX != s.mats[0] {
		return "grad_x matrix was replaced by Evaluate"
	}
	if o.Has(framework.OutHVP) && r.HVP != s.mats[1] {
		return "hvp matrix was replaced by Evaluate"
	}
	if o.Has(framework.OutParamJac) && r.ParamJac != s.mats[2] {
		return "param_jac matrix was replaced by Evaluate"
	}
	return ""
}

// inputSnapshot holds copies of a request's inputs.
type inputSnapshot struct {
	x, u, v, theta, w, lw []float64
}

func denseCopy(m *mat.Dense) []float64 {
	if m == nil {
		return nil
	}
	r, c := m.Dims()
	s := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		s = append(s, m.RawRowView(i)...)
	}
	return s
}

func snapshotInputs(req *framework.Request) inputSnapshot {
	return inputSnapshot{
		x: denseCopy(req.X), u: denseCopy(req.U), v: denseCopy(req.V),
		theta: slices.Clone(req.Theta), w: slices.Clone(req.Weights), lw: slices.Clone(req.LapWeights),
	}
}

func (s inputSnapshot) diff(req *framework.Request) string {
	same := func(a, b []float64) bool {
		return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
	}
	switch {
	case !same(s.x, denseCopy(req.X)):
		return "Evaluate modified X"
	case !same(s.theta, req.Theta):
		return "Evaluate modified θ"
	case !same(s.u, denseCopy(req.U)):
		return "Evaluate modified U"
	case !same(s.v, denseCopy(req.V)):
		return "Evaluate modified V"
	case !same(s.w, req.Weights):
		return "Evaluate modified Weights"
	case !same(s.lw, req.LapWeights):
		return "Evaluate modified LapWeights"
	}
	return ""
}

// bitsDiff returns "" if a and b hold bit-identical outputs o, or names the first difference.
func bitsDiff(a, b *framework.Result, o framework.Output) string {
	sa, sb := resultSlices(a), resultSlices(b)
	for k := range sa {
		if !o.Has(sliceOutputs[k]) {
			continue
		}
		for i := range sa[k] {
			if math.Float64bits(sa[k][i]) != math.Float64bits(sb[k][i]) {
				return fmt.Sprintf("%s[%d] differs: %v then %v", sliceNames[k], i, sa[k][i], sb[k][i])
			}
		}
	}
	return ""
}

// determinism evaluates the base request again and asks for the same bits.
func (c *checker) determinism() {
	var res framework.Result
	if err := c.eval(&c.req, &res); err != nil {
		c.add(property("determinism", "the same request twice", "second evaluation failed: "+err.Error()))
		return
	}
	c.add(property("determinism", "the same request twice gives identical bits", bitsDiff(&c.res, &res, c.all)))
}

// compareRows compares the per-row outputs of got (rows lo..) with the base result.
func (c *checker) compareRows(cmp *comparer, got *framework.Result, lo, rows int) {
	for k, sl := range resultSlices(got) {
		o := sliceOutputs[k]
		if !c.all.Has(o) || o&(framework.OutParamVJP|framework.OutMixed|framework.OutLaplacianVJP) != 0 {
			continue
		}
		base := resultSlices(&c.res)[k]
		width := len(sl) / rows
		for j, v := range sl {
			i, col := lo+j/width, j%width
			want := base[i*width+col]
			cmp.add(v, want, func() string {
				if width == 1 {
					return fmt.Sprintf("%s row %d", sliceNames[k], i)
				}
				return fmt.Sprintf("%s row %d, component %d", sliceNames[k], i, col)
			})
		}
	}
}

// compareTheta compares the θ-sized outputs of got with the base result.
func (c *checker) compareTheta(cmp *comparer, got *framework.Result) {
	for k, sl := range resultSlices(got) {
		o := sliceOutputs[k]
		if !c.all.Has(o) || o&(framework.OutParamVJP|framework.OutMixed|framework.OutLaplacianVJP) == 0 {
			continue
		}
		base := resultSlices(&c.res)[k]
		for j, v := range sl {
			cmp.add(v, base[j], func() string { return fmt.Sprintf("%s %s", sliceNames[k], paramName(c.spec, j)) })
		}
	}
}

// batch evaluates the rows one at a time: per-row outputs must equal the batch's, θ-sized
// outputs must sum to the batch's.
func (c *checker) batch() error {
	cmp := newComparer("batch", "rows one at a time vs the batch", c.opts.BatchTol, c.opts.Floor)
	var sum, one framework.Result
	sum.Reset(c.all, c.n, c.d, c.p)
	x1, u1, v1 := mat.NewDense(1, c.d, nil), mat.NewDense(1, c.d, nil), mat.NewDense(1, c.d, nil)
	for i := 0; i < c.n; i++ {
		x1.SetRow(0, c.x.RawRowView(i))
		u1.SetRow(0, c.u.RawRowView(i))
		v1.SetRow(0, c.v.RawRowView(i))
		req := c.req
		req.X, req.U, req.V = x1, u1, v1
		req.Weights, req.LapWeights = c.w[i:i+1], c.lw[i:i+1]
		if err := c.eval(&req, &one); err != nil {
			c.add(property("batch", "rows one at a time", fmt.Sprintf("row %d alone: %v", i, err)))
			return fmt.Errorf("check energy %s: row %d alone: %w", c.spec.Name, i, err)
		}
		c.compareRows(cmp, &one, i, 1)
		for k, s := range resultSlices(&one) {
			o := sliceOutputs[k]
			if c.all.Has(o) && o&(framework.OutParamVJP|framework.OutMixed|framework.OutLaplacianVJP) != 0 {
				dst := resultSlices(&sum)[k]
				for j, v := range s {
					dst[j] += v
				}
			}
		}
	}
	c.compareTheta(cmp, &sum)
	c.add(cmp.item())
	return nil
}

// wide returns a view of m inside a matrix with extra columns, so that its stride exceeds
// its width.
func wide(m *mat.Dense) *mat.Dense {
	r, cols := m.Dims()
	w := mat.NewDense(r, cols+3, nil)
	for i := range r {
		for j := range cols + 3 {
			w.Set(i, j, math.NaN())
		}
	}
	view := w.Slice(0, r, 1, 1+cols).(*mat.Dense)
	view.Copy(m)
	return view
}

// strided evaluates the base request with X, U and V as views whose stride exceeds d, as a
// caller holding a column slice of a larger matrix would pass them.
func (c *checker) strided() error {
	cmp := newComparer("strided", "inputs with stride > d vs contiguous inputs", c.opts.BatchTol, c.opts.Floor)
	req := c.req
	req.X, req.U, req.V = wide(c.x), wide(c.u), wide(c.v)
	var res framework.Result
	if err := c.eval(&req, &res); err != nil {
		c.add(property("strided", "inputs with stride > d", err.Error()))
		return fmt.Errorf("check energy %s: strided inputs: %w", c.spec.Name, err)
	}
	c.compareRows(cmp, &res, 0, c.n)
	c.compareTheta(cmp, &res)
	c.add(cmp.item())
	return nil
}

// concurrency evaluates the base request on several goroutines at once; each must give the
// base result's bits.
func (c *checker) concurrency() {
	g := c.opts.Goroutines
	if g < 0 {
		return
	}
	res := make([]framework.Result, g)
	errs := make([]error, g)
	var wg sync.WaitGroup
	for k := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				var self framework.SelfScratch
				if errs[k] = c.evalWith(&c.req, &res[k], &self); errs[k] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	failure := ""
	for k := range g {
		switch {
		case errs[k] != nil:
			failure = fmt.Sprintf("goroutine %d: %v", k, errs[k])
		case failure == "":
			if d := bitsDiff(&c.res, &res[k], c.all); d != "" {
				failure = fmt.Sprintf("goroutine %d: %s", k, d)
			}
		}
	}
	c.add(property("concurrency", fmt.Sprintf("%d concurrent Evaluate calls give the serial bits", g), failure))
}

// badRequests asks for outputs with θ and X of the wrong size: Evaluate must return an
// error, not panic and not succeed.
func (c *checker) badRequests() {
	failure := ""
	try := func(what string, req *framework.Request) {
		var res framework.Result
		res.Reset(req.Outputs, c.n, c.d, c.p)
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					failure = fmt.Sprintf("%s: Evaluate panicked: %v", what, r)
				}
			}()
			return c.e.Evaluate(req, &res)
		}()
		if failure == "" && err == nil {
			failure = what + ": Evaluate returned no error"
		}
	}
	req := c.req
	req.Theta = append(slices.Clone(c.theta), 0)
	try(fmt.Sprintf("θ of length %d (want %d)", c.p+1, c.p), &req)
	if failure == "" {
		req = c.req
		req.X = mat.NewDense(c.n, c.d+1, nil)
		try(fmt.Sprintf("X of width %d (want %d)", c.d+1, c.d), &req)
	}
	c.add(property("bad_request", "θ and X of the wrong size are errors", failure))
}

// paramName names θ[j] by its block and index, e.g. "θ[17] = W2[3,4]".
func paramName(s framework.Spec, j int) string {
	off := 0
	for _, b := range s.Blocks {
		if j < off+b.Size() {
			k := j - off
			idx := make([]int, len(b.Shape))
			for a := len(b.Shape) - 1; a >= 0; a-- {
				idx[a] = k % b.Shape[a]
				k /= b.Shape[a]
			}
			parts := make([]string, len(idx))
			for a, v := range idx {
				parts[a] = strconv.Itoa(v)
			}
			return fmt.Sprintf("θ[%d] = %s[%s]", j, b.Name, strings.Join(parts, ","))
		}
		off += b.Size()
	}
	return fmt.Sprintf("θ[%d]", j)
}

// subsets evaluates each output alone: it must equal the same output of the full request
// (an energy must not rely on another output being asked for at the same time).
func (c *checker) subsets() error {
	cmp := newComparer("subsets", "each output alone vs within the full request", c.opts.BatchTol, c.opts.Floor)
	var res framework.Result
	for k, o := range sliceOutputs {
		if !c.all.Has(o) {
			continue
		}
		req := c.req
		req.Outputs = o
		if err := c.eval(&req, &res); err != nil {
			c.add(property("subsets", "each output alone", fmt.Sprintf("%s alone: %v", sliceNames[k], err)))
			return fmt.Errorf("check energy %s: %s alone: %w", c.spec.Name, sliceNames[k], err)
		}
		got, want := resultSlices(&res)[k], resultSlices(&c.res)[k]
		for j := range want {
			cmp.add(got[j], want[j], func() string { return fmt.Sprintf("%s alone, index %d", sliceNames[k], j) })
		}
	}
	c.add(cmp.item())
	return nil
}

// defaults evaluates the full request with nil Weights, LapWeights and U and compares it
// with the same request spelling out their defaults: ones, ones and a zero matrix.
func (c *checker) defaults() error {
	cmp := newComparer("defaults", "nil weights and U vs explicit ones and zeros", c.opts.BatchTol, c.opts.Floor)
	ones := make([]float64, c.n)
	for i := range ones {
		ones[i] = 1
	}
	explicit := c.req
	explicit.Weights, explicit.LapWeights, explicit.U = ones, ones, mat.NewDense(c.n, c.d, nil)
	implicit := c.req
	implicit.Weights, implicit.LapWeights, implicit.U = nil, nil, nil
	var re, ri framework.Result
	if err := c.eval(&explicit, &re); err != nil {
		return fmt.Errorf("check energy %s: explicit default weights: %w", c.spec.Name, err)
	}
	if err := c.eval(&implicit, &ri); err != nil {
		c.add(property("defaults", "nil weights and U", err.Error()))
		return fmt.Errorf("check energy %s: nil weights and U: %w", c.spec.Name, err)
	}
	se, si := resultSlices(&re), resultSlices(&ri)
	for k, o := range sliceOutputs {
		if !c.all.Has(o) {
			continue
		}
		for j := range se[k] {
			cmp.add(si[k][j], se[k][j], func() string { return fmt.Sprintf("%s index %d", sliceNames[k], j) })
		}
	}
	c.add(cmp.item())
	return nil
}
