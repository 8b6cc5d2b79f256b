package energy

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/goebm/goebm/framework"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

var updateBits = flag.Bool("update-bits", false, "rewrite testdata/bits.golden from this machine's results")

// bitsGolden is the file of TestBitsGolden: one line per energy, batch size, request and
// output, with the SHA-256 of the output's float64 bits.
const bitsGolden = "testdata/bits.golden"

// TestBitsGolden evaluates every built-in energy (every activation of the MLP, the plane and
// general paths of the mixture, the RBM's block Gibbs sweep) on fixed inputs, for batch sizes
// that fill the kernels' tiles and leave ragged edges, and compares the bits of every output
// with testdata/bits.golden. The file was written on amd64 with AVX2/FMA; the same file must
// match with and without the assembly (this test runs both where the CPU has AVX2), with
// -tags purego, with GOARCH=386, with GOAMD64=v3 (where the compiler fuses x*y + z) and on
// arm64 (make test-purego runs these). The inputs are built from exactly representable
// numbers and single IEEE operations, so that they are the same on every machine too.
//
// When an intended change of the arithmetic changes the bits, rewrite the file with
//
//	go test ./energy -run TestBitsGolden -update-bits
//
// on an amd64 machine with AVX2 and say why in the commit.
func TestBitsGolden(t *testing.T) {
	got := bitsSuite(t)
	if haveFMA {
		haveFMA = false
		twin := bitsSuite(t)
		haveFMA = true
		require.Equal(t, got, twin, "the Go twins differ from the assembly")
	}
	if *updateBits {
		if runtime.GOARCH != "amd64" {
			t.Fatalf("rewrite %s on amd64, not %s", bitsGolden, runtime.GOARCH)
		}
		var b strings.Builder
		b.WriteString("# SHA-256 of the float64 bits of each output of TestBitsGolden (energy/bits_test.go).\n")
		for _, l := range got {
			b.WriteString(l + "\n")
		}
		require.NoError(t, os.WriteFile(bitsGolden, []byte(b.String()), 0o644))
		return
	}
	f, err := os.Open(bitsGolden)
	require.NoError(t, err)
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	require.NoError(t, sc.Err())
	wantSet := map[string]string{}
	for _, l := range want {
		k, h, _ := strings.Cut(l, " ")
		wantSet[k] = h
	}
	var bad []string
	for _, l := range got {
		k, h, _ := strings.Cut(l, " ")
		if wantSet[k] != h {
			bad = append(bad, k)
		}
		delete(wantSet, k)
	}
	for k := range wantSet {
		bad = append(bad, k+" (missing)")
	}
	slices.Sort(bad)
	if len(bad) > 0 {
		t.Errorf("%d of %d outputs differ from %s on %s/%s (haveFMA %v):\n  %s", len(bad), len(got), bitsGolden,
			runtime.GOOS, runtime.GOARCH, haveFMA, strings.Join(bad, "\n  "))
	}
}

// bitsCase is one energy of the suite with the batch sizes it is evaluated at.
type bitsCase struct {
	name string
	e    framework.Energy
	lo   float64 // the points are lo + (hi − lo)·k/64, k = 0…64 (binary: lo or hi)
	hi   float64
	bin  bool
	ns   []int
}

// dyadic returns a random multiple of 1/64 in [−1, 1]: exact, so the same everywhere.
func dyadic(rng *rand.Rand) float64 { return float64(rng.IntN(129)-64) / 64 }

