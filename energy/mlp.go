package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/goebm/goebm/framework"
)

// MLP is the energy E(x) = z_L, the scalar output of a multilayer perceptron
//
//	h₀ = x,  z_l = W_l h_{l−1} + b_l,  h_l = σ(z_l)  (l = 1 … L−1),  z_L = W_L h_{L−1} + b_L,
//
// with widths d → hidden[0] → … → hidden[k−1] → 1 (L = k+1) and a smooth activation σ
// (softplus, tanh or swish). Blocks "W1", "b1", …, "W{L}", "b{L}" use PyTorch's nn.Linear
// layout, y = x Wᵀ + b with W_l of shape out×in, so torch weights map directly
// (LoadTorchMLP). InitParams draws every W_l and b_l from U(−1/√in, 1/√in), torch's default.
//
// Every output is exact. First order is backpropagation; the second-order outputs differentiate
// it once more in closed form: the mixed product and the Hessian-vector product by a forward
// tangent along u (or v) and its reverse sweep, the Laplacian by forward-mode (Taylor)
// propagation of the d input directions through the forward pass itself (each layer carries
// its value, its Jacobian with respect to x and its Laplacian, stacked into one product), and
// the Laplacian's θ-gradient by one reverse sweep of that (mlp_second.go). All batch work is
// matrix products over the rows (and over rows × d for the Jacobians): a first-order request
// costs 3 products of the size of a hidden layer's forward pass (forward, backward, weight
// gradient), an exact score-matching request (∇ₓE, mixed with MixedSelf, Laplacian and its
// θ-gradient) 3d + 9 (15 for d = 2; the FLOP count is at taylor); the rest is the activation,
// one exp and one log per unit for softplus.
type MLP struct {
	d     int
	sizes []int // widths s₀ = d, s₁, …, s_L = 1
	act   activation
	offW  []int // offW[l], offB[l]: offsets of W_l and b_l in θ (index 0 unused)
	offB  []int
	p     int
	init  []float64 // θ from a file, written by InitParams instead of a random draw
	pool  sync.Pool
}

// NewMLP returns the MLP energy on ℝ^d with the given hidden widths and activation
// ("softplus", "tanh" or "swish").
func NewMLP(d int, hidden []int, act string) (*MLP, error) {
	if d < 1 {
		return nil, fmt.Errorf("mlp: dimension %d < 1", d)
	}
	if len(hidden) == 0 {
		return nil, fmt.Errorf("mlp: no hidden layer")
	}
	for i, h := range hidden {
		if h < 1 {
			return nil, fmt.Errorf("mlp: hidden layer %d has width %d < 1", i+1, h)
		}
	}
	a, err := parseActivation(act)
	if err != nil {
		return nil, fmt.Errorf("mlp: %w", err)
	}
	m := &MLP{d: d, act: a}
	m.sizes = append(append([]int{d}, hidden...), 1)
	L := len(m.sizes) - 1
	m.offW, m.offB = make([]int, L+1), make([]int, L+1)
	for l := 1; l <= L; l++ {
		m.offW[l] = m.p
		m.p += m.sizes[l] * m.sizes[l-1]
		m.offB[l] = m.p
		m.p += m.sizes[l]
	}
	m.pool.New = func() any { return new(mlpWork) }
	return m, nil
}

// Spec describes the energy.
func (m *MLP) Spec() framework.Spec {
	L := len(m.sizes) - 1
	blocks := make([]framework.Block, 0, 2*L)
	for l := 1; l <= L; l++ {
		blocks = append(blocks,
			framework.Block{Name: "W" + strconv.Itoa(l), Shape: []int{m.sizes[l], m.sizes[l-1]}},
			framework.Block{Name: "b" + strconv.Itoa(l), Shape: []int{m.sizes[l]}})
	}
	return framework.Spec{
		Name: "mlp", Dim: m.d, Domain: framework.Continuous, Blocks: blocks,
		Caps: framework.CapMixed | framework.CapMixedSelf | framework.CapLaplacian | framework.CapHVP,
	}
}

