//go:build !amd64

package energy

func softplusKernel(n int, z, h, d1, d2, d3 *float64, flags int) {
	panic("energy: softplusKernel without amd64")
}
