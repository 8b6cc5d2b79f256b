package framework

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Domain is the set an energy's points live in.
type Domain int

const (
	// Continuous is ℝ^d.
	Continuous Domain = iota
	// Binary is {0,1}^d.
	Binary
	// Spin is {−1,+1}^d.
	Spin
)

// String returns the TOML name of the domain.
func (d Domain) String() string {
	switch d {
	case Continuous:
		return "continuous"
	case Binary:
		return "binary"
	case Spin:
		return "spin"
	}
	return fmt.Sprintf("Domain(%d)", int(d))
}

// Discrete reports whether the domain is a finite set of points.
func (d Domain) Discrete() bool { return d == Binary || d == Spin }

// State writes state number k of a discrete domain into dst (length d ≤ 64): coordinate i
// takes the high value (1, or +1 for spins) when bit i of k is set and the low value (0, or
// −1) otherwise. This is the order of examples/data/PROVENANCE.md (bit 0 is coordinate 1),
// the order in which exact computations enumerate the 2^d states.
func (d Domain) State(dst []float64, k uint64) {
	lo := 0.0
	if d == Spin {
		lo = -1
	}
	for i := range dst {
		if k>>uint(i)&1 == 1 {
			dst[i] = 1
		} else {
			dst[i] = lo
		}
	}
}

// Block is one named block of the flat parameter vector θ. Blocks are laid out in θ in the
// order the spec lists them, each row-major.
type Block struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// Size returns the number of parameters in the block.
func (b Block) Size() int {
	n := 1
	for _, s := range b.Shape {
		n *= s
	}
	return n
}

// Capability is a bit set of the optional outputs an energy computes exactly, and of
// structural facts about it that estimators may exploit.
type Capability uint32

const (
	// CapMixed: the energy computes the mixed product ∇θ Σᵢ uᵢᵀ∇ₓE(xᵢ) exactly.
	CapMixed Capability = 1 << iota
	// CapLaplacian: the energy computes Δₓ E(xᵢ) and Σᵢ vᵢ ∇θ ΔₓE(xᵢ) exactly.
	CapLaplacian
	// CapHVP: the energy computes Hessian-vector products ∇²ₓE(xᵢ) vᵢ exactly.
	CapHVP
	// CapLinear: E(x; θ) = θᵀT(x) + c(x). The energy then also implements LinearEnergy.
	CapLinear
	// CapBlockGibbs: the energy implements BlockGibbser (exact conditional sampling of
	// all visible units at once, as an RBM does through its hidden units).
	CapBlockGibbs
	// CapMixedSelf: the energy forms the mixed product's direction uᵢ = Uᵢ + MixedSelf·∇ₓE(xᵢ)
	// itself, in the same pass as ∇ₓE (score matching's fusion: one pass instead of two).
	// Without it an energy is never asked for OutMixed with MixedSelf ≠ 0: EvaluateChunk
	// asks for ∇ₓE first and then for the mixed product along the formed direction.
	CapMixedSelf
	// CapParamJac: the energy computes the per-row θ-gradients ∇θE(xᵢ) exactly (OutParamJac).
	CapParamJac
)

var capNames = []struct {
	c    Capability
	name string
}{
	{CapMixed, "mixed"}, {CapLaplacian, "laplacian"}, {CapHVP, "hvp"},
	{CapLinear, "linear"}, {CapBlockGibbs, "block-gibbs"}, {CapMixedSelf, "mixed-self"},
	{CapParamJac, "param-jac"},
}

// Has reports whether every capability in c2 is in c.
func (c Capability) Has(c2 Capability) bool { return c&c2 == c2 }

