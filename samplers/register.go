package samplers

import (
	"github.com/goebm/goebm/framework"
)

// Compile-time checks of the contracts each sampler satisfies.
var (
	_ framework.Sampler  = (*ULA)(nil)
	_ framework.Sampler  = (*MALA)(nil)
	_ framework.Stateful = (*MALA)(nil)
	_ framework.Sampler  = (*Annealed)(nil)
	_ framework.Sampler  = (*HMC)(nil)
	_ framework.Stateful = (*HMC)(nil)
	_ framework.Sampler  = (*Gibbs)(nil)
)

// Register adds the samplers to r.Samplers under their TOML names: ula, mala, annealed,
// hmc and gibbs. Each entry's options are the method's part of the [sampler] table; the
// driver's part is DrawOptions.
func Register(r *framework.Registry) {
	r.Samplers["ula"] = entry("ula", "unadjusted Langevin: x ← x − h∇E + √(2h)ξ, every move accepted (biased by O(h))",
		DefaultULAOptions, NewULA)
	r.Samplers["mala"] = entry("mala", "Metropolis-adjusted Langevin, step size adapted during warm-up",
		DefaultMALAOptions, NewMALA)
	r.Samplers["annealed"] = entry("annealed", "annealed Langevin over decreasing noise levels or temperatures (Song & Ermon 2019)",
		DefaultAnnealedOptions, NewAnnealed)
	r.Samplers["hmc"] = entry("hmc", "Hamiltonian Monte Carlo with leapfrog steps, step size adapted during warm-up",
		DefaultHMCOptions, NewHMC)
	r.Samplers["gibbs"] = entry("gibbs", "Gibbs sampling for binary and spin energies: single-site, or block (rbm)",
		DefaultGibbsOptions, NewGibbs)
}

// entry builds the registry entry of a sampler with framework.NewEntry; samplers need
// nothing from the run's Env.
func entry[O any, S framework.Sampler](name, help string, defaults func() O, build func(O) (S, error)) framework.Entry[framework.Sampler] {
	return framework.NewEntry(name, help, defaults, func(o O, _ framework.Env) (framework.Sampler, error) { return build(o) })
}
