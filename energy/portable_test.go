package energy

import (
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestPortableArithmetic checks, on the package's own source, the two rules that make its
// floating-point results the same on every architecture (see the package documentation):
//
//  1. No product may be fused with an addition by the compiler. The Go specification lets
//     an implementation compute x*y + z with one rounding (arm64, ppc64le, s390x, riscv64
//     and amd64 with GOAMD64=v3 do), unless the product is converted explicitly,
//     float64(x*y) + z. So a float addition or subtraction (+, −, +=, −=) may not take as
//     an operand a product that is not so converted: written in place, held in a local
//     variable, or returned by a function of the package (which the compiler may inline).
//     Wanted fused multiply-adds are math.FMA.
//  2. No call to a function whose result may depend on the architecture or the CPU: of
//     package math only the exact ones (math.Exp uses FMA where the CPU has it, math.Log1p
//     and math.Tanh are compiled with fused operations on arm64, ...), and see portableFuncs.
//
// A product stored into a slice element and loaded back is tracked when the same element
// (by its text) is then accumulated into with += or −= in the same function: the compiler
// forwards a store to a load of the same address within a block. Beyond these rules,
// TestBitsGolden, run with GOAMD64=v3 and on arm64 by make test-purego, checks the bits.
func TestPortableArithmetic(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range pkg.GoFiles { // the numeric code is in files common to every build
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	exports := exportData(t)
	conf := types.Config{
		Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
			f, ok := exports[path]
			if !ok {
				return nil, os.ErrNotExist
			}
			return os.Open(f)
		}),
	}
	info := &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{},
		Defs:  map[*ast.Ident]types.Object{},
		Uses:  map[*ast.Ident]types.Object{},
	}
	if _, err := conf.Check("github.com/goebm/goebm/energy", fset, files, info); err != nil {
		t.Fatal(err)
	}
	var problems []string
	report := func(n ast.Node, format string) {
		problems = append(problems, fset.Position(n.Pos()).String()+": "+format)
	}
	c := &fusionCheck{info: info}
	for _, f := range files {
		c.collect(f)
	}
	for _, f := range files {
		if _, ok := notEvaluated[filepath.Base(fset.Position(f.Pos()).Filename)]; !ok {
			c.check(f, report)
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// notEvaluated lists the files of the package whose arithmetic serves no output of Evaluate
// or BlockGibbs, and so is outside the claim (README: Same results on every machine): their
// results may differ in the last bits between machines.
var notEvaluated = map[string]string{
	"logz.go":   "log Z for the mle trainer (framework.Partitioner): the standard library's exp and log, gonum's floats",
	"memory.go": "memory estimates in bytes",
}

// exportData returns the export data files of the package's dependencies, from go list.
func exportData(t *testing.T) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", ".")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(line, "\t")
		if file != "" {
			m[path] = filepath.Clean(file)
		}
	}
	return m
}

// portableFuncs lists, for the packages whose floating-point functions the package may not
// call freely, the functions it may: in math those whose results are exact (or exactly
// specified) on every architecture; none of gonum's floats (its sums are unrolled in
// assembly on amd64, its LogSumExp calls math.Exp); of internal/numeric only the resizers
// (its softplus and sigmoid call math.Exp).
var portableFuncs = map[string]map[string]bool{
	"math": {
		"FMA": true, "Abs": true, "Sqrt": true, "Float64bits": true, "Float64frombits": true,
		"IsNaN": true, "IsInf": true, "Inf": true, "NaN": true, "Signbit": true, "Copysign": true,
		"Max": true, "Min": true, "Floor": true, "Ceil": true, "Trunc": true, "Nextafter": true,
	},
	"gonum.org/v1/gonum/floats":               {},
	"github.com/goebm/goebm/internal/numeric": {"Resize": true, "ResizeDense": true},
}

// fusionCheck finds the additions that the compiler could fuse with a product.
type fusionCheck struct {
	info *types.Info
	// prodVar holds the float variables assigned an unconverted product somewhere; prodFunc
	// the functions that return one.
	prodVar  map[types.Object]bool
	prodFunc map[types.Object]bool
}

func (c *fusionCheck) isFloat(e ast.Expr) bool {
	tv, ok := c.info.Types[e]
	if !ok || tv.Value != nil { // constants are folded: no multiplication at run time
		return false
	}
	return floatType(tv.Type)
}

func floatType(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsFloat != 0
}