// InitParams writes torch's default nn.Linear initialisation into dst: W_l and b_l uniform
// on (−1/√in, 1/√in), drawn layer by layer, W before b. If the energy was given initial
// parameters (SetInit), it writes those instead.
func (m *MLP) InitParams(dst []float64, rng *rand.Rand) error {
	if m.init != nil {
		copy(dst, m.init)
		return nil
	}
	for l := 1; l < len(m.sizes); l++ {
		bound := 1 / math.Sqrt(float64(m.sizes[l-1]))
		for i := m.offW[l]; i < m.offB[l]+m.sizes[l]; i++ {
			dst[i] = bound * (float64(2*rng.Float64()) - 1)
		}
	}
	return nil
}

// SetInit makes InitParams write θ (length Spec().NumParams()) instead of a random draw.
func (m *MLP) SetInit(theta []float64) error {
	if len(theta) != m.p {
		return fmt.Errorf("mlp: initial θ has %d parameters, want %d", len(theta), m.p)
	}
	m.init = slices.Clone(theta)
	return nil
}

// mlpLayer holds the per-call buffers of one layer l (widths in → out), n rows each unless
// noted; "stacked" buffers have n·d rows, row i·d+k for the derivative along xₖ of row i.
type mlpLayer struct {
	in, out int
	W       blas64.General // W_l, a view of θ
	b       []float64

	z, h, d1, d2, d3 []float64 // z_l, σ(z_l), σ′, σ″, σ‴
	g, gh, gw        []float64 // ∂E/∂z_l, ∂E/∂h_l, weighted ∂E/∂z_l
	zt, ht           []float64 // forward tangent ż_l, ḣ_l along u (or v)
	zbar, hbar       []float64 // reverse of the tangent: ∂(uᵀ∇ₓE)/∂z_l, ∂/∂h_l

	// The Taylor terms (mlp_second.go), stacked (d+2)·n rows deep: z_l, then row i·d+k of
	// J_l = ∂z_l/∂x for point i and direction k, then S_l = Δₓz_l (zs); h_l, Jh_l, Δh_l (hs).
	zs, hs []float64
	q      []float64 // Σₖ(J_l)²_{·k}, n×out (for l = 1, out)
	s      []float64 // S_L, the Laplacian (top layer)
	adj    []float64 // the Laplacian's adjoints [z̄; J̄; S̄], stacked as zs
	back   []float64 // [h̄; Jh̄] from the layer above, stacked as the first (d+1)·n rows of hs
}

type mlpWork struct {
	layers []mlpLayer
	taylor bool      // the layers hold the Taylor terms of this request (taylor)
	gx     []float64 // ∇ₓE when the request does not ask for it, n×d
	u      []float64 // mixed directions uᵢ, n×d
	ones   []float64 // n ones, the weights when the request gives none
}

func (ws *mlpWork) setup(m *MLP, theta []float64) {
	L := len(m.sizes) - 1
	if len(ws.layers) != L+1 {
		ws.layers = make([]mlpLayer, L+1)
	}
	for l := 1; l <= L; l++ {
		ly := &ws.layers[l]
		ly.in, ly.out = m.sizes[l-1], m.sizes[l]
		ly.W = general(ly.out, ly.in, theta[m.offW[l]:])
		ly.b = theta[m.offB[l] : m.offB[l]+ly.out]
	}
}

// mlpNeeds lists what a request needs computed.
type mlpNeeds struct {
	d1, d2, d3 bool // activation derivatives
	back       bool // first-order backward pass (∂E/∂z_l)
	lap        bool // Laplacian forward pass
}

