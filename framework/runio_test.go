package framework

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParamsRoundTrip(t *testing.T) {
	blocks := []Block{{"W", []int{2, 2}}, {"b", []int{2}}}
	theta := []float64{1, 2, 3, 4, 5, 6}
	pf, err := NewParamsFile("toy", blocks, theta)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "params.json")
	require.NoError(t, WriteJSONAtomic(path, pf))
	got := make([]float64, 6)
	require.NoError(t, ReadParams(path, blocks, got))
	assert.Equal(t, theta, got)
	entries, _ := os.ReadDir(filepath.Dir(path))
	assert.Len(t, entries, 1, "no temporary file left behind")
}

func TestParseParamsErrors(t *testing.T) {
	blocks := []Block{{"W", []int{2, 2}}, {"b", []int{2}}}
	good := `{"blocks":[{"name":"W","shape":[2,2],"values":[1,2,3,4]},{"name":"b","shape":[2],"values":[5,6]}]}`
	require.NoError(t, ParseParams("p.json", []byte(good), blocks, make([]float64, 6)))
	for _, tc := range []struct{ name, in, want string }{
		{"empty", ``, "not a params.json"},
		{"truncated", good[:40], "not a params.json"},
		{"not object", `[1,2]`, "not a params.json"},
		{"unknown field", `{"blocks":[],"extra":1}`, "unknown field"},
		{"missing block", `{"blocks":[{"name":"W","shape":[2,2],"values":[1,2,3,4]}]}`, `block "b" is missing`},
		{"wrong shape", `{"blocks":[{"name":"W","shape":[4],"values":[1,2,3,4]},{"name":"b","shape":[2],"values":[5,6]}]}`, `block "W" has shape [4], the energy wants [2 2]`},
		{"wrong count", `{"blocks":[{"name":"W","shape":[2,2],"values":[1,2,3]},{"name":"b","shape":[2],"values":[5,6]}]}`, `has 3 values`},
		{"extra block", `{"blocks":[{"name":"W","shape":[2,2],"values":[1,2,3,4]},{"name":"b","shape":[2],"values":[5,6]},{"name":"z","shape":[1],"values":[0]}]}`, `block "z" is not a parameter`},
		{"duplicate", `{"blocks":[{"name":"b","shape":[2],"values":[5,6]},{"name":"b","shape":[2],"values":[5,6]}]}`, `appears twice`},
		{"string value", `{"blocks":[{"name":"W","shape":[2,2],"values":["a",2,3,4]}]}`, "not a params.json"},
		{"huge", `{"blocks":[{"name":"W","shape":[2,2],"values":[1e999,2,3,4]}]}`, "not a params.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ParseParams("p.json", []byte(tc.in), blocks, make([]float64, 6))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "p.json")
		})
	}
}
