package framework

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Dataset is a table of points read from a CSV file: one row per point, one named column
// per coordinate.
type Dataset struct {
	Path   string
	Header []string
	X      *mat.Dense
	// SHA256 is the hex sha256 of the file's bytes as stored (compressed, for .gz), set by
	// ReadCSV: run folders keep it in checkpoints to refuse a resume on other data.
	SHA256 string
}

// Domain returns the smallest domain that holds every value: Binary if all are 0 or 1, Spin
// if all are −1 or +1, Continuous otherwise.
func (d *Dataset) Domain() Domain {
	return DomainOf(d.X)
}

// InDomain reports whether every entry of x belongs to domain d: 0 or 1 for Binary, −1 or +1
// for Spin (so data that are all +1 belong to both), any value for Continuous.
func InDomain(x *mat.Dense, d Domain) bool {
	if d == Continuous {
		return true
	}
	raw := x.RawMatrix()
	lo := 0.0
	if d == Spin {
		lo = -1
	}
	for i := 0; i < raw.Rows; i++ {
		for _, v := range raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols] {
			if v != lo && v != 1 {
				return false
			}
		}
	}
	return true
}

// DomainOf returns the smallest domain that holds every entry of x.
func DomainOf(x *mat.Dense) Domain {
	bin, spin := true, true
	raw := x.RawMatrix()
	for i := 0; i < raw.Rows; i++ {
		for _, v := range raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols] {
			if v != 0 && v != 1 {
				bin = false
			}
			if v != -1 && v != 1 {
				spin = false
			}
		}
	}
	switch {
	case bin:
		return Binary
	case spin:
		return Spin
	}
	return Continuous
}

// CSVError is a bad value or a ragged row in a data file, with its position (1-based line
// and column, the header being line 1).
type CSVError struct {
	Path   string
	Line   int
	Column int // 0 when the whole line is at fault
	Msg    string
	Err    error // a sentinel the error wraps (ErrDataTooLarge), or nil
}

// Unwrap returns the sentinel the error wraps, if any.
func (e *CSVError) Unwrap() error { return e.Err }

func (e *CSVError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d: column %d: %s", e.Path, e.Line, e.Column, e.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// ErrDataTooLarge is wrapped by the error of a data file that would take more memory than
// ReadCSVLimit allows.
var ErrDataTooLarge = errors.New("data larger than the memory allowed")

// ReadCSV reads a comma-separated file with one header row and numeric rows of equal
// length. A name ending in .gz is decompressed on the fly. Every value must be a finite
// number. A folder or a device (/dev/zero) is refused at once; a named pipe is read.
func ReadCSV(path string) (*Dataset, error) { return ReadCSVLimit(path, 0) }

// ReadCSVLimit is ReadCSV that stops, with an error naming the file and wrapping
// ErrDataTooLarge, as soon as the text read (after decompression) or the values parsed would
// take more than maxBytes of memory (0: no limit), rather than exhaust the machine.
func ReadCSVLimit(path string, maxBytes int64) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	switch {
	case st.IsDir():
		return nil, &CSVError{Path: path, Msg: "is a folder, not a CSV file"}
	case !st.Mode().IsRegular() && st.Mode()&fs.ModeNamedPipe == 0:
		return nil, &CSVError{Path: path, Msg: fmt.Sprintf("is a %s, not a CSV file", fileKind(st.Mode()))}
	}
	h := sha256.New()
	raw := io.TeeReader(f, h)
	var r io.Reader = bufio.NewReaderSize(raw, 1<<16)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, &CSVError{Path: path, Msg: fmt.Sprintf("not a gzip file: %v", err)}
		}
		defer gz.Close()
		r = gz
	}
	lr := &limitReader{r: r, left: maxBytes, lineMax: max(maxBytes/16, 1<<20)}
	if maxBytes <= 0 {
		lr.left, lr.lineMax = math.MaxInt64, math.MaxInt64
	}
	ds, err := parseCSV(path, lr, maxBytes)
	switch {
	case lr.longLine:
		return nil, &CSVError{Path: path, Line: int(lr.lines) + 1, Err: ErrDataTooLarge,
			Msg: fmt.Sprintf("a line longer than %s: is it a CSV file? (%v)", FormatBytes(float64(lr.lineMax)), ErrDataTooLarge)}
	case lr.over:
		return nil, &CSVError{Path: path, Err: ErrDataTooLarge,
			Msg: fmt.Sprintf("holds more than %s of text: %v", FormatBytes(float64(maxBytes)), ErrDataTooLarge)}
	}
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, raw); err != nil { // the rest of the file, for the digest
		return nil, fmt.Errorf("data: %w", err)
	}
	ds.SHA256 = hex.EncodeToString(h.Sum(nil))
	return ds, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "folder"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// limitReader reads at most left bytes, and lines of at most lineMax bytes, and then fails,
