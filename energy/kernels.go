package energy

// Kernels names the path that the built-in energies' vector kernels (matrix products, exp,
// log, softplus) take on this machine, chosen once at start-up: "avx2+fma" where the CPU has
// AVX2 and FMA and the assembly kernels run, else "go", their Go twins. Run folders record it
// (summary.json, provenance).
func Kernels() string {
	if haveFMA {
		return "avx2+fma"
	}
	return "go"
}
