package sdk

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/examples/doublewell/doublewell"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

type opts struct {
	N     int           `toml:"n" help:"a count"`
	Rate  float64       `toml:"rate" help:"a rate"`
	Name  string        `toml:"name" help:"a name" required:"true"`
	Sizes []int         `toml:"sizes" help:"widths"`
	Wait  time.Duration `toml:"wait" help:"a duration"`
	//lint:ignore U1000 an unexported field, which Schema must leave out
	hidden int
}

func (o *opts) Validate() error {
	if o.N < 0 {
		return &framework.KeyError{Key: "n", Msg: "must be ≥ 0"}
	}
	return nil
}

func TestSchema(t *testing.T) {
	s, err := Schema(&opts{N: 2, Rate: 0.5, Sizes: []int{4}, Wait: time.Second})
	require.NoError(t, err)
	got := map[string][3]string{}
	for _, f := range s {
		got[f.Key] = [3]string{f.Type, f.DefaultJson, f.Help}
	}
	assert.Equal(t, map[string][3]string{
		"n": {"int", "2", "a count"}, "rate": {"float", "0.5", "a rate"}, "name": {"string", `""`, "a name"},
		"sizes": {"[]int", "[4]", "widths"}, "wait": {"duration", `"1s"`, "a duration"},
	}, got)
	assert.True(t, s[2].Required)
}

func TestDecodeConfig(t *testing.T) {
	tests := []struct {
		name string
		json string
		keys []string
		want opts
	}{
		{"defaults kept", `{}`, nil, opts{N: 1, Rate: 2}},
		{"all set; an int fits a float", `{"n": 3, "rate": 4, "name": "x", "sizes": [1, 2], "wait": "1.5s"}`, nil,
			opts{N: 3, Rate: 4, Name: "x", Sizes: []int{1, 2}, Wait: 1500 * time.Millisecond}},
		{"unknown key and wrong types", `{"zz": 1, "n": 1.5, "rate": "fast"}`, []string{"n", "rate", "zz"}, opts{}},
		{"a float in an int array", `{"sizes": [1, 2.5]}`, []string{"sizes[1]"}, opts{}},
		{"Validate names its key", `{"n": -1}`, []string{"n"}, opts{}},
		{"not an object", `[1]`, []string{""}, opts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &opts{N: 1, Rate: 2}
			errs := DecodeConfig(tt.json, o)
			var keys []string
			for _, err := range errs {
				var ke *framework.KeyError
				require.ErrorAs(t, err, &ke)
				keys = append(keys, ke.Key)
			}
			assert.Equal(t, tt.keys, keys)
			if tt.keys == nil {
				assert.Equal(t, tt.want, *o)
			}
		})
	}
	assert.Len(t, DecodeConfig(`{"a": 1}`, nil), 1, "no options: every key is unknown")
	assert.Empty(t, DecodeConfig(``, nil))
}

// TestReplayReproducesTheHostStream: an energy drawing from a replay of the host's words
// makes the same draws as on the host's generator, and the count is exact.
func TestReplayReproducesTheHostStream(t *testing.T) {
	host := rand.New(rand.NewPCG(5, 6))
	words := make([]uint64, 100)
	for i := range words {
		words[i] = host.Uint64()
	}
	want := rand.New(rand.NewPCG(5, 6))
	src := &replay{words: words}
	got := rand.New(src)
	for i := 0; i < 30; i++ {
		assert.Equal(t, want.NormFloat64(), got.NormFloat64())
		assert.Equal(t, want.Float64(), got.Float64())
		assert.Equal(t, want.IntN(7), got.IntN(7))
	}
	used := src.used
	assert.LessOrEqual(t, used, uint64(100))
	// Running past the words goes on deterministically and counts every word.
	for i := 0; i < 200; i++ {
		got.Uint64()
	}
	assert.Equal(t, used+200, src.used)
}

func TestThetaCache(t *testing.T) {
	var c thetaCache
	data := wire.AppendFloats(nil, []float64{1, 2})
	_, err := c.get(&pb.Params{Version: 3}, 2)
	assert.Equal(t, codes.FailedPrecondition, status.Code(err))
	assert.Contains(t, err.Error(), "theta version 3 not cached")
	th, err := c.get(&pb.Params{Version: 3, Data: data}, 2)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2}, th)
	th, err = c.get(&pb.Params{Version: 3}, 2)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2}, th)
	for v := uint64(4); v < 4+thetaSlots; v++ {
		_, err = c.get(&pb.Params{Version: v, Data: data}, 2)
		require.NoError(t, err)
	}
	_, err = c.get(&pb.Params{Version: 3}, 2)
	assert.Error(t, err, "the oldest version was evicted")
	_, err = c.get(&pb.Params{Version: 9, Data: data[:8]}, 2)
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
	_, err = c.get(nil, 2)
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
}

func TestServerRefusesBeforeConfigure(t *testing.T) {
	entry := doublewell.Entry()
	s := newServer(nil, &entry, newConfig("t", nil))
	_, err := s.Evaluate(context.Background(), &pb.EvaluateRequest{Outputs: 1})
	assert.Equal(t, codes.FailedPrecondition, status.Code(err))
	resp, err := s.Configure(context.Background(), &pb.ConfigureRequest{ConfigJson: `{"jitter": -1}`, Env: &pb.Env{Dim: 2}})
	require.NoError(t, err)
	require.Len(t, resp.Diagnostics, 1)
	assert.Equal(t, "jitter", resp.Diagnostics[0].Key)
	desc, err := s.Describe(context.Background(), &pb.DescribeRequest{})
	require.NoError(t, err)
	assert.Nil(t, desc.Spec, "the spec depends on the configuration")
	assert.Contains(t, desc.Samplers, "mala")
	assert.Equal(t, int64(wire.MaxMessageBytes), desc.MaxMessageBytes)
}

func TestPanicBecomesInternalWithStack(t *testing.T) {
	h := recoverUnary(newConfig("t", nil).logger)
	info := &grpc.UnaryServerInfo{FullMethod: "/goebm.v1.Energy/Evaluate"}
	_, err := h(context.Background(), nil, info, func(context.Context, any) (any, error) { panic("oops") })
	require.Error(t, err)
	assert.Equal(t, codes.Internal, status.Code(err))
	assert.Contains(t, err.Error(), "panic in Evaluate: oops")
	assert.Contains(t, err.Error(), "goroutine", "the stack")
}
