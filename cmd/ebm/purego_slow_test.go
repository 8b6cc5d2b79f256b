//go:build slow

package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Training gives the same parameters, byte for byte, on a CPU with AVX2/FMA and on one
// without, emulated with GODEBUG=cpu.avx2=off,cpu.fma=off: the energies then take the Go
// twins of their kernels, math.FMA its software path, and the standard library its code for
// CPUs without FMA (math.Exp). Ten steps of each estimator of TestTrainingBitIdenticalPureGo:
// math.FMA in software makes a step about 60 times slower.
func TestTrainingBitIdenticalWithoutFMA(t *testing.T) {
	bin := buildTagged(t, "")
	for _, tr := range ring8Trainers {
		t.Run(tr.name, func(t *testing.T) {
			want := trainRing8(t, bin, tr.set, 10, nil)
			got := trainRing8(t, bin, tr.set, 10, []string{"GODEBUG=cpu.avx2=off,cpu.fma=off"})
			require.Equal(t, string(want), string(got), "params.json without AVX2/FMA differs from the run with them")
		})
	}
}
