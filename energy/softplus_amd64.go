//go:build amd64 && !purego

package energy

// softplusKernel is softplusGeneric on n elements (a multiple of 4) with AVX2 and FMA; the
// outputs whose flag (spH, spD1, spD2, spD3) is not set are not written and may be nil.
//
//go:noescape
func softplusKernel(n int, z, h, d1, d2, d3 *float64, flags int)

// expKernel is expGeneric on n elements (a multiple of 4) with AVX2 and FMA.
//
//go:noescape
func expKernel(n int, x, y *float64)

// gmmPlaneKernel is gmmPlaneGeneric on n rows (a multiple of 4) with AVX2 and FMA.
//
//go:noescape
func gmmPlaneKernel(n int, x *float64, k int, par, lbuf, gx, mx, t *float64)

// spExpKernel and spFinishKernel are softplusKernel in two passes over the same elements,
// exp(−|z|) first: each pass has a shorter chain of dependent operations per block of four,
// so that more blocks are in flight at once.
//
//go:noescape
func spExpKernel(n int, z, e *float64)

//go:noescape
func spFinishKernel(n int, z, e, h, d1, d2, d3 *float64, flags int)

// logKernel is logGeneric on n elements (a multiple of 4) with AVX2 and FMA.
//
//go:noescape
func logKernel(n int, x, y *float64)
