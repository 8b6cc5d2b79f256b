package framework

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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
}

// Domain returns the smallest domain that holds every value: Binary if all are 0 or 1, Spin
// if all are −1 or +1, Continuous otherwise.
func (d *Dataset) Domain() Domain {
	return DomainOf(d.X)
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
}

func (e *CSVError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d: column %d: %s", e.Path, e.Line, e.Column, e.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// ReadCSV reads a comma-separated file with one header row and numeric rows of equal
// length. A name ending in .gz is decompressed on the fly. Every value must be a finite
// number.
func ReadCSV(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &CSVError{Path: path, Msg: "is a folder, not a CSV file"}
	}
	var r io.Reader = bufio.NewReaderSize(f, 1<<16)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, &CSVError{Path: path, Msg: fmt.Sprintf("not a gzip file: %v", err)}
		}
		defer gz.Close()
		r = gz
	}
	return ParseCSV(path, r)
}

// ParseCSV reads CSV data from r; path is used in error messages only.
func ParseCSV(path string, r io.Reader) (*Dataset, error) {
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
				Msg: fmt.Sprintf("header cell %q is a number: the first row must name the columns", h)}
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
		for j, s := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, &CSVError{Path: path, Line: line, Column: j + 1,
					Msg: fmt.Sprintf("value %q in column %q is not a number", s, header[j])}
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, &CSVError{Path: path, Line: line, Column: j + 1,
					Msg: fmt.Sprintf("value %q in column %q is not finite", s, header[j])}
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
