package framework

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"gonum.org/v1/gonum/mat"
)

// WriteCSV writes x as CSV with encoding/csv: a header row (quoted where a name holds a comma,
// a quote or a line break), then one row per row of x followed by the values of the extra
// columns, each value in the shortest form that parses back to the same float64. header names
// the columns of x and then the extra ones. ReadCSV reads the file back.
func WriteCSV(w io.Writer, header []string, x mat.Matrix, extra ...[]float64) error {
	n, d := x.Dims()
	if len(header) != d+len(extra) {
		return fmt.Errorf("csv: %d column names for %d columns", len(header), d+len(extra))
	}
	for k, col := range extra {
		if len(col) != n {
			return fmt.Errorf("csv: column %q has %d values for %d rows", header[d+k], len(col), n)
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, d+len(extra))
	var buf []byte
	for i := 0; i < n; i++ {
		for j := range rec {
			v := 0.0
			if j < d {
				v = x.At(i, j)
			} else {
				v = extra[j-d][i]
			}
			buf = strconv.AppendFloat(buf[:0], v, 'g', -1, 64)
			rec[j] = string(buf)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