// product reports whether e (parentheses and negations stripped) is a float product that
// the compiler may fuse: x*y, a variable holding one, or a call of a function returning one.
func (c *fusionCheck) product(e ast.Expr) bool {
	for {
		switch v := e.(type) {
		case *ast.ParenExpr:
			e = v.X
			continue
		case *ast.UnaryExpr:
			if v.Op == token.SUB {
				e = v.X
				continue
			}
		}
		break
	}
	switch v := e.(type) {
	case *ast.BinaryExpr:
		return v.Op == token.MUL && c.isFloat(v)
	case *ast.Ident:
		return c.prodVar[c.info.Uses[v]]
	case *ast.CallExpr:
		var id *ast.Ident
		switch f := v.Fun.(type) {
		case *ast.Ident:
			id = f
		case *ast.SelectorExpr:
			id = f.Sel
		}
		return id != nil && c.prodFunc[c.info.Uses[id]]
	}
	return false
}

// collect finds the variables and functions that hold or return products, to a fixed point.
func (c *fusionCheck) collect(f *ast.File) {
	if c.prodVar == nil {
		c.prodVar, c.prodFunc = map[types.Object]bool{}, map[types.Object]bool{}
	}
	for changed := true; changed; {
		changed = false
		mark := func(m map[types.Object]bool, o types.Object) {
			if o != nil && !m[o] {
				m[o] = true
				changed = true
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch v := n.(type) {
			case *ast.AssignStmt:
				for i, lhs := range v.Lhs {
					id, ok := lhs.(*ast.Ident)
					if !ok {
						continue
					}
					o := c.info.Defs[id]
					if o == nil {
						o = c.info.Uses[id]
					}
					if o == nil || !floatType(o.Type()) {
						continue
					}
					if v.Tok == token.MUL_ASSIGN || (len(v.Rhs) == len(v.Lhs) && (v.Tok == token.ASSIGN || v.Tok == token.DEFINE) && c.product(v.Rhs[i])) {
						mark(c.prodVar, o)
					}
				}
			case *ast.ValueSpec:
				for i, id := range v.Names {
					if i < len(v.Values) && c.product(v.Values[i]) && floatType(c.info.Defs[id].Type()) {
						mark(c.prodVar, c.info.Defs[id])
					}
				}
			case *ast.FuncDecl:
				if v.Body == nil {
					return true
				}
				o := c.info.Defs[v.Name]
				ast.Inspect(v.Body, func(n ast.Node) bool {
					if _, ok := n.(*ast.FuncLit); ok {
						return false
					}
					if r, ok := n.(*ast.ReturnStmt); ok {
						for _, e := range r.Results {
							if c.product(e) {
								mark(c.prodFunc, o)
							}
						}
					}
					return true
				})
			}
			return true
		})
	}
}

func (c *fusionCheck) check(f *ast.File, report func(ast.Node, string)) {
	// Elements of slices or arrays assigned an unconverted product, by their text, per
	// function: the compiler forwards such a store to a load of the same element in the
	// same block, so a later s[i] += y would fuse with it.
	var stored map[string]bool
	ast.Inspect(f, func(n ast.Node) bool {
		switch v := n.(type) {
		case *ast.FuncDecl:
			stored = map[string]bool{}
		case *ast.AssignStmt:
			for i, lhs := range v.Lhs {
				ix, ok := lhs.(*ast.IndexExpr)
				if !ok || !c.isFloat(ix) || stored == nil {
					continue
				}
				key := types.ExprString(ix)
				switch {
				case (v.Tok == token.ASSIGN && len(v.Rhs) == len(v.Lhs) && c.product(v.Rhs[i])) || v.Tok == token.MUL_ASSIGN:
					stored[key] = true
				case (v.Tok == token.ADD_ASSIGN || v.Tok == token.SUB_ASSIGN) && stored[key]:
					report(v, "this element holds an unconverted product stored above, which the compiler may fuse with this sum: store float64(x*y)")
				}
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		switch v := n.(type) {
		case *ast.BinaryExpr:
			if (v.Op == token.ADD || v.Op == token.SUB) && c.isFloat(v) && (c.product(v.X) || c.product(v.Y)) {
				report(v, "the compiler may fuse this sum with a product: write float64(x*y), or math.FMA")
			}
		case *ast.AssignStmt:
			if (v.Tok == token.ADD_ASSIGN || v.Tok == token.SUB_ASSIGN) && c.isFloat(v.Lhs[0]) && (c.product(v.Lhs[0]) || c.product(v.Rhs[0])) {
				report(v, "the compiler may fuse this sum with a product: write float64(x*y), or math.FMA")
			}
		case *ast.SelectorExpr:
			if x, ok := v.X.(*ast.Ident); ok {
				if pn, ok := c.info.Uses[x].(*types.PkgName); ok {
					allowed, watched := portableFuncs[pn.Imported().Path()]
					if _, isFunc := c.info.Uses[v.Sel].(*types.Func); isFunc && watched && !allowed[v.Sel.Name] {
						report(v, pn.Imported().Path()+"."+v.Sel.Name+" may differ between architectures or CPUs: use the package's own (exp.go)")
					}
				}
			}
		}
		return true
	})
}
