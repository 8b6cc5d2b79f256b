package framework

import (
	"bytes"
	"testing"
)

// FuzzParseCSV: any input gives a dataset or an error, never a panic; a dataset is
// rectangular, finite and as wide as its header.
func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "x\n1e308\n-0\n", "a,b\n1\n", "", "\"a\nb\",c\n1,2\n", "a\nNaN\n", "a,a\n1,2\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ds, err := ParseCSV("fuzz.csv", bytes.NewReader(in))
		if err != nil {
			return
		}
		n, d := ds.X.Dims()
		if d != len(ds.Header) || n < 1 {
			t.Fatalf("dataset %d×%d with %d header cells", n, d, len(ds.Header))
		}
		if err := FiniteDense("data", "fuzz", ds.X); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseParams: any params.json gives θ or an error, never a panic, and θ is finite.
func FuzzParseParams(f *testing.F) {
	f.Add([]byte(`{"blocks":[{"name":"W","shape":[2,2],"values":[1,2,3,4]},{"name":"b","shape":[2],"values":[5,6]}]}`))
	f.Add([]byte(`{"blocks":[{"name":"W","shape":[-2,-2],"values":[]}]}`))
	f.Add([]byte(`{"energy":"x","blocks":null}`))
	blocks := []Block{{"W", []int{2, 2}}, {"b", []int{2}}}
	f.Fuzz(func(t *testing.T, in []byte) {
		theta := make([]float64, 6)
		if err := ParseParams("fuzz.json", in, blocks, theta); err != nil {
			return
		}
		if err := FiniteVec("theta", "fuzz", theta); err != nil {
			t.Fatal(err)
		}
	})
}
