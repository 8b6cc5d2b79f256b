package bench

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// RequestResult is the MLP request measured against the machine's matrix-multiply rate.
type RequestResult struct {
	Batch      int     `json:"batch"`
	Outputs    string  `json:"outputs"`
	Seconds    float64 `json:"sec_per_request_median"`
	GEMMFlops  float64 `json:"gemm_flops_per_request"`
	GFlops     float64 `json:"gflops"`             // GEMMFlops / Seconds
	KernelRate float64 `json:"kernel_gflops"`      // energy.Gemm at 256×64×64 on every core at once
	Kernel1024 float64 `json:"kernel_1024_gflops"` // energy.Gemm at 1024³ on every core at once
	GonumRate  float64 `json:"gonum_dgemm_1024_gflops"`
	DgemmRate  float64 `json:"dgemm_gflops"` // the largest of the three: the machine's dgemm rate here
	Fraction   float64 `json:"fraction_of_dgemm"`
	Workers    int     `json:"workers"`
	Chunk      int     `json:"chunk"`
}

// RequestRate times the request for E, ∇ₓE and Σᵢwᵢ∇θE on the ring8 MLP (2→64→64→1 softplus,
// torch's initial weights) at the given batch through an Evaluator (workers and chunk as the
// [compute] keys, 0 for the defaults), counts the floating-point operations of its matrix
// products, and compares their rate with the machine's dgemm rate: the largest of gonum's
// Dgemm at 1024³ and the energies' own kernel (energy.Gemm), at 1024³ and on the MLP's
// 256×64×64 product, run on every core at once (one product per core).
func RequestRate(dataDir string, batch, workers, chunk int) (*RequestResult, error) {
	tm, err := energy.LoadTorchMLP(filepath.Join(dataDir, "mlp2d_init_torch_seed0.json"))
	if err != nil {
		return nil, err
	}
	m, err := energy.NewMLP(tm.Dim, tm.Hidden, "softplus")
	if err != nil {
		return nil, err
	}
	ds, err := framework.ReadCSV(filepath.Join(dataDir, "ring8_train.csv.gz"))
	if err != nil {
		return nil, err
	}
	if n, _ := ds.X.Dims(); n < batch {
		return nil, fmt.Errorf("bench: ring8_train has %d rows, the request wants %d", n, batch)
	}
	x := mat.DenseCopyOf(ds.X.Slice(0, batch, 0, tm.Dim))
	ev := framework.NewEvaluator(m)
	ev.Workers, ev.ChunkRows = workers, chunk
	w := make([]float64, batch)
	for i := range w {
		w[i] = 1 / float64(batch)
	}
	req := framework.Request{Outputs: framework.FirstOrder, X: x, Theta: tm.Theta, Weights: w}
	var res framework.Result
	for range 5 {
		if err := ev.Evaluate(&req, &res); err != nil {
			return nil, err
		}
	}
	times := make([]float64, 0, 200)
	deadline := time.Now().Add(2 * time.Second)
	for len(times) < 200 && (len(times) < 20 || time.Now().Before(deadline)) {
		t0 := time.Now()
		if err := ev.Evaluate(&req, &res); err != nil {
			return nil, err
		}
		times = append(times, time.Since(t0).Seconds())
	}
	r := &RequestResult{Batch: batch, Outputs: req.Outputs.String(), Seconds: median(times),
		GEMMFlops: mlpRequestFlops(tm.Dim, tm.Hidden, batch), Workers: workers, Chunk: chunk}
	r.GFlops = r.GEMMFlops / r.Seconds / 1e9
	r.KernelRate = kernelRate(256, 64, 64, runtime.GOMAXPROCS(0))
	r.Kernel1024 = kernelRate(1024, 1024, 1024, runtime.GOMAXPROCS(0))
	r.GonumRate = gonumRate(1024)
	r.DgemmRate = max(r.KernelRate, r.Kernel1024, r.GonumRate)
	r.Fraction = r.GFlops / r.DgemmRate
	return r, nil
}

// mlpRequestFlops counts the multiply-adds (×2) of the matrix products of a first-order MLP
// request on n rows: the forward pass, the backward pass to ∇ₓE, and the weight gradients.
func mlpRequestFlops(d int, hidden []int, n int) float64 {
	sizes := append(append([]int{d}, hidden...), 1)
	f := 0.0
	for l := 1; l < len(sizes); l++ {
		in, out := float64(sizes[l-1]), float64(sizes[l])
		f += 2 * float64(n) * in * out // forward z_l = h_{l−1} W_lᵀ
		f += 2 * float64(n) * in * out // weight gradient g_lᵀ h_{l−1}
		if l < len(sizes)-1 {
			f += 2 * float64(n) * in * out // backward g_l W_l (to ∇ₓE at l = 1)
		}
	}
	return f
}

// kernelRate runs energy.Gemm on an m×k·k×n product on p goroutines at once, each with its
// own operands, and returns the total GFLOP/s.
func kernelRate(m, k, n, p int) float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	mk := func(r, c int) blas64.General {
		g := blas64.General{Rows: r, Cols: c, Stride: c, Data: make([]float64, r*c)}
		for i := range g.Data {
			g.Data[i] = rng.NormFloat64()
		}
		return g
	}
	type ops struct{ a, b, c blas64.General }
	work := make([]ops, p)
	for i := range work {
		work[i] = ops{mk(m, k), mk(k, n), mk(m, n)}
	}
	reps := max(1, int(4e8/(2*float64(m*n*k))))
	var wg sync.WaitGroup
	best := 0.0
	for trial := 0; trial < 3; trial++ {
		t0 := time.Now()
		for i := range work {
			wg.Add(1)
			go func(o ops) {
				defer wg.Done()
				for range reps {
					energy.Gemm(blas.NoTrans, blas.NoTrans, 1, o.a, o.b, 0, o.c)
				}
			}(work[i])
		}
		wg.Wait()
		best = max(best, 2*float64(m*n*k)*float64(reps*p)/time.Since(t0).Seconds()/1e9)
	}
	return best
}

// gonumRate returns the GFLOP/s of gonum's Dgemm (blas64.Gemm, parallel) at n×n×n, best of 3.
func gonumRate(n int) float64 {
	rng := rand.New(rand.NewPCG(3, 4))
	mk := func() blas64.General {
		g := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
		for i := range g.Data {
			g.Data[i] = rng.NormFloat64()
		}
		return g
	}
	a, b, c := mk(), mk(), mk()
	best := 0.0
	for trial := 0; trial < 3; trial++ {
		t0 := time.Now()
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, a, b, 0, c)
		best = max(best, 2*float64(n)*float64(n)*float64(n)/time.Since(t0).Seconds()/1e9)
	}
	return best
}