// recording why.
type limitReader struct {
	r              io.Reader
	left, lineMax  int64
	line, lines    int64 // bytes since the last newline; newlines so far
	over, longLine bool
}

var errOverLimit = errors.New("over the limit")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.over = true
		return 0, errOverLimit
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if i := bytes.LastIndexByte(p[:n], '\n'); i >= 0 {
		l.lines += int64(bytes.Count(p[:n], []byte{'\n'}))
		l.line = int64(n - i - 1)
	} else {
		l.line += int64(n)
	}
	if l.line > l.lineMax {
		l.longLine = true
		return n, errOverLimit
	}
	return n, err
}

// FormatBytes writes a size in bytes for people: "800 B", "12 KiB", "1.5 GiB" (a float, so
// that an estimate beyond int64 still prints).
func FormatBytes(n float64) string {
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"} {
		if n < 1024 || u == "EiB" {
			if u == "B" {
				return fmt.Sprintf("%.0f B", n)
			}
			return fmt.Sprintf("%.3g %s", n, u)
		}
		n /= 1024
	}
	return ""
}

// clipValue quotes a value read from a data file for an error message, cut to a few
// characters: errors must not echo the content of whatever file was named as data.
func clipValue(s string) string {
	const max = 24
	r := []rune(s)
	if len(r) > max {
		return strconv.Quote(string(r[:max])) + "…"
	}
	return strconv.Quote(s)
}

// ParseCSV reads CSV data from r; path is used in error messages only.
func ParseCSV(path string, r io.Reader) (*Dataset, error) { return parseCSV(path, r, 0) }

// parseCSV is ParseCSV that refuses more than maxBytes of values (0: no limit).
func parseCSV(path string, r io.Reader, maxBytes int64) (*Dataset, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // we report ragged rows ourselves, with a clearer message
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &CSVError{Path: path, Msg: "empty file: want a header row and at least one data row"}
	}
	if err != nil {
		return nil, csvParseError(path, err)
	}
	header = append([]string(nil), header...)
	d := len(header)
	for j, h := range header {
		h = strings.TrimSpace(h)
		header[j] = h
		if _, err := strconv.ParseFloat(h, 64); err == nil && h != "" {
			return nil, &CSVError{Path: path, Line: 1, Column: j + 1,
				Msg: fmt.Sprintf("header cell %s is a number: the first row must name the columns", clipValue(h))}
		}
	}
	var data []float64
	line := 1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvParseError(path, err)
		}
		line, _ = cr.FieldPos(0)
		if len(rec) != d {
			return nil, &CSVError{Path: path, Line: line,
				Msg: fmt.Sprintf("row has %d values, the header has %d columns", len(rec), d)}
		}
		if maxBytes > 0 && int64(len(data)+d)*8 > maxBytes {
			return nil, &CSVError{Path: path, Line: line, Err: ErrDataTooLarge,
				Msg: fmt.Sprintf("the values up to this row take more than %s: %v", FormatBytes(float64(maxBytes)), ErrDataTooLarge)}
		}
		for j, s := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, &CSVError{Path: path, Line: line, Column: j + 1,
					Msg: fmt.Sprintf("value %s in column %s is not a number", clipValue(s), clipValue(header[j]))}
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, &CSVError{Path: path, Line: line, Column: j + 1,
					Msg: fmt.Sprintf("value %s in column %s is not finite", clipValue(s), clipValue(header[j]))}
			}
			data = append(data, v)
		}
	}
	n := len(data) / d
	if n == 0 {
		return nil, &CSVError{Path: path, Line: 1, Msg: "no data rows after the header"}
	}
	return &Dataset{Path: path, Header: header, X: mat.NewDense(n, d, data)}, nil
}

func csvParseError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{Path: path, Line: pe.Line, Column: pe.Column, Msg: pe.Err.Error()}
	}
	return &CSVError{Path: path, Msg: err.Error()}
}
