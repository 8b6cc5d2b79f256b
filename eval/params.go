package eval

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/goebm/goebm/framework"
)

// ParamOptions name a reference for the parameter error: the [eval.params] table.
type ParamOptions struct {
	Reference string         `toml:"reference" help:"reference parameters: a params.json of the same energy, or a CSV (see block and columns)"`
	Block     string         `toml:"block" help:"CSV reference: the θ block that the whole CSV matrix (row-major) is compared with"`
	Columns   map[string]any `toml:"columns" help:"CSV reference: block name → list of CSV columns that hold it (row-major), e.g. {h = [\"h\"], J = [\"J1\", \"J2\"]}"`
	Symmetric bool           `toml:"symmetric" help:"compare the symmetric part (A + Aᵀ)/2 of square blocks (for energies that use only it, like gaussian's W)"`
}

// Validate checks the options.
func (o *ParamOptions) Validate() error {
	if o.Block != "" && len(o.Columns) > 0 {
		return &framework.KeyError{Key: "block", Msg: "set either block or columns, not both"}
	}
	for name, v := range o.Columns {
		if _, err := columnList(v); err != nil {
			return &framework.KeyError{Key: "columns." + name, Msg: err.Error()}
		}
	}
	return nil
}

func columnList(v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		if s, ok := v.([]string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("want an array of column names, got %T", v)
	}
	out := make([]string, len(arr))
	for i, x := range arr {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("element %d is %T, want a column name", i+1, x)
		}
		out[i] = s
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list of columns")
	}
	return out, nil
}

// Reference holds reference values for some of an energy's θ blocks.
type Reference struct {
	Path   string
	Blocks map[string][]float64 // block name → row-major values
}

// ReadReference reads the reference of o for an energy of the given spec: a params.json gives
// every block; a CSV gives the block o.Block (the whole matrix, row-major), or the blocks of
// o.Columns (block → the CSV columns that hold it, row after row), or, when neither is set,
// the one block of the spec with as many values as the CSV.
func ReadReference(path string, spec framework.Spec, o ParamOptions) (*Reference, error) {
	ref := &Reference{Path: path, Blocks: map[string][]float64{}}
	if strings.HasSuffix(path, ".json") {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reference: %w", err)
		}
		theta := make([]float64, spec.NumParams())
		if err := framework.ParseParams(path, b, spec.Blocks, theta); err != nil {
			return nil, fmt.Errorf("reference: %w", err)
		}
		off := 0
		for _, blk := range spec.Blocks {
			ref.Blocks[blk.Name] = theta[off : off+blk.Size()]
			off += blk.Size()
		}
		return ref, nil
	}
	ds, err := framework.ReadCSV(path)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	n, c := ds.X.Dims()
	size := func(name string) (int, error) {
		_, sz, ok := spec.BlockOffset(name)
		if !ok {
			return 0, fmt.Errorf("reference %s: energy %s has no block %q (it has %s)", path, spec.Name, name, blockList(spec))
		}
		return sz, nil
	}
	switch {
	case len(o.Columns) > 0:
		col := map[string]int{}
		for j, h := range ds.Header {
			col[h] = j
		}
		for name, v := range o.Columns {
			cols, err := columnList(v)
			if err != nil {
				return nil, fmt.Errorf("reference: columns.%s: %w", name, err)
			}
			sz, err := size(name)
			if err != nil {
				return nil, err
			}
			if n*len(cols) != sz {
				return nil, fmt.Errorf("reference %s: block %q has %d values, %d rows × %d columns give %d", path, name, sz, n, len(cols), n*len(cols))
			}
			vals := make([]float64, 0, sz)
			for i := 0; i < n; i++ {
				for _, h := range cols {
					j, ok := col[h]
					if !ok {
						return nil, fmt.Errorf("reference %s: no column %q (have %s)", path, h, strings.Join(ds.Header, ", "))
					}
					vals = append(vals, ds.X.At(i, j))
				}
			}
			ref.Blocks[name] = vals
		}
	default:
		name := o.Block
		if name == "" {
			for _, blk := range spec.Blocks {
				if blk.Size() == n*c {
					if name != "" {
						return nil, fmt.Errorf("reference %s: blocks %q and %q both have %d values: set block or columns", path, name, blk.Name, n*c)
					}
					name = blk.Name
				}
			}
			if name == "" {
				return nil, fmt.Errorf("reference %s: %d×%d values match no block of %s (%s): set block or columns", path, n, c, spec.Name, blockList(spec))
			}
		}
		sz, err := size(name)
		if err != nil {
			return nil, err
		}
		if sz != n*c {
			return nil, fmt.Errorf("reference %s: block %q has %d values, the CSV %d×%d", path, name, sz, n, c)
		}
		ref.Blocks[name] = append([]float64(nil), ds.X.RawMatrix().Data...)
	}
	return ref, nil
}

func blockList(spec framework.Spec) string {
	var s []string
	for _, b := range spec.Blocks {
		s = append(s, fmt.Sprintf("%s %v", b.Name, b.Shape))
	}
	return strings.Join(s, ", ")
}

// ParamError compares θ with the reference over the blocks the reference holds and returns the
// relative Frobenius error ‖θ − θ_ref‖/‖θ_ref‖ and the largest absolute difference. With
// symmetric, square blocks of θ are replaced by their symmetric part (A + Aᵀ)/2 first.
func ParamError(spec framework.Spec, theta []float64, ref *Reference, symmetric bool) (rel, maxAbs float64, err error) {
	names := make([]string, 0, len(ref.Blocks))
	for k := range ref.Blocks {
		names = append(names, k)
	}
	sort.Strings(names)
	var num, den float64
	for _, name := range names {
		off, sz, ok := spec.BlockOffset(name)
		if !ok {
			return 0, 0, fmt.Errorf("parameter error: energy %s has no block %q", spec.Name, name)
		}
		want := ref.Blocks[name]
		if len(want) != sz {
			return 0, 0, fmt.Errorf("parameter error: block %q has %d values, the reference %d", name, sz, len(want))
		}
		got := theta[off : off+sz]
		var shape []int
		for _, b := range spec.Blocks {
			if b.Name == name {
				shape = b.Shape
			}
		}
		sq := symmetric && len(shape) == 2 && shape[0] == shape[1]
		for k, w := range want {
			g := got[k]
			if sq {
				i, j := k/shape[1], k%shape[1]
				g = 0.5 * (got[i*shape[1]+j] + got[j*shape[1]+i])
			}
			diff := g - w
			num += diff * diff
			den += w * w
			maxAbs = math.Max(maxAbs, math.Abs(diff))
		}
	}
	if den == 0 {
		return math.Sqrt(num), maxAbs, nil
	}
	return math.Sqrt(num / den), maxAbs, nil
}