func needsOf(o framework.Output) mlpNeeds {
	second := o&(framework.OutMixed|framework.OutLaplacian|framework.OutLaplacianVJP|framework.OutHVP) != 0
	return mlpNeeds{
		d1:   o != framework.OutEnergy,
		d2:   second,
		d3:   o.Has(framework.OutLaplacianVJP),
		back: o&(framework.OutGradX|framework.OutParamVJP|framework.OutMixed|framework.OutHVP|framework.OutLaplacianVJP) != 0,
		lap:  o&(framework.OutLaplacian|framework.OutLaplacianVJP) != 0,
	}
}

// Evaluate computes the requested outputs; see the type's documentation for the method.
func (m *MLP) Evaluate(req *framework.Request, res *framework.Result) error {
	n, err := checkRequest("mlp", req, res, m.d, m.p)
	if err != nil || n == 0 {
		return err
	}
	ws := m.pool.Get().(*mlpWork)
	defer m.pool.Put(ws)
	ws.setup(m, req.Theta)
	o := req.Outputs
	nd := needsOf(o)
	ws.taylor = false
	if nd.lap {
		m.taylor(ws, req, n, nd)
	} else {
		m.forward(ws, req, n, nd)
	}
	L := len(m.sizes) - 1
	if o.Has(framework.OutEnergy) {
		copy(res.Energy, ws.layers[L].z[:n])
	}
	if nd.back {
		m.backward(ws, n, nd.d2)
	}
	var gx blas64.General
	if o.Has(framework.OutGradX) || (o.Has(framework.OutMixed) && req.MixedSelf != 0) {
		if o.Has(framework.OutGradX) {
			gx = rawOf(res.GradX)
		} else {
			ws.gx = numeric.Resize(ws.gx, n*m.d)
			gx = general(n, m.d, ws.gx)
		}
		ly := &ws.layers[1]
		gemm(blas.NoTrans, blas.NoTrans, 1, general(n, ly.out, ly.g), ly.W, 0, gx)
	}
	if o.Has(framework.OutParamVJP) {
		m.paramVJP(ws, req, n, res.ParamVJP)
	}
	if o.Has(framework.OutMixed) {
		m.mixed(ws, req, n, gx, res.Mixed)
	}
	if o.Has(framework.OutHVP) {
		m.hvp(ws, req, n, rawOf(res.HVP))
	}
	if nd.lap {
		if o.Has(framework.OutLaplacian) {
			copy(res.Laplacian, ws.layers[L].s[:n])
		}
		if o.Has(framework.OutLaplacianVJP) {
			m.laplacianVJP(ws, req, n, res.LaplacianVJP)
		}
	}
	return nil
}

// forward computes z_l = h_{l−1}W_lᵀ + b_l and σ(z_l) with the derivatives nd asks for. The
// top hidden layer's σ(z_{L−1}) and the output z_L are computed only when E or Σᵢwᵢ∇θE is
// asked for: ∇ₓE and the second-order outputs need the activation's derivatives there, not
// its value.
func (m *MLP) forward(ws *mlpWork, req *framework.Request, n int, nd mlpNeeds) {
	L := len(m.sizes) - 1
	prev := rawOf(req.X)
	top := req.Outputs&(framework.OutEnergy|framework.OutParamVJP) != 0
	for l := 1; l <= L; l++ {
		ly := &ws.layers[l]
		if l == L && !top {
			break
		}
		ly.z = numeric.Resize(ly.z, n*ly.out)
		for i := 0; i < n; i++ {
			copy(ly.z[i*ly.out:(i+1)*ly.out], ly.b)
		}
		Z := general(n, ly.out, ly.z)
		gemm(blas.NoTrans, blas.Trans, 1, prev, ly.W, 1, Z)
		if l == L {
			break
		}
		k := n * ly.out
		var h []float64
		if l < L-1 || top {
			ly.h = numeric.Resize(ly.h, k)
			h = ly.h
		}
		var d1, d2, d3 []float64
		if nd.d1 {
			ly.d1 = numeric.Resize(ly.d1, k)
			d1 = ly.d1
		}
		if nd.d2 {
			ly.d2 = numeric.Resize(ly.d2, k)
			d2 = ly.d2
		}
		if nd.d3 {
			ly.d3 = numeric.Resize(ly.d3, k)
			d3 = ly.d3
		}
		m.act.eval(ly.z, h, d1, d2, d3)
		if h != nil {
			prev = general(n, ly.out, h)
		}
	}
}

