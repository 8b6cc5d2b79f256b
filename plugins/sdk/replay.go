package sdk

import "math/rand/v2"

// replay is a rand.Source that returns the host's words in order, then continues from a
// fixed PCG stream, counting every word it hands out. Because every method of rand.Rand
// draws through Source.Uint64, an energy's InitParams driven by replay makes exactly the
// draws it would make on the host's *rand.Rand, so θ₀ is the same bit for bit as long as
// the host sent at least as many words as were used.
type replay struct {
	words []uint64
	used  uint64
	rest  *rand.PCG
}

func (r *replay) Uint64() uint64 {
	i := r.used
	r.used++
	if i < uint64(len(r.words)) {
		return r.words[i]
	}
	if r.rest == nil {
		r.rest = rand.NewPCG(0x676f65626d, uint64(len(r.words)))
	}
	return r.rest.Uint64()
}
