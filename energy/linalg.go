package energy

import (
	"math"
	"sync"

	"github.com/goebm/goebm/internal/numeric"

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

// gemm computes C = alpha·op(A)·op(B) + beta·C by one of three algorithms, chosen by the
// shape of C alone: gemmFMA (mr×8 tiles of the micro-kernel) when C has at least 8 columns, or
// when A is transposed and C has fewer than 8 rows; gemmDot (dot products along the inner
// dimension: ∇ₓE = G·W₁, the top layer h·W_Lᵀ) when C is narrower and A is not transposed; and
// gemmFMATransposed (the micro-kernel on Cᵀ = op(B)ᵀ·A: the weight gradient of the first
// layer) otherwise. Every kernel has an assembly version (AVX2/FMA, used where the CPU has
// them) and a Go twin (kernels.go) that performs the same fused multiply-adds in the same
// order, so the result does not depend on the machine, bit for bit.
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
	switch {
	case c.Cols >= 8 || (ta && c.Rows < 8):
		gemmFMA(ta, tb, alpha, a, b, beta, c, k)
	case !ta:
		gemmDot(tb, alpha, a, b, beta, c, k)
	default:
		gemmFMATransposed(tb, alpha, a, b, beta, c, k)
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
	if k == 0 || alpha == 0 {
		scaleC(beta, c)
		return
	}
	over := beta == 0 // write alpha·s over C rather than clear it and add
	if !over {
		scaleC(beta, c)
	}
	// Column j of op(B), contiguous: row j of B when transposed, else a copy.
	bt, ldt := b.Data, b.Stride
	if !tb {
		sp := scratch.Get().(*[]float64)
		defer scratch.Put(sp)
		*sp = numeric.Resize(*sp, n*k)
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
				kdot(k4, a.Data[i*a.Stride:], a.Stride, col, &s)
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
				if over {
					c.Data[(i+r)*c.Stride+j] = float64(alpha * acc)
				} else {
					c.Data[(i+r)*c.Stride+j] += float64(alpha * acc) // rounded before the sum, as kern4x8
				}
			}
		}
	}
}

// gemmFMATransposed is gemm for C = alpha·Aᵀ·op(B) + beta·C with fewer than 8 columns: it
// computes Cᵀ = op(B)ᵀ·A with kern4x8 (the rows of op(B)ᵀ padded with zeros to a multiple of
// 4, so that they fill its tiles) into a scratch matrix, and adds its transpose to beta·C.
// Each element is the same fused sum in inner-dimension order as gemmFMA's.
func gemmFMATransposed(tb bool, alpha float64, a, b blas64.General, beta float64, c blas64.General, k int) {
	m, n := c.Rows, c.Cols
	if k == 0 || alpha == 0 {
		scaleC(beta, c)
		return
	}
	if beta != 0 {
		scaleC(beta, c)
	}
	n4 := (n + 3) &^ 3
	sp := scratch.Get().(*[]float64)
	defer scratch.Put(sp)
	*sp = numeric.Resize(*sp, n4*k+n4*m)
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
			if beta == 0 {
				crow[j] = ct[j*m+i]
			} else {
				crow[j] += ct[j*m+i]
			}
		}
	}
}

// scratch holds the packed copies of gemm's operands, reused between calls.
var scratch = sync.Pool{New: func() any { return new([]float64) }}

