package framework

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type jsonInner struct {
	A float64 `json:"a"`
	B []byte  `json:"b,omitempty"`
}

type jsonOuter struct {
	jsonInner
	Name   string             `json:"name"`
	P      *float64           `json:"p,omitempty"`
	Skip   float64            `json:"-"`
	Vals   []float64          `json:"vals"`
	Map    map[string]float64 `json:"map,omitempty"`
	Empty  []int              `json:"empty,omitempty"`
	When   time.Time          `json:"when"`
	hidden float64
	Plain  float32
}

// Values without NaN or Inf encode to exactly encoding/json's bytes; with them, to the same
// bytes with null in their places, and the record decodes with every finite value intact.
func TestMarshalJSONNonFinite(t *testing.T) {
	p := 2.5
	v := jsonOuter{jsonInner: jsonInner{A: 1, B: []byte{7}}, Name: "x<y", P: &p, Skip: 3,
		Vals: []float64{1, 2}, Map: map[string]float64{"k": 4, "a": 1}, Empty: []int{},
		When: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), hidden: 1, Plain: 0.1}
	for _, indent := range []bool{false, true} {
		want, err := marshalJSON(v, indent)
		require.NoError(t, err)
		got, err := MarshalJSON(v, indent)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
		// The fallback path alone gives the same bytes too.
		slow, err := marshalJSON(finiteJSON(reflect.ValueOf(v)), indent)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(slow), "indent %v", indent)
	}

	nan, inf := math.NaN(), math.Inf(1)
	bad := v
	bad.A, bad.P, bad.Vals, bad.Map = inf, &nan, []float64{1, math.Inf(-1)}, map[string]float64{"k": nan}
	_, err := json.Marshal(bad)
	require.Error(t, err, "encoding/json refuses it")
	got, err := MarshalJSON(bad, false)
	require.NoError(t, err)
	assert.Equal(t, `{"a":null,"b":"Bw==","name":"x\u003cy","p":null,"vals":[1,null],"map":{"k":null},"when":"2024-01-02T03:04:05Z","Plain":0.1}`, string(got))

	m := Metrics{Step: 3, Loss: nan, GradNorm: inf, Rollback: &Rollback{Quantity: "loss", Value: nan}}
	got, err = MarshalJSON(m, false)
	require.NoError(t, err)
	var back Metrics
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Equal(t, 3, back.Step)
	assert.Contains(t, string(got), `"loss":null`)
	assert.Contains(t, string(got), `"grad_norm":null`)
}