// String lists the capabilities by name, comma separated.
func (c Capability) String() string {
	var s []string
	for _, n := range capNames {
		if c.Has(n.c) {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ",")
}

// Spec describes an energy: what it is called, where its points live, how θ is laid out and
// what it can compute exactly.
type Spec struct {
	Name   string
	Dim    int
	Domain Domain
	Blocks []Block
	Caps   Capability
}

// NumParams returns len(θ): the sum of the block sizes.
func (s Spec) NumParams() int {
	n := 0
	for _, b := range s.Blocks {
		n += b.Size()
	}
	return n
}

// BlockOffset returns the offset in θ of the named block and its size, or ok=false.
func (s Spec) BlockOffset(name string) (off, size int, ok bool) {
	for _, b := range s.Blocks {
		if b.Name == name {
			return off, b.Size(), true
		}
		off += b.Size()
	}
	return 0, 0, false
}

// Output is a bit set of the quantities one Request asks for. Asking for several at once is
// what keeps a training step to one pass over the batch (and one round trip to a plugin).
type Output uint32

const (
	// OutEnergy: E(xᵢ) for each row, into Result.Energy (length n).
	OutEnergy Output = 1 << iota
	// OutGradX: ∇ₓE(xᵢ) for each row, into Result.GradX (n×d).
	OutGradX
	// OutParamVJP: Σᵢ wᵢ ∇θE(xᵢ), w = Request.Weights, into Result.ParamVJP (length p).
	OutParamVJP
	// OutMixed: ∇θ Σᵢ uᵢᵀ∇ₓE(xᵢ) with uᵢ = Request.U row i + Request.MixedSelf·∇ₓE(xᵢ),
	// u held fixed (not differentiated), into Result.Mixed (length p). Energies without
	// CapMixedSelf are only asked for it with MixedSelf = 0.
	OutMixed
	// OutLaplacian: Δₓ E(xᵢ) = tr ∇²ₓE(xᵢ) for each row, into Result.Laplacian (length n).
	OutLaplacian
	// OutLaplacianVJP: Σᵢ vᵢ ∇θ ΔₓE(xᵢ), v = Request.LapWeights, into Result.LaplacianVJP.
	OutLaplacianVJP
	// OutHVP: ∇²ₓE(xᵢ) vᵢ with vᵢ = Request.V row i, into Result.HVP (n×d).
	OutHVP
	// OutParamJac: the θ-gradient ∇θE(xᵢ) of each row, unweighted, into Result.ParamJac (n×p):
	// the rows whose weighted sum OutParamVJP returns. Standard errors need them one by one
	// (the covariance of per-observation gradients); energies without CapParamJac get them
	// from the Evaluator by central differences of E in θ (2p energy passes).
	OutParamJac

	// FirstOrder are the outputs every energy must compute itself.
	FirstOrder = OutEnergy | OutGradX | OutParamVJP
	// allOutputs is every output defined above.
	allOutputs = OutEnergy | OutGradX | OutParamVJP | OutMixed | OutLaplacian | OutLaplacianVJP | OutHVP | OutParamJac
)

var outNames = []struct {
	o    Output
	name string
}{
	{OutEnergy, "energy"}, {OutGradX, "grad_x"}, {OutParamVJP, "param_vjp"},
	{OutMixed, "mixed"}, {OutLaplacian, "laplacian"}, {OutLaplacianVJP, "laplacian_vjp"},
	{OutHVP, "hvp"}, {OutParamJac, "param_jac"},
}

// Has reports whether every output in o2 is in o.
func (o Output) Has(o2 Output) bool { return o&o2 == o2 }

// String lists the outputs by name, comma separated.
func (o Output) String() string {
	var s []string
	for _, n := range outNames {
		if o.Has(n.o) {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ",")
}

// Exact returns the optional outputs that an energy with capabilities c computes itself.
func (c Capability) Exact() Output {
	o := FirstOrder
	if c.Has(CapMixed) {
		o |= OutMixed
	}
	if c.Has(CapLaplacian) {
		o |= OutLaplacian | OutLaplacianVJP
	}
	if c.Has(CapHVP) {
		o |= OutHVP
	}
	if c.Has(CapParamJac) {
		o |= OutParamJac
	}
	return o
}

// Request asks an energy for several outputs on one batch at one θ. Inputs that an output
// does not need may be nil. A nil weight slice means every weight is 1.
type Request struct {
	Outputs Output
	X       *mat.Dense // n×d points
	Theta   []float64  // parameters, length Spec.NumParams()

	Weights    []float64  // length n, for OutParamVJP; nil means all ones
	U          *mat.Dense // n×d, for OutMixed; nil means zero
	MixedSelf  float64    // for OutMixed: uᵢ += MixedSelf·∇ₓE(xᵢ)
	LapWeights []float64  // length n, for OutLaplacianVJP; nil means all ones
	V          *mat.Dense // n×d, for OutHVP
}

// Validate checks that r is a well-formed request for an energy with the given spec: it has
// points of the energy's dimension, a θ of the spec's length, asks for known outputs only,
// and every input an output needs has the right shape. It returns a *ShapeError for a
// mis-shaped input (see below). The Evaluator, the plugin host and the plugin SDK all check requests
// with it, so that a request is valid or not in the same way wherever it is served. Every
// error it returns wraps ErrInvalidRequest, and a *ShapeError where an input has the wrong
// shape.
func (r *Request) Validate(spec Spec) error {
	if r.X == nil {
		return fmt.Errorf("%w: no points (X is nil)", ErrInvalidRequest)
	}
	if bad := r.Outputs &^ allOutputs; bad != 0 || r.Outputs == 0 {
		return fmt.Errorf("%w: asks for no known output (outputs %#x)", ErrInvalidRequest, uint32(r.Outputs))
	}
	n, d := r.X.Dims()
	if d != spec.Dim {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, &ShapeError{What: "X", Want: fmt.Sprintf("n×%d", spec.Dim), Got: fmt.Sprintf("%d×%d", n, d)})
	}
	if len(r.Theta) != spec.NumParams() {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, &ShapeError{What: "θ", Want: fmt.Sprint(spec.NumParams()), Got: fmt.Sprint(len(r.Theta))})
	}
	vec := func(name string, s []float64) error {
		if s != nil && len(s) != n {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, &ShapeError{What: name, Want: fmt.Sprint(n), Got: fmt.Sprint(len(s))})
		}
		return nil
	}
	matrix := func(name string, m *mat.Dense, required bool) error {
		if m == nil {
			if required {
				return fmt.Errorf("%w: %s needs %s", ErrInvalidRequest, r.Outputs, name)
			}
			return nil
		}
		if rows, cols := m.Dims(); rows != n || cols != d {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, &ShapeError{What: name, Want: fmt.Sprintf("%d×%d", n, d), Got: fmt.Sprintf("%d×%d", rows, cols)})
		}
		return nil
	}
	if err := vec("Weights", r.Weights); err != nil {
		return err
	}
	if err := vec("LapWeights", r.LapWeights); err != nil {
		return err
	}
	if err := matrix("U", r.U, false); err != nil {
		return err
	}
	return matrix("V", r.V, r.Outputs.Has(OutHVP))
}