// gemmFMA is gemm by 6×8 and 4×8 tiles of the assembly kernels kern6x8 and kern4x8: every
// element is Σₗ A(i,l)B(l,j)
// accumulated from zero with fused multiply-adds in l order, times alpha, added to beta·C. The
// tiles that C's shape leaves over (its last rows, its last n mod 8 columns) go
// through the same kernel on zero-padded copies of their rows of A and columns of B, so every
// element is computed the same way: a row's result is independent of the other rows and of
// whether it falls in a whole tile. A transposed B is first copied row-major (transpose4),
// since the kernel reads 8 consecutive entries of a row of B.
func gemmFMA(ta, tb bool, alpha float64, a, b blas64.General, beta float64, c blas64.General, k int) {
	m, n := c.Rows, c.Cols
	if k == 0 || alpha == 0 {
		scaleC(beta, c)
		return
	}
	// With beta = 0 the kernels write alpha·Σ over C (as 0 + alpha·Σ, but for the sign of a
	// zero) instead of clearing C and adding to it.
	over := 0
	if beta == 0 {
		over = 1
	} else {
		scaleC(beta, c)
	}
	m4, n8 := m&^3, n&^7
	np := (n + 7) / 8
	// op(B) is copied into panels of 8 columns (k×8, contiguous) when it is transposed or
	// when enough rows of C reuse them: the kernels then stream through B in order. Only
	// the last n − n8 columns are copied otherwise (zero-padded to 8).
	packed := tb || (m >= 16 && !ta)
	size := 0
	switch {
	case packed:
		size += np * 8 * k
	case n8 < n:
		size += 8 * k
	}
	if (n8 > 0 && (m%6)%4 != 0) || (n8 < n && m4 < m) {
		size += 4 * k // pack's rows
	}
	var buf []float64
	if size > 0 {
		sp := scratch.Get().(*[]float64)
		defer scratch.Put(sp)
		*sp = numeric.Resize(*sp, size)
		buf = *sp
	}
	take := func(n int) []float64 {
		s := buf[:n]
		buf = buf[n:]
		return s
	}
	// panel returns the address and row stride of columns j…j+7 of op(B) for the kernels.
	var pan []float64
	var bp []float64 // the last n − n8 columns, zero-padded to 8
	if packed {
		pan = take(np * 8 * k)
		packPanels(pan, b, tb, n, k)
		if n8 < n {
			bp = pan[(np-1)*8*k:]
		}
	} else if n8 < n {
		bp = take(8 * k)
		for l := 0; l < k; l++ {
			row := bp[l*8 : l*8+8]
			clear(row[n-n8:])
			copy(row, b.Data[l*b.Stride+n8:l*b.Stride+n])
		}
	}
	panel := func(j int) ([]float64, int) {
		if packed {
			return pan[(j/8)*8*k:], 8
		}
		return b.Data[j:], b.Stride
	}
	ars, acs := a.Stride, 1
	if ta {
		ars, acs = 1, a.Stride
	}
	var tile [32]float64
	// edge runs kern4x8 on a 4×8 tile of C held in tile: rows i0…i0+mr−1 and columns
	// j0…j0+nr−1 of C are copied in (the rest zero), updated and copied back.
	edge := func(ap []float64, ars, acs int, bp []float64, ldb, i0, mr, j0, nr int) {
		if over == 0 {
			tile = [32]float64{}
			for r := 0; r < mr; r++ {
				copy(tile[r*8:r*8+nr], c.Data[(i0+r)*c.Stride+j0:])
			}
		}
		kern(4, k, ap, ars, acs, bp, ldb, tile[:], 8, alpha, over)
		for r := 0; r < mr; r++ {
			copy(c.Data[(i0+r)*c.Stride+j0:(i0+r)*c.Stride+j0+nr], tile[r*8:r*8+nr])
		}
	}
	// pack copies rows i0…m−1 of op(A) (at most 3) into ap, row-major, zero-padded to 4.
	var ap []float64
	pack := func(i0 int) {
		if ap == nil {
			ap = take(4 * k)
		}
		clear(ap[(m-i0)*k:])
		for r := 0; r < m-i0; r++ {
			row := ap[r*k : (r+1)*k]
			for l := range row {
				row[l] = a.Data[(i0+r)*ars+l*acs]
			}
		}
	}
	// Whole 8-column tiles: six rows at a time, then four, then the last rows padded.
	i := 0
	if n8 > 0 {
		for ; i+6 <= m; i += 6 {
			for j := 0; j < n8; j += 8 {
				bj, ldb := panel(j)
				kern(6, k, a.Data[i*ars:], ars, acs, bj, ldb, c.Data[i*c.Stride+j:], c.Stride, alpha, over)
			}
		}
		for ; i+4 <= m; i += 4 {
			for j := 0; j < n8; j += 8 {
				bj, ldb := panel(j)
				kern(4, k, a.Data[i*ars:], ars, acs, bj, ldb, c.Data[i*c.Stride+j:], c.Stride, alpha, over)
			}
		}
		if i < m {
			pack(i)
			for j := 0; j < n8; j += 8 {
				bj, ldb := panel(j)
				edge(ap, k, 1, bj, ldb, i, m-i, j, 8)
			}
		}
	}
	// The last n − n8 columns: four rows at a time, then the last rows padded.
	if n8 < n {
		for i = 0; i+4 <= m; i += 4 {
			edge(a.Data[i*ars:], ars, acs, bp, 8, i, 4, n8, n-n8)
		}
		if i < m {
			pack(i)
			edge(ap, k, 1, bp, 8, i, m-i, n8, n-n8)
		}
	}
}

// packPanels copies op(B) (k×n; B is n×k when tb) into ⌈n/8⌉ panels of 8 columns: panel p
// holds columns 8p…8p+7 as a k×8 row-major block at pan[8pk:], zero-padded past column n.
// A transposed B goes through transpose4, four rows of B at a time.
func packPanels(pan []float64, b blas64.General, tb bool, n, k int) {
	np := (n + 7) / 8
	k4 := k &^ 3
	for p := 0; p < np; p++ {
		dst := pan[p*8*k : (p+1)*8*k]
		w := min(8, n-8*p) // columns in this panel
		if !tb {
			for l := 0; l < k; l++ {
				row := dst[l*8 : l*8+8]
				copy(row, b.Data[l*b.Stride+8*p:l*b.Stride+8*p+w])
				clear(row[w:])
			}
			continue
		}
		for j0 := 0; j0 < 8; j0 += 4 {
			rows := min(4, w-j0)
			if rows == 4 && k4 > 0 {
				transpose(k4/4, b.Data[(8*p+j0)*b.Stride:], b.Stride, dst[j0:], 8)
			}
			for jj := j0; jj < j0+4; jj++ {
				lo := k4
				if rows < 4 || k4 == 0 {
					lo = 0
				}
				for l := lo; l < k; l++ {
					v := 0.0
					if jj < w {
						v = b.Data[(8*p+jj)*b.Stride+l]
					}
					dst[l*8+jj] = v
				}
			}
		}
	}
}

// weightOf returns w[i], or 1 when w is nil (the Request convention).
func weightOf(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

// GemmKernel names the matrix-product kernel that the built-in energies use on this machine.
// Both compute the same bits.
func GemmKernel() string {
	if haveFMA {
		return "goebm AVX2/FMA assembly (6×8 and 4×8 tiles, 4-row dot products)"
	}
	return "goebm Go twins of the assembly (math.FMA)"
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C with the kernels of the built-in energies (see
// GemmKernel): exported so that benchmarks can measure them and energies elsewhere use them.
// A row of C does not depend on the other rows of op(A), bit for bit.
func Gemm(tA, tB blas.Transpose, alpha float64, a, b blas64.General, beta float64, c blas64.General) {
	gemm(tA, tB, alpha, a, b, beta, c)
}
