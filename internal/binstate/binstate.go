package binstate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("corrupt state")

// Writer appends values to a byte slice.
type Writer struct{ b []byte }

// NewWriter returns a Writer whose output starts with tag, the component's name and version
// ("adam/1"), which Reader checks.
func NewWriter(tag string) *Writer {
	w := &Writer{}
	w.String(tag)
	return w
}

// Bytes returns what has been written.
func (w *Writer) Bytes() []byte { return w.b }

// Uint appends v.
func (w *Writer) Uint(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }

// Int appends v.
func (w *Writer) Int(v int) { w.Uint(uint64(int64(v))) }

// Bool appends v.
func (w *Writer) Bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// Float appends the bits of v.
func (w *Writer) Float(v float64) { w.Uint(math.Float64bits(v)) }

// Floats appends the length of v and its values; a nil slice is written as length −1, so
// that it reads back as nil.
func (w *Writer) Floats(v []float64) {
	if v == nil {
		w.Int(-1)
		return
	}
	w.Int(len(v))
	for _, x := range v {
		w.Float(x)
	}
}

// Blob appends the length of v and its bytes.
func (w *Writer) Blob(v []byte) {
	w.Int(len(v))
	w.b = append(w.b, v...)
}

// String appends the length of s and its bytes.
func (w *Writer) String(s string) { w.Blob([]byte(s)) }

// Reader reads what a Writer wrote. After the first error every read returns a zero value
// and Err reports that error.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader on b, checking that it starts with tag.
func NewReader(b []byte, tag string) *Reader {
	r := &Reader{b: b}
	if got := r.String(); r.err == nil && got != tag {
		r.fail("state of %q, want %q", clip(got), tag)
	}
	return r
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

func (r *Reader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
	}
}

// Failed reports whether a read has failed so far (without Err's check for bytes left over).
func (r *Reader) Failed() bool { return r.err != nil }

// Err returns the first error, or an error if bytes are left unread. Call it once, after the
// last read.
func (r *Reader) Err() error {
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes left over", len(r.b))
	}
	return r.err
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("wants %d bytes, %d left", n, len(r.b))
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

// Uint reads a value written by Writer.Uint.
func (r *Reader) Uint() uint64 {
	p := r.take(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

// Int reads a value written by Writer.Int.
func (r *Reader) Int() int { return int(int64(r.Uint())) }

// Bool reads a value written by Writer.Bool.
func (r *Reader) Bool() bool {
	p := r.take(1)
	if p == nil {
		return false
	}
	if p[0] > 1 {
		r.fail("boolean byte %d", p[0])
	}
	return p[0] == 1
}

// Float reads a value written by Writer.Float.
func (r *Reader) Float() float64 { return math.Float64frombits(r.Uint()) }

// length reads a slice length of elements of size bytes each, checked against what is left.
func (r *Reader) length(size int) (int, bool) {
	n := r.Int()
	if r.err != nil {
		return 0, false
	}
	if n < -1 || (n > 0 && n > len(r.b)/size) {
		r.fail("length %d with %d bytes left", n, len(r.b))
		return 0, false
	}
	return n, n >= 0
}

// Floats reads a slice written by Writer.Floats.
func (r *Reader) Floats() []float64 {
	n, ok := r.length(8)
	if !ok {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = r.Float()
	}
	return v
}

// Blob reads bytes written by Writer.Blob (a copy).
func (r *Reader) Blob() []byte {
	n, ok := r.length(1)
	if !ok {
		return nil
	}
	return append([]byte{}, r.take(n)...)
}

// String reads a string written by Writer.String.
func (r *Reader) String() string { return string(r.Blob()) }
