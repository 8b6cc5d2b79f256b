//go:build amd64 && !purego

package energy

import "golang.org/x/sys/cpu"

// haveFMA reports whether the AVX2/FMA assembly kernels can run on this machine. Each has a
// Go twin with the same arithmetic, used where they cannot (and with the purego build tag).
var haveFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The assembly kernels, one per file (the matrix-product micro-kernels kern4x8 and kern6x8
// are generated from one template; see asmgen_test.go), with their Go twins:

// kern4x8 and kern6x8 (kern_mx8_amd64.s): kernGo, an mr×8 tile of a product.
//
//go:noescape
func kern4x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int)

//go:noescape
func kern6x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int)

// kdot4 (kdot4_amd64.s): dotLanes on four rows.
//
//go:noescape
func kdot4(k int, a *float64, lda int, b *float64, s *float64)

// transpose4 (transpose4_amd64.s): transpose, 4×4 blocks by register shuffles.
//
//go:noescape
func transpose4(blocks int, src *float64, lds int, dst *float64, ldd int)

// spExpKernel and spFinishKernel (softplus_amd64.s): softplusGeneric in two passes over n
// elements (a multiple of 4), exp(−|z|) first; the outputs whose flag (spH, spD1, spD2,
// spD3) is not set are not written and may be nil.
//
//go:noescape
func spExpKernel(n int, z, e *float64)

//go:noescape
func spFinishKernel(n int, z, e, h, d1, d2, d3 *float64, flags int)

// expKernel (exp_amd64.s): expGeneric on n elements (a multiple of 4).
//
//go:noescape
func expKernel(n int, x, y *float64)

// logKernel (log_amd64.s): logGeneric on n elements (a multiple of 4).
//
//go:noescape
func logKernel(n int, x, y *float64)

// gmmPlaneKernel (gmmplane_amd64.s): gmmPlaneGeneric on n rows (a multiple of 4).
//
//go:noescape
func gmmPlaneKernel(n int, x *float64, k int, par, lbuf, gx, mx, t *float64)
