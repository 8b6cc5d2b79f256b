package energy

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// general returns the rows×cols row-major matrix held in the first rows·cols entries of s.
func general(rows, cols int, s []float64) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: max(cols, 1), Data: s[:rows*cols]}
}

// rawOf returns the raw matrix of m (which may be a view with a stride larger than its width).
func rawOf(m *mat.Dense) blas64.General { return m.RawMatrix() }

// Tile sizes of gemm. gonum's native Dgemm goes parallel (spawning goroutines, which
// allocate) as soon as C spans 4 blocks of 64×64; energies are already evaluated on several
// chunks at once, so gemm cuts C into tiles of at most 3 such blocks, each multiplied
// serially. A serial product sums over the inner dimension in order, so the result for a row
// of C does not depend on the number of rows.
const (
	tileSmall = 64
	tileLarge = 3 * 64
)

// smallDim is the inner or outer dimension at or below which gemm multiplies with plain
// loops when the CPU has no AVX2/FMA: a BLAS kernel of dot products or axpys of length 2
// spends its time in calls.
const smallDim = 4

// gemm computes C = alpha·op(A)·op(B) + beta·C. With AVX2/FMA it uses the assembly kernels:
// kern4x8 by 4×8 tiles of C when C has at least 8 columns (any inner dimension, down to the
// input width 2 of an MLP's first layer), kdot4 (dot products along the inner dimension)
// when C is narrower and A is not transposed (∇ₓE = G·W₁, the top layer h·W_Lᵀ), and kern4x8
// on the transposed product Cᵀ = op(B)ᵀ·A when C is narrow and A transposed (the weight
// gradient of the first layer). Without them: plain loops when the inner dimension or the
// width of C is at most smallDim, and otherwise blas64.Gemm tile by tile (see tileLarge).
//
// In every path an element of C depends only on its row of op(A) and its column of op(B),
// and the path depends on the shape of C through its width only, so a row's result does not
// depend on how many rows are multiplied with it.
func gemm(tA, tB blas.Transpose, alpha float64, a, b blas64.General, beta float64, c blas64.General) {
	if c.Rows == 0 || c.Cols == 0 {
		return
	}
	k := a.Cols
	if tA != blas.NoTrans {
		k = a.Rows
	}
	ta, tb := tA != blas.NoTrans, tB != blas.NoTrans
	if haveFMA {
		switch {
		case c.Cols >= 8 || (ta && c.Rows < 8):
			gemmFMA(ta, tb, alpha, a, b, beta, c, k)
		case !ta:
			gemmDot(tb, alpha, a, b, beta, c, k)
		default:
			gemmFMATransposed(tb, alpha, a, b, beta, c, k)
		}
		return
	}
	if k <= smallDim || c.Cols <= smallDim {
		gemmSmall(ta, tb, alpha, a, b, beta, c, k)
		return
	}
	mt, nt := tileLarge, tileSmall
	if c.Cols > tileSmall {
		mt, nt = tileSmall, tileLarge
	}
	if c.Rows <= mt && c.Cols <= nt {
		blas64.Gemm(tA, tB, alpha, a, b, beta, c)
		return
	}
	for i0 := 0; i0 < c.Rows; i0 += mt {
		i1 := min(i0+mt, c.Rows)
		as := a
		if tA == blas.NoTrans {
			as.Rows = i1 - i0
			as.Data = a.Data[i0*a.Stride:]
		} else {
			as.Cols = i1 - i0
			as.Data = a.Data[i0:]
		}
		for j0 := 0; j0 < c.Cols; j0 += nt {
			j1 := min(j0+nt, c.Cols)
			bs := b
			if tB == blas.NoTrans {
				bs.Cols = j1 - j0
				bs.Data = b.Data[j0:]
			} else {
				bs.Rows = j1 - j0
				bs.Data = b.Data[j0*b.Stride:]
			}
			cs := blas64.General{Rows: i1 - i0, Cols: j1 - j0, Stride: c.Stride, Data: c.Data[i0*c.Stride+j0:]}
			blas64.Gemm(tA, tB, alpha, as, bs, beta, cs)
		}
	}
}

