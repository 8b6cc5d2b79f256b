//go:build !amd64 || purego

package energy

// Without the assembly (another architecture, or the purego build tag) every kernel runs
// its Go twin: haveFMA is false, and these are never called.
var haveFMA = false

func kern4x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int) {
	panic("energy: no assembly kernels in this build")
}

func kern6x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int) {
	panic("energy: no assembly kernels in this build")
}

func kdot4(k int, a *float64, lda int, b *float64, s *float64) {
	panic("energy: no assembly kernels in this build")
}

func transpose4(blocks int, src *float64, lds int, dst *float64, ldd int) {
	panic("energy: no assembly kernels in this build")
}

func spExpKernel(n int, z, e *float64) { panic("energy: no assembly kernels in this build") }

func spFinishKernel(n int, z, e, h, d1, d2, d3 *float64, flags int) {
	panic("energy: no assembly kernels in this build")
}

func expKernel(n int, x, y *float64) { panic("energy: no assembly kernels in this build") }

func logKernel(n int, x, y *float64) { panic("energy: no assembly kernels in this build") }

func gmmPlaneKernel(n int, x *float64, k int, par, lbuf, gx, mx, t *float64) {
	panic("energy: no assembly kernels in this build")
}
