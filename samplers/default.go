package samplers

import "github.com/goebm/goebm/framework"

// ForEnergy returns the sampler that fits an energy of this spec when none is configured, as
// its registry name and options (a pointer, as the registry entry's Options returns): "mala"
// with its defaults for continuous energies, and "gibbs" for binary and spin ones, in blocks
// (GibbsOptions.Block) where the energy offers exact block conditionals
// (framework.CapBlockGibbs). `ebm sample` on a run without a [sampler] and the evaluation's
// model samples and AIS both choose through it.
func ForEnergy(spec framework.Spec) (method string, opts any) {
	if !spec.Domain.Discrete() {
		o := DefaultMALAOptions()
		return "mala", &o
	}
	o := DefaultGibbsOptions()
	o.Block = spec.Caps.Has(framework.CapBlockGibbs)
	return "gibbs", &o
}
