package energy

import (
	"fmt"
	"strconv"

	"github.com/goebm/goebm/framework"
)

// LoadIsingParams reads Ising parameters from a CSV file laid out as
// examples/data/ising10_params.csv: a header "h,J1,…,Jd" and d rows, row i holding hᵢ and
// then the full row Jᵢ₁ … J_id of a symmetric coupling matrix with zero diagonal. It returns
// d and θ laid out as Ising.Spec's blocks (h, then J row-major).
func LoadIsingParams(path string) (d int, theta []float64, err error) {
	ds, err := framework.ReadCSV(path)
	if err != nil {
		return 0, nil, fmt.Errorf("ising: %w", err)
	}
	rows, cols := ds.X.Dims()
	d = rows
	if cols != d+1 {
		return 0, nil, fmt.Errorf("ising: %s: %d rows and %d columns, want d rows and d+1 columns (h, J1..Jd)", path, rows, cols)
	}
	if len(ds.Header) == cols {
		want := []string{"h"}
		for j := 1; j <= d; j++ {
			want = append(want, "J"+strconv.Itoa(j))
		}
		for j, h := range ds.Header {
			if h != want[j] {
				return 0, nil, fmt.Errorf("ising: %s: column %d is %q, want %q", path, j+1, h, want[j])
			}
		}
	}
	theta = make([]float64, d+d*d)
	for i := 0; i < d; i++ {
		theta[i] = ds.X.At(i, 0)
		for j := 0; j < d; j++ {
			v := ds.X.At(i, j+1)
			if i == j && v != 0 {
				return 0, nil, fmt.Errorf("ising: %s: J%d%d = %v on the diagonal, want 0", path, i+1, j+1, v)
			}
			if v != ds.X.At(j, i+1) {
				return 0, nil, fmt.Errorf("ising: %s: J is not symmetric at (%d,%d)", path, i+1, j+1)
			}
			theta[d+i*d+j] = v
		}
	}
	return d, theta, nil
}
