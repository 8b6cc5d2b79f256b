//go:build !amd64 || purego

package energy

func softplusKernel(n int, z, h, d1, d2, d3 *float64, flags int) {
	panic("energy: softplusKernel without amd64")
}

func expKernel(n int, x, y *float64) {
	panic("energy: expKernel without amd64")
}

func gmmPlaneKernel(n int, x *float64, k int, par, lbuf, gx, mx, t *float64) {
	panic("energy: gmmPlaneKernel without amd64")
}

func spExpKernel(n int, z, e *float64) { panic("energy: spExpKernel without amd64") }

func spFinishKernel(n int, z, e, h, d1, d2, d3 *float64, flags int) {
	panic("energy: spFinishKernel without amd64")
}

func logKernel(n int, x, y *float64) { panic("energy: logKernel without amd64") }