// Rows returns the number of points in the request.
func (r *Request) Rows() int {
	if r.X == nil {
		return 0
	}
	n, _ := r.X.Dims()
	return n
}

// Result holds the outputs of a Request. Its buffers are reused across calls: Reset sizes
// them for a request, reallocating only when they are too small, so a hot loop that keeps
// one Result allocates nothing. Outputs that were not requested are left as they are.
type Result struct {
	Energy       []float64
	GradX        *mat.Dense
	ParamVJP     []float64
	Mixed        []float64
	Laplacian    []float64
	LaplacianVJP []float64
	HVP          *mat.Dense
	ParamJac     *mat.Dense
}

// Reset sizes the buffers of the outputs in o for n rows of dimension d and p parameters,
// and zeroes the θ-sized ones (which energies accumulate into).
func (r *Result) Reset(o Output, n, d, p int) {
	if o.Has(OutEnergy) {
		r.Energy = resize(r.Energy, n)
	}
	if o.Has(OutGradX) {
		r.GradX = resizeDense(r.GradX, n, d)
	}
	if o.Has(OutParamVJP) {
		r.ParamVJP = zero(resize(r.ParamVJP, p))
	}
	if o.Has(OutMixed) {
		r.Mixed = zero(resize(r.Mixed, p))
	}
	if o.Has(OutLaplacian) {
		r.Laplacian = resize(r.Laplacian, n)
	}
	if o.Has(OutLaplacianVJP) {
		r.LaplacianVJP = zero(resize(r.LaplacianVJP, p))
	}
	if o.Has(OutHVP) {
		r.HVP = resizeDense(r.HVP, n, d)
	}
	if o.Has(OutParamJac) {
		r.ParamJac = resizeDense(r.ParamJac, n, p)
	}
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

func zero(s []float64) []float64 {
	for i := range s {
		s[i] = 0
	}
	return s
}

// resizeDense returns an n×d matrix that reuses m's storage when it is large enough.
func resizeDense(m *mat.Dense, n, d int) *mat.Dense {
	if n == 0 || d == 0 {
		return &mat.Dense{}
	}
	if m != nil {
		if r, c := m.Dims(); r == n && c == d {
			return m
		}
		raw := m.RawMatrix().Data
		if cap(raw) >= n*d {
			return mat.NewDense(n, d, raw[:n*d])
		}
	}
	return mat.NewDense(n, d, nil)
}

// Energy is the contract every model satisfies, built in or served by a plugin.
//
// Evaluate computes the outputs of req into res (sized with res.Reset by the caller) for
// every row of req.X. It is asked only for outputs in Spec().Caps.Exact(); the Evaluator
// derives the others. Unless the energy has CapMixedSelf, req.MixedSelf is zero. Evaluate must be safe for concurrent use by several goroutines on
// different requests, and deterministic: the same request gives the same bits.
type Energy interface {
	Spec() Spec
	// InitParams writes an initial θ into dst (length Spec().NumParams()) using rng.
	InitParams(dst []float64, rng *rand.Rand) error
	Evaluate(req *Request, res *Result) error
}

// Closer is implemented by energies that hold resources outside the Go heap (a plugin's
// processes). Whoever builds such an energy calls Close once, when done with it.
type Closer interface {
	Close() error
}

// SamplingEnergy is implemented by energies that can run a sampler inside their own process
// (a plugin energy, so that k sampler steps cost one round trip instead of k). Sampler
// returns a Sampler that runs method with the method's options opts there, in place of the
// host-side sampler local, which it may fall back to.
type SamplingEnergy interface {
	Energy
	Sampler(method string, opts any, local Sampler) (Sampler, error)
}

// LinearEnergy is implemented by energies with CapLinear: E(x; θ) = θᵀT(x) + c(x).
// Score matching is then quadratic in θ and solvable in closed form.
type LinearEnergy interface {
	Energy
	// Statistics writes, for the row x, the Jacobian ∇ₓT(x) as a p×d matrix into jac and
	// the Laplacian of each statistic ΔₓTₖ(x) into lap (length p). The offset c(x) must
	// not depend on θ; its own derivatives enter through OffsetGrad.
	Statistics(x []float64, jac *mat.Dense, lap []float64)
	// OffsetGrad writes ∇ₓc(x) into dst (length d) and returns Δₓc(x).
	OffsetGrad(x, dst []float64) (lap float64)
}

// BlockGibbser is implemented by energies with CapBlockGibbs: given θ it resamples every
// row of x in place from the exact conditional of one block-Gibbs sweep (visible → hidden
// → visible for an RBM), drawing randomness for row i from rngs[i].
type BlockGibbser interface {
	BlockGibbs(theta []float64, x *mat.Dense, rngs []*rand.Rand) error
}
