package trainers

// Closed-form score matching for energies linear in θ: E(x; θ) = θᵀT(x) + c(x).
//
// With J(x) = ∇ₓT(x) (p×d, row k = ∇ₓTₖ), the loss of sm.go is the quadratic
//
//	J(θ) = ½ θᵀAθ + θᵀb + κ,  A = mean J Jᵀ,  b = mean [J ∇ₓc − ΔₓT],  κ = mean [½‖∇ₓc‖² − Δₓc],
//
// whose minimisers solve A θ = −b. A is positive semi-definite; it is singular when two
// parameters enter E through the same statistic, as A_jk and A_kj do in a Gaussian energy
// parametrised by W = (A+Aᵀ)/2. Solve then returns the minimum-norm minimiser, which splits a
// duplicated coefficient equally (A_jk = A_kj = W_jk).
//
// A is accumulated one column of J at a time: columns with few non-zeros (the common case:
// a Gaussian's ∂T/∂x_l touches 2d of its d²+d statistics) by sparse outer products, dense
// ones in blocks through a symmetric rank-k update. The work is serial and in row order, so
// the result does not depend on the number of cores.

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// closedFormRcond is the relative eigenvalue below which a direction of A counts as
// unidentified (its component is set to zero) in the pseudo-inverse solve.
const closedFormRcond = 1e-10

// closedFormMaxCond is the condition number above which the Cholesky solve is not trusted
// and the eigen-decomposition solve is used instead.
const closedFormMaxCond = 1e10

// linearEnergy returns the evaluator's energy as a LinearEnergy, or an error naming it.
func linearEnergy(ev *framework.Evaluator) (framework.LinearEnergy, error) {
	spec := ev.Spec()
	le, ok := ev.Energy().(framework.LinearEnergy)
	if !spec.Caps.Has(framework.CapLinear) || !ok {
		return nil, fmt.Errorf("sm: closed_form = true needs an energy linear in θ (capability linear), but energy %s has capabilities [%s]",
			spec.Name, spec.Caps)
	}
	return le, nil
}

// Solve writes the minimiser of the score-matching loss over the whole training set into
// theta and returns the loss there. The energy must implement framework.LinearEnergy.
func (t *ScoreMatching) Solve(ctx *framework.TrainContext, theta []float64) (float64, error) {
	le, err := linearEnergy(ctx.Eval)
	if err != nil {
		return 0, err
	}
	spec := ctx.Eval.Spec()
	if err := requireContinuous("sm", spec); err != nil {
		return 0, err
	}
	p, d := spec.NumParams(), spec.Dim
	if len(theta) != p {
		return 0, fmt.Errorf("sm: %w", &framework.ShapeError{What: "θ", Want: fmt.Sprint(p), Got: fmt.Sprint(len(theta))})
	}
	if ctx.Train == nil {
		return 0, errors.New("sm: closed form needs training data")
	}
	n, c := ctx.Train.Dims()
	if n == 0 || c != d {
		return 0, fmt.Errorf("sm: %w", &framework.ShapeError{What: "training data", Want: fmt.Sprintf("n×%d, n > 0", d), Got: fmt.Sprintf("%d×%d", n, c)})
	}
	q := newSMQuadratic(p, d)
	for i := 0; i < n; i++ {
		q.add(le, ctx.Train.RawRowView(i))
	}
	a, b, kappa := q.finish(n)
	if err := checkFiniteSlice("closed-form statistics", a.RawSymmetric().Data); err != nil {
		return 0, fmt.Errorf("sm: energy %s: %w", spec.Name, err)
	}
	if err := checkFiniteSlice("closed-form statistics", b); err != nil {
		return 0, fmt.Errorf("sm: energy %s: %w", spec.Name, err)
	}
	if err := solvePSD(theta, a, b); err != nil {
		return 0, fmt.Errorf("sm: closed form for energy %s: %w", spec.Name, err)
	}
	// J(θ) = ½θᵀAθ + θᵀb + κ.
	tv := mat.NewVecDense(p, theta)
	var at mat.VecDense
	at.MulVec(a, tv)
	loss := 0.5*mat.Dot(tv, &at) + floatsDot(theta, b) + kappa
	return loss, nil
}

// smQuadratic accumulates the sums behind A, b and κ.
type smQuadratic struct {
	p, d  int
	a     []float64 // p×p, upper triangle
	b     []float64
	kappa float64

	jac   *mat.Dense
	lap   []float64
	gc    []float64
	idx   [][]int     // per column of the Jacobian: rows of its non-zeros, ascending
	val   [][]float64 // and their values
	dense []float64   // p×blk columns waiting for a rank-k update, row-major
	nd    int
}

const smDenseBlock = 64

func newSMQuadratic(p, d int) *smQuadratic {
	return &smQuadratic{
		p: p, d: d,
		a:     make([]float64, p*p),
		b:     make([]float64, p),
		jac:   mat.NewDense(p, d, nil),
		lap:   make([]float64, p),
		gc:    make([]float64, d),
		idx:   make([][]int, d),
		val:   make([][]float64, d),
		dense: make([]float64, p*smDenseBlock),
	}
}

