package structure

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// Options are the [trainer] keys of method "graph".
type Options struct {
	Select         string  `toml:"select" help:"how λ is chosen: ebic (extended BIC, per node for ising) or cv (cross-validated pseudolikelihood, one λ for all nodes)"`
	Gamma          float64 `toml:"gamma" help:"γ of the extended BIC, in [0, 1]; 0 is BIC"`
	Rule           string  `toml:"rule" help:"ising: symmetrise the neighbourhoods by and (both regressions select the edge) or or (either does)"`
	Lambdas        int     `toml:"lambdas" help:"number of λ values on the path, geometric from λ_max (the empty graph) down"`
	LambdaMinRatio float64 `toml:"lambda_min_ratio" help:"smallest λ of the path as a fraction of λ_max"`
	Folds          int     `toml:"folds" help:"cv: number of folds"`
	Tol            float64 `toml:"tol" help:"coordinate descent stops when no coefficient moves more than this"`
}

// DefaultOptions returns EBIC with γ = 0.25 (IsingFit's default), the AND rule, 50 values of
// λ down to 0.01·λ_max, 5 folds and tolerance 1e-8.
func DefaultOptions() Options {
	return Options{Select: "ebic", Gamma: 0.25, Rule: "and", Lambdas: 50, LambdaMinRatio: 0.01, Folds: 5, Tol: 1e-8}
}

// Validate checks the options.
func (o *Options) Validate() error {
	switch {
	case o.Select != "ebic" && o.Select != "cv":
		return &framework.KeyError{Key: "select", Msg: fmt.Sprintf("%q: want \"ebic\" or \"cv\"", o.Select)}
	case !(o.Gamma >= 0 && o.Gamma <= 1):
		return &framework.KeyError{Key: "gamma", Msg: fmt.Sprintf("must be in [0, 1], got %v", o.Gamma)}
	case o.Rule != "and" && o.Rule != "or":
		return &framework.KeyError{Key: "rule", Msg: fmt.Sprintf("%q: want \"and\" or \"or\"", o.Rule)}
	case o.Lambdas < 2:
		return &framework.KeyError{Key: "lambdas", Msg: fmt.Sprintf("must be ≥ 2, got %d", o.Lambdas)}
	case !(o.LambdaMinRatio > 0 && o.LambdaMinRatio < 1):
		return &framework.KeyError{Key: "lambda_min_ratio", Msg: fmt.Sprintf("must be in (0, 1), got %v", o.LambdaMinRatio)}
	case o.Folds < 2:
		return &framework.KeyError{Key: "folds", Msg: fmt.Sprintf("must be ≥ 2, got %d", o.Folds)}
	case !(o.Tol > 0 && o.Tol < 1):
		return &framework.KeyError{Key: "tol", Msg: fmt.Sprintf("must be in (0, 1), got %v", o.Tol)}
	}
	return nil
}

// ErrUnsupported is wrapped when the energy is not one the method handles.
var ErrUnsupported = errors.New("graph selection supports the ising and (full) gaussian energies")

// Edge is one edge of a selected graph, 1-based.
type Edge struct {
	I, J   int
	Weight float64 // Jᵢⱼ (ising) or Wᵢⱼ (gaussian)
}

// Report is what summary.json's "report" holds.
type Report struct {
	Method   string    `json:"method"` // "neighbourhood selection" or "regularised score matching"
	Select   string    `json:"select"`
	Gamma    float64   `json:"gamma,omitempty"`
	Rule     string    `json:"rule,omitempty"`
	Lambdas  []float64 `json:"lambdas"` // relative to λ_max (per node for ising)
	Chosen   []int     `json:"chosen"`  // index into Lambdas: one per node (ising, ebic) or one
	Criteria []float64 `json:"criteria"`
	Edges    int       `json:"edges"`
}

// Graph is the "graph" trainer.
type Graph struct {
	opts  Options
	spec  framework.Spec
	loss  framework.Trainer // the loss reported by Step: pl (ising) or sm (gaussian)
	edges []Edge
	rep   *Report
}

// New returns the graph trainer.
func New(o Options) (*Graph, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return &Graph{opts: o}, nil
}

// Register adds the trainer "graph" to r.
func Register(r *framework.Registry) {
	r.Trainers["graph"] = framework.NewEntry("graph", "graph selection: L1 path with warm starts and EBIC or cross-validated pseudolikelihood (ising: neighbourhood selection, AND/OR; gaussian: regularised score matching)",
		DefaultOptions, func(o Options, _ framework.Env) (framework.Trainer, error) { return New(o) })
}

func isIsing(s framework.Spec) bool {
	h, _, ok1 := s.BlockOffset("h")
	_, size, ok2 := s.BlockOffset("J")
	return s.Domain.Discrete() && ok1 && ok2 && h == 0 && size == s.Dim*s.Dim && len(s.Blocks) == 2 && s.Caps.Has(framework.CapLinear)
}

