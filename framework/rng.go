package framework

import (
	"hash/fnv"
	"math/rand/v2"
)

// Streams splits one run seed into independent random streams, one per component and index
// (chain, worker, noise source), so results do not depend on how work is scheduled.
// A stream is a PCG generator seeded with (seed ⊕ hash(component), index).
type Streams struct {
	Seed uint64
}

// PCG returns the generator of stream (component, index). Its state can be saved with
// MarshalBinary for checkpoints.
func (s Streams) PCG(component string, index uint64) *rand.PCG {
	h := fnv.New64a()
	h.Write([]byte(component))
	return rand.NewPCG(s.Seed^h.Sum64(), index^0x9e3779b97f4a7c15)
}

// Rand returns a *rand.Rand over stream (component, index).
func (s Streams) Rand(component string, index uint64) *rand.Rand {
	return rand.New(s.PCG(component, index))
}

// Rands returns n generators, streams (component, 0..n−1): one per chain.
func (s Streams) Rands(component string, n int) []*rand.Rand {
	r := make([]*rand.Rand, n)
	for i := range r {
		r[i] = s.Rand(component, uint64(i))
	}
	return r
}