// add adds the contribution of the point x.
func (q *smQuadratic) add(le framework.LinearEnergy, x []float64) {
	p, d := q.p, q.d
	q.jac.Zero()
	fill(q.lap, 0)
	le.Statistics(x, q.jac, q.lap)
	lapc := le.OffsetGrad(x, q.gc)
	sq := 0.0
	for _, v := range q.gc {
		sq += v * v
	}
	q.kappa += 0.5*sq - lapc
	raw := q.jac.RawMatrix()
	for l := range q.idx {
		q.idx[l], q.val[l] = q.idx[l][:0], q.val[l][:0]
	}
	for k := 0; k < p; k++ {
		row := raw.Data[k*raw.Stride : k*raw.Stride+d]
		s := -q.lap[k]
		for l, v := range row {
			if v == 0 {
				continue
			}
			s += v * q.gc[l]
			q.idx[l] = append(q.idx[l], k)
			q.val[l] = append(q.val[l], v)
		}
		q.b[k] += s
	}
	for l := 0; l < d; l++ {
		idx, val := q.idx[l], q.val[l]
		if 4*len(idx) > p {
			q.pushDense(idx, val)
			continue
		}
		for s, ks := range idx {
			vs := val[s]
			rowA := q.a[ks*p:]
			for r := s; r < len(idx); r++ {
				rowA[idx[r]] += vs * val[r]
			}
		}
	}
}

// pushDense queues a column of the Jacobian, given by its non-zeros, for a blocked rank-k
// update.
func (q *smQuadratic) pushDense(idx []int, val []float64) {
	for k := 0; k < q.p; k++ {
		q.dense[k*smDenseBlock+q.nd] = 0
	}
	for s, k := range idx {
		q.dense[k*smDenseBlock+q.nd] = val[s]
	}
	q.nd++
	if q.nd == smDenseBlock {
		q.flush()
	}
}

// flush adds the queued columns G to A: A += G Gᵀ.
func (q *smQuadratic) flush() {
	if q.nd == 0 {
		return
	}
	g := blas64.General{Rows: q.p, Cols: q.nd, Stride: smDenseBlock, Data: q.dense}
	s := blas64.Symmetric{Uplo: blas.Upper, N: q.p, Stride: q.p, Data: q.a}
	blas64.Syrk(blas.NoTrans, 1, g, 1, s)
	q.nd = 0
}

// finish returns A and b as means over n points, and κ.
func (q *smQuadratic) finish(n int) (*mat.SymDense, []float64, float64) {
	q.flush()
	inv := 1 / float64(n)
	for i := range q.a {
		q.a[i] *= inv
	}
	for i := range q.b {
		q.b[i] *= inv
	}
	return mat.NewSymDense(q.p, q.a), q.b, q.kappa * inv
}

// solvePSD writes into x a minimiser of ½xᵀAx + xᵀb for positive semi-definite A, that is a
// solution of A x = −b: by Cholesky when A is well conditioned, otherwise the minimum-norm
// solution through the eigen-decomposition, dropping eigenvalues below closedFormRcond·λmax.
func solvePSD(x []float64, a *mat.SymDense, b []float64) error {
	p := a.SymmetricDim()
	rhs := mat.NewVecDense(p, nil)
	for i, v := range b {
		rhs.SetVec(i, -v)
	}
	xv := mat.NewVecDense(p, x)
	var chol mat.Cholesky
	if chol.Factorize(a) && chol.Cond() < closedFormMaxCond {
		return chol.SolveVecTo(xv, rhs)
	}
	var eig mat.EigenSym
	if !eig.Factorize(a, true) {
		return errors.New("eigen-decomposition of the score-matching matrix did not converge")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	lmax := 0.0
	for _, l := range vals {
		lmax = math.Max(lmax, l)
	}
	if !(lmax > 0) {
		return errors.New("the score-matching matrix is zero: the data carry no information about θ")
	}
	tol := closedFormRcond * lmax
	for i := range x {
		x[i] = 0
	}
	for k, l := range vals {
		if l <= tol {
			continue
		}
		vk := vecs.ColView(k)
		c := mat.Dot(vk, rhs) / l
		for i := range x {
			x[i] += c * vk.AtVec(i)
		}
	}
	return nil
}

func floatsDot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func checkFiniteSlice(what string, s []float64) error {
	for i, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("non-finite value %v in %s (index %d)", v, what, i)
		}
	}
	return nil
}

// Hessian writes the Hessian of the score-matching loss on batch into dst: exactly A = mean JJᵀ
// for an energy linear in θ (the loss is quadratic), by central differences of the gradient
// otherwise.
func (t *ScoreMatching) Hessian(ctx *framework.StepContext, batch *mat.Dense, theta []float64, dst *mat.SymDense) error {
	spec := ctx.Eval.Spec()
	le, ok := ctx.Eval.Energy().(framework.LinearEnergy)
	if !ok || !spec.Caps.Has(framework.CapLinear) {
		return framework.HessianByDifferences(func(th, g []float64) (float64, error) {
			return t.Step(ctx, batch, th, g)
		}, theta, 1e-5, dst)
	}
	p, d := spec.NumParams(), spec.Dim
	n, _ := batch.Dims()
	q := newSMQuadratic(p, d)
	for i := 0; i < n; i++ {
		q.add(le, batch.RawRowView(i))
	}
	a, _, _ := q.finish(n)
	dst.CopySym(a)
	return nil
}

// SMQuadratic returns the score-matching loss on the rows of x of an energy linear in θ as
// the quadratic ½θᵀAθ + θᵀb + κ (A = mean JJᵀ, b = mean [J∇ₓc − ΔₓT]): what regularised score
// matching (package structure) minimises with an L1 penalty.
func SMQuadratic(le framework.LinearEnergy, x *mat.Dense) (a *mat.SymDense, b []float64, kappa float64) {
	spec := le.Spec()
	q := newSMQuadratic(spec.NumParams(), spec.Dim)
	n, _ := x.Dims()
	for i := 0; i < n; i++ {
		q.add(le, x.RawRowView(i))
	}
	return q.finish(n)
}