func isGaussian(s framework.Spec) bool {
	w, size, ok1 := s.BlockOffset("W")
	_, _, ok2 := s.BlockOffset("b")
	return s.Domain == framework.Continuous && ok1 && ok2 && w == 0 && size == s.Dim*s.Dim && len(s.Blocks) == 2 && s.Caps.Has(framework.CapLinear)
}

// Init checks the energy and prepares the loss that Step reports.
func (g *Graph) Init(ctx *framework.TrainContext) error {
	g.spec = ctx.Eval.Spec()
	switch {
	case isIsing(g.spec):
		g.loss = trainers.NewPseudolikelihood(trainers.DefaultPLOptions())
	case isGaussian(g.spec):
		if _, ok := ctx.Eval.Energy().(framework.LinearEnergy); !ok {
			return fmt.Errorf("graph: energy %s: %w", g.spec.Name, ErrUnsupported)
		}
		g.loss = trainers.NewScoreMatching(trainers.SMOptions{})
	default:
		return fmt.Errorf("graph: energy %s (blocks %v, domain %s): %w", g.spec.Name, g.spec.Blocks, g.spec.Domain, ErrUnsupported)
	}
	return g.loss.Init(ctx)
}

// Step returns the unpenalised loss of the estimate's family (pl for ising, sm for gaussian):
// what validation and test losses report.
func (g *Graph) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	return g.loss.Step(ctx, batch, theta, grad)
}

// ClosedForm reports true: the path is solved once.
func (g *Graph) ClosedForm() bool { return true }

// Compile-time checks of the contracts the trainer satisfies.
var (
	_ framework.Trainer      = (*Graph)(nil)
	_ framework.ClosedFormer = (*Graph)(nil)
	_ framework.Reporter     = (*Graph)(nil)
	_ framework.Filer        = (*Graph)(nil)
)

// Solve runs the path on the training data, selects λ and writes the estimate into theta.
func (g *Graph) Solve(ctx *framework.TrainContext, theta []float64) (float64, error) {
	if g.loss == nil {
		if err := g.Init(ctx); err != nil {
			return 0, err
		}
	}
	var err error
	if isIsing(g.spec) {
		g.edges, g.rep, err = isingGraph(ctx.Train, g.spec.Domain, g.opts, ctx.Streams, theta)
	} else {
		le := ctx.Eval.Energy().(framework.LinearEnergy)
		g.edges, g.rep, err = gaussianGraph(le, ctx.Train, g.opts, ctx.Streams, theta)
	}
	if err != nil {
		return 0, fmt.Errorf("graph: %w", err)
	}
	return g.loss.Step(&framework.StepContext{Eval: ctx.Eval, RNG: ctx.Streams.Rand("trainer", 0)}, ctx.Train, theta, nil)
}

// Edges returns the selected graph.
func (g *Graph) Edges() []Edge { return g.edges }

// Report returns the path and its selection, for summary.json.
func (g *Graph) Report() any { return g.rep }

// Files returns edges.csv: "i,j,weight", one selected edge per line, 1-based.
func (g *Graph) Files() map[string][]byte {
	return map[string][]byte{"edges.csv": EdgeList(g.edges)}
}

// EdgeList writes edges as CSV with a header i,j,weight.
func EdgeList(edges []Edge) []byte {
	var b bytes.Buffer
	b.WriteString("i,j,weight\n")
	for _, e := range edges {
		fmt.Fprintf(&b, "%d,%d,%v\n", e.I, e.J, e.Weight)
	}
	return b.Bytes()
}

// softThreshold returns sign(z)·max(|z| − c, 0).
func softThreshold(z, c float64) float64 {
	switch {
	case z > c:
		return z - c
	case z < -c:
		return z + c
	}
	return 0
}

// lambdaPath returns the geometric path λ_max·ratio^(k/(K−1)), k = 0..K−1, relative to λ_max.
func lambdaPath(o Options) []float64 {
	rel := make([]float64, o.Lambdas)
	for k := range rel {
		rel[k] = math.Pow(o.LambdaMinRatio, float64(k)/float64(o.Lambdas-1))
	}
	return rel
}

// folds assigns the n rows to k folds at random from the stream.
func folds(n, k int, streams framework.Streams) []int {
	perm := streams.Rand("graph-folds", 0).Perm(n)
	f := make([]int, n)
	for i, r := range perm {
		f[r] = i % k
	}
	return f
}

// subset returns the rows of x whose fold is (in) or is not (!in) f.
func subset(x *mat.Dense, fold []int, f int, in bool) *mat.Dense {
	_, d := x.Dims()
	var rows []int
	for r, v := range fold {
		if (v == f) == in {
			rows = append(rows, r)
		}
	}
	s := mat.NewDense(len(rows), d, nil)
	for i, r := range rows {
		copy(s.RawRowView(i), x.RawRowView(r))
	}
	return s
}
