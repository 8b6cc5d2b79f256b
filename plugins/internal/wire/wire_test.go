package wire

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

func TestFloatsAreLittleEndianFloat64(t *testing.T) {
	s := []float64{1, -2.5, math.Inf(1), math.SmallestNonzeroFloat64, math.Copysign(0, -1)}
	b := AppendFloats(nil, s)
	require.Len(t, b, 8*len(s))
	for i, v := range s {
		assert.Equal(t, math.Float64bits(v), binary.LittleEndian.Uint64(b[8*i:]), "element %d", i)
	}
	back, err := Floats(b)
	require.NoError(t, err)
	assert.Equal(t, s[:4], back[:4])
	assert.True(t, math.Signbit(back[4]))

	// Misaligned bytes decode through a copy.
	buf := make([]byte, 8*len(s)+1)
	copy(buf[1:], b)
	back, err = Floats(buf[1:])
	require.NoError(t, err)
	assert.Equal(t, s[:4], back[:4])

	_, err = Floats(make([]byte, 7))
	assert.Error(t, err)
}

func TestTensorRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := mat.NewDense(5, 7, nil)
	for i := 0; i < 5; i++ {
		for j := 0; j < 7; j++ {
			m.Set(i, j, rng.NormFloat64())
		}
	}
	tests := []struct {
		name string
		m    *mat.Dense
	}{
		{"contiguous", m},
		{"strided view", m.Slice(1, 4, 2, 5).(*mat.Dense)},
		{"single row", m.Slice(3, 4, 0, 7).(*mat.Dense)},
		{"empty", &mat.Dense{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := Tensor(tt.m)
			r, c := tt.m.Dims()
			assert.Equal(t, []int64{int64(r), int64(c)}, tn.Shape)
			back, err := Matrix("x", tn, r, c)
			require.NoError(t, err)
			if r > 0 {
				assert.True(t, mat.Equal(tt.m, back))
			}
		})
	}
}

func TestMatrixRejects(t *testing.T) {
	tests := []struct {
		name string
		t    *pb.Tensor
		msg  string
	}{
		{"missing", nil, "x is missing"},
		{"rank 1", &pb.Tensor{Shape: []int64{3}, Data: make([]byte, 24)}, "rank 1"},
		{"wrong width", &pb.Tensor{Shape: []int64{2, 4}, Data: make([]byte, 64)}, "shape 2×4, want n×3"},
		{"short data", &pb.Tensor{Shape: []int64{2, 3}, Data: make([]byte, 40)}, "40 bytes, want 8·2·3 = 48"},
		{"negative", &pb.Tensor{Shape: []int64{-1, 3}}, "shape -1×3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Matrix("x", tt.t, -1, 3)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func FuzzMatrix(f *testing.F) {
	f.Add(int64(2), int64(3), 48)
	f.Add(int64(-1), int64(3), 0)
	f.Add(int64(1<<40), int64(1<<40), 8)
	f.Fuzz(func(t *testing.T, r, c int64, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		m, err := Matrix("x", &pb.Tensor{Shape: []int64{r, c}, Data: make([]byte, n)}, -1, int(c))
		if err == nil {
			rows, cols := m.Dims()
			if r == 0 || c == 0 {
				if n != 0 {
					t.Fatalf("accepted an empty %d×%d with %d bytes", r, c, n)
				}
				return
			}
			if int64(rows) != r || int64(cols) != c || 8*rows*cols != n {
				t.Fatalf("accepted %d×%d with %d bytes as %d×%d", r, c, n, rows, cols)
			}
		}
	})
}

func TestSpecRoundTrip(t *testing.T) {
	s := framework.Spec{Name: "e", Dim: 3, Domain: framework.Spin,
		Blocks: []framework.Block{{Name: "W", Shape: []int{3, 3}}, {Name: "b", Shape: []int{3}}}, Caps: framework.CapMixed | framework.CapHVP}
	back, err := FromSpec(ToSpec(s))
	require.NoError(t, err)
	assert.Equal(t, s, back)
	for _, bad := range []*pb.Spec{
		nil, {Dim: 2, Name: ""}, {Name: "e", Dim: 0}, {Name: "e", Dim: 1, Domain: 9}, {Name: "e", Dim: 1, Capabilities: 1 << 9},
		{Name: "e", Dim: 1, Blocks: []*pb.Block{{Name: "a"}, {Name: "a"}}}, {Name: "e", Dim: 1, Blocks: []*pb.Block{{Name: "a", Shape: []int64{-2}}}},
	} {
		_, err := FromSpec(bad)
		assert.Error(t, err, "%v", bad)
	}
}

func TestConfigJSONKeepsIntsAndFloatsApart(t *testing.T) {
	js, err := ConfigJSON(map[string]any{"b": 3.0, "a": int64(3), "c": []any{1.5, int64(2)}, "d": map[string]any{"x": "s"}, "e": true, "f": []float64{1}})
	require.NoError(t, err)
	assert.Equal(t, `{"a":3,"b":3.0,"c":[1.5,2],"d":{"x":"s"},"e":true,"f":[1.0]}`, js)
	js, err = ConfigJSON(nil)
	require.NoError(t, err)
	assert.Equal(t, "{}", js)
	_, err = ConfigJSON(map[string]any{"x": math.NaN()})
	var ke *framework.KeyError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "x", ke.Key)
}

func TestCheckConfig(t *testing.T) {
	schema := []*pb.ConfigField{{Key: "n", Type: "int"}, {Key: "r", Type: "float"}, {Key: "h", Type: "[]int"}, {Key: "s", Type: "string", Required: true, Help: "a name"}}
	tests := []struct {
		name  string
		table map[string]any
		keys  []string
	}{
		{"all good, int fits float", map[string]any{"n": int64(1), "r": int64(2), "h": []any{int64(3)}, "s": "x"}, nil},
		{"unknown and wrong", map[string]any{"zz": 1, "n": 1.5, "h": []any{"a"}, "s": "x"}, []string{"h", "n", "zz"}},
		{"required missing", map[string]any{}, []string{"s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var keys []string
			for _, err := range CheckConfig(tt.table, schema) {
				var ke *framework.KeyError
				require.ErrorAs(t, err, &ke)
				keys = append(keys, ke.Key)
			}
			assert.Equal(t, tt.keys, keys)
		})
	}
}
