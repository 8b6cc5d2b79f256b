package trainers

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// normalRows returns n rows of N(0, I_d) drawn from a fixed seed.
func normalRows(n, d int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	return x
}

// randomQuadTheta returns θ = (A, b) with A = I + 0.3·(random, not symmetric) and b random.
func randomQuadTheta(d int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 11))
	theta := make([]float64, d*d+d)
	for j := 0; j < d; j++ {
		for k := 0; k < d; k++ {
			theta[j*d+k] = 0.3 * rng.NormFloat64()
		}
		theta[j*d+j] += 1.5
		theta[d*d+j] = 0.5 * rng.NormFloat64()
	}
	return theta
}

// stepAt evaluates the trainer's loss (and gradient when grad != nil) with a freshly seeded
// RNG, so every call sees the same noise draws.
func stepAt(t *testing.T, tr framework.Trainer, ev *framework.Evaluator, batch *mat.Dense, theta, grad []float64, seed uint64) float64 {
	t.Helper()
	ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(seed, 3))}
	loss, err := tr.Step(ctx, batch, theta, grad)
	require.NoError(t, err)
	return loss
}

// checkGradFD compares the trainer's gradient with central differences of its loss in θ,
// with the noise draws fixed by re-seeding. It requires ‖g − g_fd‖ ≤ tol·max(‖g‖, 1).
func checkGradFD(t *testing.T, tr framework.Trainer, ev *framework.Evaluator, batch *mat.Dense, theta []float64, tol float64) {
	t.Helper()
	const seed = 99
	grad := make([]float64, len(theta))
	stepAt(t, tr, ev, batch, theta, grad, seed)
	fd := make([]float64, len(theta))
	th := append([]float64(nil), theta...)
	for k := range theta {
		h := 1e-5 * math.Max(1, math.Abs(theta[k]))
		th[k] = theta[k] + h
		lp := stepAt(t, tr, ev, batch, th, nil, seed)
		th[k] = theta[k] - h
		lm := stepAt(t, tr, ev, batch, th, nil, seed)
		th[k] = theta[k]
		fd[k] = (lp - lm) / (2 * h)
	}
	diff, norm := 0.0, 0.0
	for k := range grad {
		diff += (grad[k] - fd[k]) * (grad[k] - fd[k])
		norm += grad[k] * grad[k]
	}
	diff, norm = math.Sqrt(diff), math.Sqrt(norm)
	require.Greater(t, norm, 0.0, "gradient is zero: the check would be vacuous")
	require.LessOrEqualf(t, diff, tol*math.Max(norm, 1), "‖g − g_fd‖ = %g, ‖g‖ = %g\ng    = %v\ng_fd = %v", diff, norm, grad, fd)
}

var gauss20 struct {
	once sync.Once
	x    *mat.Dense
	err  error
}

// loadGauss20 reads examples/data/gauss20_train.csv.gz once.
func loadGauss20(t testing.TB) *mat.Dense {
	t.Helper()
	gauss20.once.Do(func() {
		ds, err := framework.ReadCSV("../examples/data/gauss20_train.csv.gz")
		if err != nil {
			gauss20.err = err
			return
		}
		gauss20.x = ds.X
	})
	require.NoError(t, gauss20.err)
	return gauss20.x
}

// meanCov returns the sample mean and the biased (1/n) sample covariance of the rows of x.
func meanCov(x *mat.Dense) (*mat.VecDense, *mat.SymDense) {
	n, d := x.Dims()
	mu := mat.NewVecDense(d, nil)
	for i := 0; i < n; i++ {
		mu.AddVec(mu, x.RowView(i))
	}
	mu.ScaleVec(1/float64(n), mu)
	xc := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			xc.Set(i, j, x.At(i, j)-mu.AtVec(j))
		}
	}
	s := mat.NewSymDense(d, nil)
	s.SymOuterK(1/float64(n), xc.T())
	return mu, s
}

// invSym returns the inverse of a symmetric positive-definite matrix by Cholesky.
func invSym(t testing.TB, s mat.Symmetric) *mat.Dense {
	t.Helper()
	var c mat.Cholesky
	require.True(t, c.Factorize(s), "matrix not positive definite")
	var inv mat.SymDense
	require.NoError(t, c.InverseTo(&inv))
	return mat.DenseCopyOf(&inv)
}

// relFro returns ‖a − b‖_F / ‖b‖_F.
func relFro(a, b mat.Matrix) float64 {
	var diff mat.Dense
	diff.Sub(a, b)
	return mat.Norm(&diff, 2) / mat.Norm(b, 2)
}

// quadW returns W = (A+Aᵀ)/2 and b from the θ of the Gaussian energy.
func quadW(theta []float64, d int) (*mat.Dense, *mat.VecDense) {
	w := mat.NewDense(d, d, nil)
	for j := 0; j < d; j++ {
		for k := 0; k < d; k++ {
			w.Set(j, k, 0.5*(theta[j*d+k]+theta[k*d+j]))
		}
	}
	return w, mat.NewVecDense(d, append([]float64(nil), theta[d*d:d*d+d]...))
}

// schedule is a learning-rate schedule for the convergence tests: lr0 for the first hold
// steps, then a geometric decay to lr1 at the last step.
type schedule struct {
	lr0, lr1    float64
	hold, steps int
}

func (s schedule) at(k int) float64 {
	if k < s.hold {
		return s.lr0
	}
	f := float64(k-s.hold) / float64(max(1, s.steps-1-s.hold))
	return s.lr0 * math.Pow(s.lr1/s.lr0, f)
}

// trainAdam runs Adam on the trainer's loss from theta, with fresh noise each step from one
// seeded stream, on batches of the given size drawn with replacement from x (the full x in
// order when batch is 0), and returns the average of the iterates over the last avg steps
// (Polyak averaging, to shrink the noise of the final iterate).
func trainAdam(t testing.TB, tr framework.Trainer, ev *framework.Evaluator, x *mat.Dense, theta []float64, batch int, s schedule, avg int) []float64 {
	t.Helper()
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
	opt, err := NewAdam(AdamOptions{LR: s.lr0, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	require.NoError(t, err)
	ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(2026, 1))}
	pick := rand.New(rand.NewPCG(2026, 2))
	n, d := x.Dims()
	b := x
	if batch > 0 {
		b = mat.NewDense(batch, d, nil)
	}
	grad := make([]float64, len(theta))
	mean := make([]float64, len(theta))
	for k := 0; k < s.steps; k++ {
		if batch > 0 {
			for i := 0; i < batch; i++ {
				copy(b.RawRowView(i), x.RawRowView(pick.IntN(n)))
			}
		}
		ctx.Step = k
		_, err := tr.Step(ctx, b, theta, grad)
		require.NoError(t, err)
		opt.SetLR(s.at(k))
		opt.Update(theta, grad)
		if k >= s.steps-avg {
			for j, v := range theta {
				mean[j] += v / float64(avg)
			}
		}
	}
	return mean
}
