package framework

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// WriteFileAtomic writes data to path so that a reader sees either the old file or the whole
// new one: it writes a temporary file in the same folder, syncs it and renames it over path.
// The file is created with mode 0666 less the umask, as os.Create would, so that a run
// folder is as readable by collaborators as the user's other files.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	for _, e := range []error{werr, serr, cerr} {
		if e != nil {
			os.Remove(name)
			return fmt.Errorf("write %s: %w", path, e)
		}
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// createTemp creates a new file beside path, named ".BASE.tmp-RANDOM", with mode 0666 less
// the umask (os.CreateTemp would make it 0600).
func createTemp(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	for range 100 {
		name := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("no free temporary name beside %s", path)
}

// WriteJSONAtomic writes v as indented JSON (MarshalJSON: NaN and ±Inf as null) with
// WriteFileAtomic.
func WriteJSONAtomic(path string, v any) error {
	b, err := MarshalJSON(v, true)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// ParamBlock is one block of params.json: its name, shape and row-major values.
type ParamBlock struct {
	Name   string    `json:"name"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

// ParamsFile is the content of params.json.
type ParamsFile struct {
	Energy string       `json:"energy"`
	Blocks []ParamBlock `json:"blocks"`
}

// NewParamsFile splits θ into the named blocks.
func NewParamsFile(energy string, blocks []Block, theta []float64) (*ParamsFile, error) {
	pf := &ParamsFile{Energy: energy}
	off := 0
	for _, b := range blocks {
		if off+b.Size() > len(theta) {
			return nil, fmt.Errorf("params: θ has %d values, blocks need more", len(theta))
		}
		pf.Blocks = append(pf.Blocks, ParamBlock{Name: b.Name, Shape: append([]int(nil), b.Shape...),
			Values: append([]float64(nil), theta[off:off+b.Size()]...)})
		off += b.Size()
	}
	if off != len(theta) {
		return nil, fmt.Errorf("params: θ has %d values, blocks hold %d", len(theta), off)
	}
	return pf, nil
}

// ReadParams reads a params.json and writes the values of the blocks into theta, checking
// that every block of the spec is present with the right shape and finite values. Blocks in
// the file that the spec lacks are an error; extra trainer blocks (extra) may be absent.
func ReadParams(path string, blocks []Block, theta []float64) error {
	b, err := ReadFileLimit(path, 1<<20+64*int64(len(theta)))
	if err != nil {
		return fmt.Errorf("params: %w", err)
	}
	return ParseParams(path, b, blocks, theta)
}

// ErrFileTooLarge is wrapped by the error of ReadFileLimit for a file beyond its limit.
var ErrFileTooLarge = errors.New("file larger than expected")

// ReadFileLimit reads the file at path like os.ReadFile, but refuses a folder or a device
// (/dev/zero never ends) at once, and a file of more than max bytes after reading max+1: a
// file named in a configuration must not make a reader allocate without bound.
func ReadFileLimit(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() || (!st.Mode().IsRegular() && st.Mode()&fs.ModeNamedPipe == 0) {
		return nil, fmt.Errorf("%s is a %s, not a file to read", path, fileKind(st.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w (more than %s)", path, ErrFileTooLarge, FormatBytes(float64(max)))
	}
	return b, nil
}

// ParseParams is ReadParams on bytes already read; path is used in errors.
func ParseParams(path string, data []byte, blocks []Block, theta []float64) error {
	var pf ParamsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pf); err != nil {
		return fmt.Errorf("%s: not a params.json (an object with a \"blocks\" list of {name, shape, values}): %w", path, err)
	}
	byName := map[string]ParamBlock{}
	for i, pb := range pf.Blocks {
		if pb.Name == "" {
			return fmt.Errorf("%s: block %d has no name", path, i)
		}
		if _, dup := byName[pb.Name]; dup {
			return fmt.Errorf("%s: block %q appears twice", path, pb.Name)
		}
		byName[pb.Name] = pb
	}
	off := 0
	for _, blk := range blocks {
		pb, ok := byName[blk.Name]
		if !ok {
			return fmt.Errorf("%s: block %q is missing (the energy has blocks %s)", path, blk.Name, blockNames(blocks))
		}
		delete(byName, blk.Name)
		if !sameShape(pb.Shape, blk.Shape) {
			return fmt.Errorf("%s: block %q has shape %v, the energy wants %v", path, blk.Name, pb.Shape, blk.Shape)
		}
		if len(pb.Values) != blk.Size() {
			return fmt.Errorf("%s: block %q has %d values, its shape %v needs %d", path, blk.Name, len(pb.Values), blk.Shape, blk.Size())
		}
		for j, v := range pb.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s: block %q value %d is %v: parameters must be finite", path, blk.Name, j, v)
			}
		}
		copy(theta[off:], pb.Values)
		off += blk.Size()
	}
	for name := range byName {
		return fmt.Errorf("%s: block %q is not a parameter of this energy (it has %s)", path, name, blockNames(blocks))
	}
	return nil
}

func blockNames(blocks []Block) string {
	var b bytes.Buffer
	for i, blk := range blocks {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %v", blk.Name, blk.Shape)
	}
	return b.String()
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