// backward computes g_l = ∂E/∂z_l and gh_l = ∂E/∂h_l for the hidden layers:
// gh_{L−1} = W_L, g_l = gh_l ∘ σ′(z_l), gh_{l−1} = g_l W_l. The rows of gh_{L−1}, all equal to
// W_L, are written out only when the second-order outputs (withGH) need them.
func (m *MLP) backward(ws *mlpWork, n int, withGH bool) {
	L := len(m.sizes) - 1
	top := &ws.layers[L]
	for l := L - 1; l >= 1; l-- {
		ly := &ws.layers[l]
		k := n * ly.out
		ly.gh = numeric.Resize(ly.gh, k)
		ly.g = numeric.Resize(ly.g, k)
		if l == L-1 && !withGH {
			wl, s := top.W.Data[:ly.out], ly.out
			for i := 0; i < n; i++ {
				g, d1 := ly.g[i*s:(i+1)*s], ly.d1[i*s:(i+1)*s]
				for a, v := range wl {
					g[a] = v * d1[a]
				}
			}
			continue
		}
		if l == L-1 {
			for i := 0; i < n; i++ {
				copy(ly.gh[i*ly.out:(i+1)*ly.out], top.W.Data[:ly.out])
			}
		} else {
			up := &ws.layers[l+1]
			gemm(blas.NoTrans, blas.NoTrans, 1, general(n, up.out, up.g), up.W, 0, general(n, ly.out, ly.gh))
		}
		gh, g, d1 := ly.gh[:k], ly.g[:k], ly.d1[:k] // locals: no reloads, no bounds checks
		for i, v := range gh {
			g[i] = v * d1[i]
		}
	}
}

// input returns h_{l−1} as a matrix: X for l = 1.
func (ws *mlpWork) input(req *framework.Request, l, n int) blas64.General {
	if l == 1 {
		return rawOf(req.X)
	}
	p := &ws.layers[l-1]
	return general(n, p.out, p.h)
}

// paramVJP adds Σᵢ wᵢ∇θE(xᵢ): ∇W_l = Σᵢ wᵢ g_{l,i} h_{l−1,i}ᵀ, ∇b_l = Σᵢ wᵢ g_{l,i},
// with g_L = 1.
func (m *MLP) paramVJP(ws *mlpWork, req *framework.Request, n int, dst []float64) {
	L := len(m.sizes) - 1
	w := req.Weights
	if w == nil {
		ws.ones = numeric.Resize(ws.ones, n)
		for i := range ws.ones {
			ws.ones[i] = 1
		}
		w = ws.ones
	}
	for l := L; l >= 1; l-- {
		ly := &ws.layers[l]
		var gw []float64
		if l == L {
			gw = w
		} else if req.Weights == nil {
			gw = ly.g
		} else {
			ly.gw = numeric.Resize(ly.gw, n*ly.out)
			for i := 0; i < n; i++ {
				wi := w[i]
				src, d := ly.g[i*ly.out:(i+1)*ly.out], ly.gw[i*ly.out:(i+1)*ly.out]
				for a, v := range src {
					d[a] = wi * v
				}
			}
			gw = ly.gw
		}
		dW := general(ly.out, ly.in, dst[m.offW[l]:])
		gemm(blas.Trans, blas.NoTrans, 1, general(n, ly.out, gw), ws.input(req, l, n), 1, dW)
		colSum(dst[m.offB[l]:m.offB[l]+ly.out], gw, n)
	}
}

// colSum adds the column sums of the n×len(dst) matrix a to dst.
func colSum(dst, a []float64, n int) {
	c := len(dst)
	for i := 0; i < n; i++ {
		for j, v := range a[i*c : (i+1)*c] {
			dst[j] += v
		}
	}
}
