package framework

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadCSVShared(t *testing.T) {
	for _, tc := range []struct {
		file   string
		n, d   int
		domain Domain
	}{
		{"../examples/data/ring8_test.csv", 5000, 2, Continuous},
		{"../examples/data/ring8_train.csv.gz", 20000, 2, Continuous},
		{"../examples/data/ising10_train.csv", 5000, 10, Spin},
		{"../examples/data/digits_bin.csv", 1797, 64, Binary},
	} {
		ds, err := ReadCSV(tc.file)
		require.NoError(t, err, tc.file)
		n, d := ds.X.Dims()
		assert.Equal(t, tc.n, n, tc.file)
		assert.Equal(t, tc.d, d, tc.file)
		assert.Equal(t, tc.domain, ds.Domain(), tc.file)
	}
	// Values parse to the exact bits the generator wrote (first row of ring8_test.csv).
	ds, err := ReadCSV("../examples/data/ring8_test.csv")
	require.NoError(t, err)
	assert.Equal(t, -2.041190098784495, ds.X.At(0, 0))
	assert.Equal(t, -0.08261991740777033, ds.X.At(0, 1))
}

func TestParseCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "f.csv: empty file"},
		{"header only", "a,b\n", "f.csv:1: no data rows"},
		{"numeric header", "1,2\n3,4\n", "f.csv:1: column 1: header cell \"1\" is a number"},
		{"ragged short", "a,b\n1,2\n3\n", "f.csv:3: row has 1 values, the header has 2 columns"},
		{"ragged long", "a,b\n1,2,3\n", "f.csv:2: row has 3 values"},
		{"bad value", "a,b\n1,2\n3,x\n", "f.csv:3: column 2: value \"x\" in column \"b\" is not a number"},
		{"nan", "a,b\nNaN,2\n", "f.csv:2: column 1: value \"NaN\" in column \"a\" is not finite"},
		{"inf", "a,b\n1,+Inf\n", "f.csv:2: column 2: value \"+Inf\" in column \"b\" is not finite"},
		{"huge", "a\n1e400\n", "f.csv:2: column 1: value \"1e400\" in column \"a\" is not a number"},
		{"bad quote", "a,b\n1,\"2\n", "f.csv:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCSV("f.csv", strings.NewReader(tc.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestReadCSVMissingAndNotGzip(t *testing.T) {
	_, err := ReadCSV("testdata/does-not-exist.csv")
	require.ErrorContains(t, err, "does-not-exist.csv")
	_, err = ReadCSV("../examples/data/ring8_test.csv.gz") // missing too
	require.Error(t, err)
}
