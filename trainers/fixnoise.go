package trainers

import "math/rand/v2"

// fixedNoise implements framework.NoiseFixer for the trainers that draw noise at each step
// (nce, dsm, ssm): after FixNoise(seed), source returns a stream re-seeded with seed at every
// step, so that every step draws the same noise in the same order.
type fixedNoise struct {
	on   bool
	seed uint64
	pcg  rand.PCG
	rng  *rand.Rand
}

// FixNoise makes every later Step draw its noise from a fresh stream of seed.
func (f *fixedNoise) FixNoise(seed uint64) { f.on, f.seed = true, seed }

// source returns the random source of a step: r, or the re-seeded fixed stream.
func (f *fixedNoise) source(r *rand.Rand) *rand.Rand {
	if !f.on {
		return r
	}
	f.pcg.Seed(f.seed, 0x6e6f697365)
	if f.rng == nil {
		f.rng = rand.New(&f.pcg)
	}
	return f.rng
}

// FixNoise does nothing: the score-matching loss draws no noise.
func (t *ScoreMatching) FixNoise(uint64) {}

// FixNoise does nothing: the pseudolikelihood draws no noise.
func (t *Pseudolikelihood) FixNoise(uint64) {}

// FixNoise does nothing: ratio matching draws no noise.
func (t *RatioMatching) FixNoise(uint64) {}