// scaleC sets C = beta·C (zero when beta is zero, whatever C held).
func scaleC(beta float64, c blas64.General) {
	if beta == 1 {
		return
	}
	for i := 0; i < c.Rows; i++ {
		row := c.Data[i*c.Stride : i*c.Stride+c.Cols]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// gemmDot is gemm for A not transposed by dot products along the inner dimension: rows of A
// four at a time against each column of op(B) with kdot4, the last k mod 4 products and the
// last rows in Go with the same arithmetic. Each element is alpha·s rounded, added to beta·C.
func gemmDot(tb bool, alpha float64, a, b blas64.General, beta float64, c blas64.General, k int) {
	m, n := c.Rows, c.Cols
	scaleC(beta, c)
	if k == 0 || alpha == 0 {
		return
	}
	// Column j of op(B), contiguous: row j of B when transposed, else a copy.
	bt, ldt := b.Data, b.Stride
	if !tb {
		sp := scratch.Get().(*[]float64)
		defer scratch.Put(sp)
		*sp = grow(*sp, n*k)
		t := *sp
		for l := 0; l < k; l++ {
			for j, v := range b.Data[l*b.Stride : l*b.Stride+n] {
				t[j*k+l] = v
			}
		}
		bt, ldt = t, k
	}
	k4 := k &^ 3
	m4 := m &^ 3
	var s [4]float64
	for i := 0; i < m; i += 4 {
		rows := min(4, m-i)
		for j := 0; j < n; j++ {
			col := bt[j*ldt : j*ldt+k]
			if rows == 4 && k4 > 0 {
				kdot4(k4, &a.Data[i*a.Stride], a.Stride, &col[0], &s[0])
			}
			for r := 0; r < rows; r++ {
				row := a.Data[(i+r)*a.Stride : (i+r)*a.Stride+k]
				var acc float64
				if i < m4 && k4 > 0 {
					acc = s[r]
				} else {
					acc = dotLanes(row[:k4], col[:k4])
				}
				for l := k4; l < k; l++ {
					acc = math.FMA(row[l], col[l], acc)
				}
				c.Data[(i+r)*c.Stride+j] += float64(alpha * acc) // rounded before the sum, as kern4x8
			}
		}
	}
}

// dotLanes is kdot4's arithmetic for one row: four lane sums with fused multiply-adds in
// order, then (lane0 + lane2) + (lane1 + lane3). len(x) is a multiple of 4.
func dotLanes(x, y []float64) float64 {
	var l0, l1, l2, l3 float64
	for i := 0; i+3 < len(x); i += 4 {
		l0 = math.FMA(x[i], y[i], l0)
		l1 = math.FMA(x[i+1], y[i+1], l1)
		l2 = math.FMA(x[i+2], y[i+2], l2)
		l3 = math.FMA(x[i+3], y[i+3], l3)
	}
	return (l0 + l2) + (l1 + l3)
}

// gemmFMATransposed is gemm for C = alpha·Aᵀ·op(B) + beta·C with fewer than 8 columns: it
// computes Cᵀ = op(B)ᵀ·A with kern4x8 (the rows of op(B)ᵀ padded with zeros to a multiple of
// 4, so that they fill its tiles) into a scratch matrix, and adds its transpose to beta·C.
// Each element is the same fused sum in inner-dimension order as gemmFMA's.
func gemmFMATransposed(tb bool, alpha float64, a, b blas64.General, beta float64, c blas64.General, k int) {
	m, n := c.Rows, c.Cols
	scaleC(beta, c)
	if k == 0 || alpha == 0 {
		return
	}
	n4 := (n + 3) &^ 3
	sp := scratch.Get().(*[]float64)
	defer scratch.Put(sp)
	*sp = grow(*sp, n4*k+n4*m)
	p, ct := (*sp)[:n4*k], (*sp)[n4*k:]
	clear(p)
	for j := 0; j < n; j++ {
		row := p[j*k : (j+1)*k]
		if tb {
			copy(row, b.Data[j*b.Stride:j*b.Stride+k])
		} else {
			for l := range row {
				row[l] = b.Data[l*b.Stride+j]
			}
		}
	}
	Ct := general(n4, m, ct)
	gemmFMA(false, false, alpha, general(n4, k, p), a, 0, Ct, k)
	for i := 0; i < m; i++ {
		crow := c.Data[i*c.Stride : i*c.Stride+n]
		for j := range crow {
			crow[j] += ct[j*m+i]
		}
	}
}

// gemmSmall is gemm by plain loops, summing over the inner dimension in order.
func gemmSmall(ta, tb bool, alpha float64, a, b blas64.General, beta float64, c blas64.General, k int) {
	// A(i,l) = a[i*ars + l*acs], B(l,j) = b[l*brs + j*bcs]
	ars, acs := a.Stride, 1
	if ta {
		ars, acs = 1, a.Stride
	}
	brs, bcs := b.Stride, 1
	if tb {
		brs, bcs = 1, b.Stride
	}
	for i := 0; i < c.Rows; i++ {
		crow := c.Data[i*c.Stride : i*c.Stride+c.Cols]
		ai := a.Data[i*ars:]
		for j := range crow {
			bj := b.Data[j*bcs:]
			s := 0.0
			if acs == 1 && brs == 1 {
				for l, av := range ai[:k] {
					s += av * bj[l]
				}
			} else {
				for l := 0; l < k; l++ {
					s += ai[l*acs] * bj[l*brs]
				}
			}
			if beta == 0 {
				crow[j] = alpha * s
			} else {
				crow[j] = beta*crow[j] + alpha*s
			}
		}
	}
}

// scratch holds transposed copies of B for gemmFMA, reused between calls.
var scratch = sync.Pool{New: func() any { return new([]float64) }}

// gemmFMA is gemm by 4×8 tiles of the assembly kernel kern4x8, the rest of C by the same
// arithmetic in Go: every element is Σₗ A(i,l)B(l,j) accumulated from zero with fused
// multiply-adds in l order, times alpha, added to beta·C. A row's result is therefore
// independent of the other rows and of whether it falls in a tile. A transposed B is first
// copied row-major, since the kernel reads 8 consecutive entries of a row of B.
func gemmFMA(ta, tb bool, alpha float64, a, b blas64.General, beta float64, c blas64.General, k int) {
	m, n := c.Rows, c.Cols
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c.Data[i*c.Stride : i*c.Stride+n]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if k == 0 || alpha == 0 {
		return
	}
	bd, ldb := b.Data, b.Stride
	if tb {
		sp := scratch.Get().(*[]float64)
		defer scratch.Put(sp)
		*sp = grow(*sp, k*n)
		t := *sp
		for j := 0; j < n; j++ {
			for l, v := range b.Data[j*b.Stride : j*b.Stride+k] {
				t[l*n+j] = v
			}
		}
		bd, ldb = t, n
	}
	ars, acs := a.Stride, 1
	if ta {
		ars, acs = 1, a.Stride
	}
	m4, n8 := m&^3, n&^7
	for i := 0; i < m4; i += 4 {
		for j := 0; j < n8; j += 8 {
			kern4x8(k, &a.Data[i*ars], ars, acs, &bd[j], ldb, &c.Data[i*c.Stride+j], c.Stride, alpha)
		}
	}
	for i := 0; i < m; i++ {
		j0 := n8
		if i >= m4 {
			j0 = 0
		}
		for j := j0; j < n; j++ {
			acc := 0.0
			for l := 0; l < k; l++ {
				acc = math.FMA(a.Data[i*ars+l*acs], bd[l*ldb+j], acc)
			}
			c.Data[i*c.Stride+j] += float64(alpha * acc) // rounded before the sum, as the kernel
		}
	}
}

// grow returns s resized to n, reallocating only when its capacity is too small. The
// contents are not preserved.
func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// weightOf returns w[i], or 1 when w is nil (the Request convention).
func weightOf(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}
