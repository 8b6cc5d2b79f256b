//go:build amd64 && !purego

package energy

import "golang.org/x/sys/cpu"

// haveFMA reports whether the AVX2 and FMA kernel of gemm can run on this machine.
var haveFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func kern4x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int)

//go:noescape
func kdot4(k int, a *float64, lda int, b *float64, s *float64)

//go:noescape
func transpose4(blocks int, src *float64, lds int, dst *float64, ldd int)

//go:noescape
func kern6x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int)
