package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"gonum.org/v1/gonum/mat"

	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// littleEndian reports whether this machine stores float64 little-endian, so that a float
// slice and its wire bytes have the same memory layout.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// AppendFloats appends the little-endian bytes of s to dst.
func AppendFloats(dst []byte, s []float64) []byte {
	if len(s) == 0 {
		return dst
	}
	if littleEndian {
		return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 8*len(s))...)
	}
	for _, v := range s {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return dst
}

// Floats returns b as float64s. When the machine is little-endian and b is 8-byte aligned
// the result shares b's memory (no copy); otherwise it is a fresh copy. b must hold a
// multiple of 8 bytes.
func Floats(b []byte) ([]float64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of float64", len(b))
	}
	n := len(b) / 8
	if n == 0 {
		return nil, nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%8 == 0 {
		return unsafe.Slice((*float64)(unsafe.Pointer(&b[0])), n), nil
	}
	s := make([]float64, n)
	CopyFloats(s, b)
	return s, nil
}

// CopyFloats copies the little-endian float64s of b into dst; len(b) must be 8·len(dst).
func CopyFloats(dst []float64, b []byte) {
	if len(dst) == 0 {
		return
	}
	if littleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 8*len(dst)), b)
		return
	}
	for i := range dst {
		dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
}

// AppendUint64s appends the little-endian bytes of s to dst.
func AppendUint64s(dst []byte, s []uint64) []byte {
	for _, v := range s {
		dst = binary.LittleEndian.AppendUint64(dst, v)
	}
	return dst
}

// Uint64s decodes little-endian uint64 words.
func Uint64s(b []byte) ([]uint64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of 64-bit words", len(b))
	}
	s := make([]uint64, len(b)/8)
	for i := range s {
		s[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return s, nil
}

// Tensor encodes the n×d matrix m (any stride) as a Tensor.
func Tensor(m *mat.Dense) *pb.Tensor {
	if m == nil {
		return nil
	}
	raw := m.RawMatrix()
	t := &pb.Tensor{Shape: []int64{int64(raw.Rows), int64(raw.Cols)}}
	t.Data = make([]byte, 0, 8*raw.Rows*raw.Cols)
	if raw.Rows == 0 || raw.Cols == 0 {
		return t
	}
	if raw.Stride == raw.Cols {
		t.Data = AppendFloats(t.Data, raw.Data[:raw.Rows*raw.Cols])
		return t
	}
	for i := 0; i < raw.Rows; i++ {
		t.Data = AppendFloats(t.Data, raw.Data[i*raw.Stride:i*raw.Stride+raw.Cols])
	}
	return t
}

// Matrix decodes a rank-2 Tensor whose shape must be rows×cols (rows < 0 means any). The
// matrix shares the tensor's memory when it can.
func Matrix(what string, t *pb.Tensor, rows, cols int) (*mat.Dense, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is missing", what)
	}
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("%s has rank %d, want 2", what, len(t.Shape))
	}
	if t.Shape[0] < 0 || t.Shape[1] < 0 || (t.Shape[1] > 0 && t.Shape[0] > math.MaxInt32/t.Shape[1]) {
		return nil, fmt.Errorf("%s has shape %d×%d, which is not a valid size", what, t.Shape[0], t.Shape[1])
	}
	r, c := int(t.Shape[0]), int(t.Shape[1])
	if (rows >= 0 && r != rows) || c != cols {
		want := fmt.Sprintf("%d×%d", rows, cols)
		if rows < 0 {
			want = fmt.Sprintf("n×%d", cols)
		}
		return nil, fmt.Errorf("%s has shape %d×%d, want %s", what, r, c, want)
	}
	if len(t.Data) != 8*r*c {
		return nil, fmt.Errorf("%s has %d bytes, want 8·%d·%d = %d", what, len(t.Data), r, c, 8*r*c)
	}
	if r == 0 || c == 0 {
		return &mat.Dense{}, nil
	}
	s, err := Floats(t.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return mat.NewDense(r, c, s), nil
}

// Vector decodes n float64s (n < 0 means any length).
func Vector(what string, b []byte, n int) ([]float64, error) {
	if n >= 0 && len(b) != 8*n {
		return nil, fmt.Errorf("%s has %d bytes, want 8·%d = %d", what, len(b), n, 8*n)
	}
	s, err := Floats(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return s, nil
}