func bitsSuite(t *testing.T) []string {
	t.Helper()
	must := func(e framework.Energy, err error) framework.Energy {
		t.Helper()
		require.NoError(t, err)
		return e
	}
	mlp := func(d int, hidden []int, act string) framework.Energy {
		m, err := NewMLP(d, hidden, act)
		return must(m, err)
	}
	cases := []bitsCase{
		{"gaussian", must(NewGaussian(5, false)), -2, 2, false, []int{1, 13}},
		{"gaussian-diag", must(NewGaussian(3, true)), -2, 2, false, []int{7}},
		{"mlp-softplus-ring8", mlp(2, []int{64, 64}, "softplus"), -3, 3, false, []int{1, 7, 67}},
		{"mlp-softplus-deep", mlp(3, []int{13, 9, 17}, "softplus"), -2, 2, false, []int{5, 26}},
		{"mlp-tanh", mlp(4, []int{10, 8}, "tanh"), -2, 2, false, []int{9}},
		{"mlp-swish", mlp(2, []int{12, 6}, "swish"), -3, 3, false, []int{11}},
		{"ising", must(NewIsing(6, true)), -1, 1, true, []int{9}},
		{"ising-bits", must(NewIsing(5, false)), 0, 1, true, []int{6}},
		{"rbm", must(NewRBM(10, 7)), 0, 1, true, []int{1, 17}},
		{"gmm-plane", Ring8(), -3, 3, false, []int{1, 6, 45}},
		{"gmm-3d", must(NewGMM(3, 4)), -3, 3, false, []int{10}},
	}
	requests := []struct {
		name string
		o    framework.Output
	}{
		{"all", 0}, // every output the energy computes exactly
		{"e+grad", framework.OutEnergy | framework.OutGradX},
		{"grad", framework.OutGradX},
	}
	var lines []string
	for ci, c := range cases {
		spec := c.e.Spec()
		d, p := spec.Dim, spec.NumParams()
		rng := rand.New(rand.NewPCG(uint64(ci), 17))
		theta := make([]float64, p)
		for i := range theta {
			theta[i] = dyadic(rng) / 2
		}
		if c.name == "gmm-plane" {
			copy(theta, Ring8Params())
		}
		for _, n := range c.ns {
			x, u, v := mat.NewDense(n, d, nil), mat.NewDense(n, d, nil), mat.NewDense(n, d, nil)
			w, lw := make([]float64, n), make([]float64, n)
			for i := 0; i < n; i++ {
				for j := 0; j < d; j++ {
					k := float64(rng.IntN(65))
					if c.bin {
						k = float64(64 * rng.IntN(2))
					}
					x.Set(i, j, c.lo+(c.hi-c.lo)*k/64) // small dyadic numbers: exact
					u.Set(i, j, dyadic(rng))
					v.Set(i, j, dyadic(rng))
				}
				w[i], lw[i] = dyadic(rng), dyadic(rng)
			}
			for _, rq := range requests {
				o := rq.o
				if o == 0 {
					o = spec.Caps.Exact()
				}
				req := framework.Request{Outputs: o, X: x, Theta: theta, Weights: w, U: u, LapWeights: lw, V: v}
				var res framework.Result
				res.Reset(o, n, d, p)
				require.NoError(t, c.e.Evaluate(&req, &res), c.name)
				key := fmt.Sprintf("%s/n=%d/%s", c.name, n, rq.name)
				for _, out := range []struct {
					o    framework.Output
					name string
					v    []float64
				}{
					{framework.OutEnergy, "energy", res.Energy},
					{framework.OutGradX, "grad_x", rawData(res.GradX)},
					{framework.OutParamVJP, "param_vjp", res.ParamVJP},
					{framework.OutMixed, "mixed", res.Mixed},
					{framework.OutLaplacian, "laplacian", res.Laplacian},
					{framework.OutLaplacianVJP, "laplacian_vjp", res.LaplacianVJP},
					{framework.OutHVP, "hvp", rawData(res.HVP)},
					{framework.OutParamJac, "param_jac", rawData(res.ParamJac)},
				} {
					if o.Has(out.o) {
						lines = append(lines, key+"/"+out.name+" "+hashBits(out.v))
					}
				}
			}
			if bg, ok := c.e.(framework.BlockGibbser); ok {
				rngs := make([]*rand.Rand, n)
				for i := range rngs {
					rngs[i] = rand.New(rand.NewPCG(uint64(i), 3))
				}
				xs := mat.DenseCopyOf(x)
				for range 3 {
					require.NoError(t, bg.BlockGibbs(theta, xs, rngs))
				}
				lines = append(lines, fmt.Sprintf("%s/n=%d/block_gibbs %s", c.name, n, hashBits(rawData(xs))))
			}
		}
	}
	return lines
}

// rawData returns the entries of m row by row (nil for nil).
func rawData(m *mat.Dense) []float64 {
	if m == nil {
		return nil
	}
	r, c := m.Dims()
	out := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		out = append(out, m.RawRowView(i)...)
	}
	return out
}

// hashBits returns the first half of the SHA-256 of the little-endian bits of v, in hex
// (every NaN hashed as one).
func hashBits(v []float64) string {
	h := sha256.New()
	var b [8]byte
	for _, x := range v {
		bits := math.Float64bits(x)
		if x != x {
			bits = 0x7ff8000000000001 // NaN payloads differ between architectures
		}
		binary.LittleEndian.PutUint64(b[:], bits)
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
