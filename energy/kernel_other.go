//go:build !amd64 || purego

package energy

var haveFMA = false

func kern4x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int) {
	panic("energy: kern4x8 without amd64")
}

func kdot4(k int, a *float64, lda int, b *float64, s *float64) {
	panic("energy: kdot4 without amd64")
}

func transpose4(blocks int, src *float64, lds int, dst *float64, ldd int) {
	panic("energy: transpose4 without amd64")
}

func kern6x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int) {
	panic("energy: kern6x8 without amd64")
}
