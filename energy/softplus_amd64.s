//go:build amd64 && !purego

#include "textflag.h"
#include "kconst_amd64.h"

// func spExpKernel(n int, z, e *float64)
//
// e[i] = exp(−|z[i]|) for i < n (a multiple of 4): the first pass of softplusKernel.
TEXT ·spExpKernel(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ z+8(FP), SI
	MOVQ e+16(FP), DI
	XORQ AX, AX
	SHRQ $2, CX
	JEQ  xdone
	VMOVUPD K_CLAMP, Y15  // 708
	VMOVUPD K_MAGIC, Y14 // magic
	VMOVUPD K_ONE, Y13 // 1

xloop:
	VMOVUPD (SI)(AX*1), Y0
	VANDPD  K_ABS, Y0, Y1        // a = |z|
	VMINPD  Y1, Y15, Y2         // m = 708 < a ? 708 : a (NaN stays)
	VXORPD  K_SIGN, Y2, Y2       // x = −m
	VMOVAPD Y14, Y3
	VFMADD231PD K_LOG2E, Y2, Y3   // t = x·log2e + magic
	VSUBPD  Y14, Y3, Y4         // kd = t − magic
	VMOVAPD Y2, Y5
	VFNMADD231PD K_LN2HI, Y4, Y5 // hi = x − kd·ln2hi
	VMULPD  K_LN2LO, Y4, Y6      // lo = kd·ln2lo
	VSUBPD  Y6, Y5, Y7          // r = hi − lo
	VPADDQ  K_BIAS, Y3, Y3
	VPSLLQ  $52, Y3, Y3         // 2^k
	VMULPD  Y7, Y7, Y8          // r2
	VMULPD  Y8, Y8, Y9          // r4
	VMULPD  Y9, Y9, Y10         // r8
	VMOVUPD K_TAYLOR1, Y11
	VFMADD213PD K_TAYLOR0, Y7, Y11  // a0 = r·c3 + c2
	VMOVUPD K_TAYLOR3, Y12
	VFMADD213PD K_TAYLOR2, Y7, Y12 // a1 = r·c5 + c4
	VFMADD231PD Y12, Y8, Y11     // b0 = r2·a1 + a0
	VMOVUPD K_TAYLOR5, Y5
	VFMADD213PD K_TAYLOR4, Y7, Y5  // a2 = r·c7 + c6
	VMOVUPD K_TAYLOR7, Y6
	VFMADD213PD K_TAYLOR6, Y7, Y6  // a3 = r·c9 + c8
	VFMADD231PD Y6, Y8, Y5       // b1 = r2·a3 + a2
	VMOVUPD K_TAYLOR9, Y4
	VFMADD213PD K_TAYLOR8, Y7, Y4  // a4 = r·c11 + c10
	VMOVUPD K_TAYLOR11, Y2
	VFMADD213PD K_TAYLOR10, Y7, Y2  // a5 = r·c13 + c12
	VFMADD231PD Y2, Y8, Y4       // b2 = r2·a5 + a4
	VFMADD231PD Y5, Y9, Y11      // d0 = r4·b1 + b0
	VFMADD231PD Y4, Y10, Y11     // Q = r8·b2 + d0
	VFMADD231PD Y11, Y8, Y7      // r + r2·Q
	VADDPD  Y13, Y7, Y7          // 1 + ·
	VMULPD  Y3, Y7, Y1           // e = exp(−|z|)
	VMOVUPD Y1, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNE  xloop

xdone:
	VZEROUPPER
	RET

// func spFinishKernel(n int, z, e, h, d1, d2, d3 *float64, flags int)
//
// The second pass of softplusKernel: from z and e = exp(−|z|), h[i] = softplus(z[i]) if
// flags&1, d1[i] = sigmoid(z[i]) if flags&2, d2[i] = e/u² if flags&4, d3[i] =
// s(1−s)(1−2s) if flags&8, for i < n (a multiple of 4).
TEXT ·spFinishKernel(SB), NOSPLIT, $0-64
	MOVQ n+0(FP), CX
	MOVQ z+8(FP), SI
	MOVQ e+16(FP), DI
	MOVQ h+24(FP), R8
	MOVQ d1+32(FP), R9
	MOVQ d2+40(FP), R10
	MOVQ d3+48(FP), R11
	MOVQ flags+56(FP), DX
	XORQ AX, AX
	SHRQ $2, CX
	JEQ  fdone
	VMOVUPD K_ONE, Y13 // 1

floop:
	VMOVUPD (SI)(AX*1), Y0
	VMOVUPD (DI)(AX*1), Y1
	VADDPD  Y13, Y1, Y2          // u = 1 + e
	VADDPD  K_TWO, Y1, Y4       // v = 2 + e
	VMULPD  Y4, Y2, Y5           // u·v
	VDIVPD  Y5, Y13, Y5          // q0 = 1/(u·v)
	VMULPD  Y5, Y4, Y6           // rr = v·q0 = 1/u
	VMULPD  Y6, Y1, Y7           // e·rr
	VBLENDVPD Y0, Y7, Y6, Y8     // s = z < 0 (sign bit) ? e·rr : rr
	VMULPD  Y6, Y7, Y7           // s(1 − s) = (e·rr)·rr

	TESTQ $1, DX
	JEQ   fnoh
	VMULPD  Y2, Y1, Y9           // e·u
	VMULPD  Y5, Y9, Y9           // q = e·u·q0 = e/(2 + e)
	VMULPD  Y9, Y9, Y10          // z = q²
	VMULPD  Y10, Y10, Y11        // z2
	VMULPD  Y11, Y11, Y12        // z4
	VMULPD  Y12, Y12, Y3         // z8
	VMOVUPD K_SERIES1, Y1
	VFMADD213PD K_SERIES0, Y10, Y1  // 1/3 + z/5
	VMOVUPD K_SERIES3, Y2
	VFMADD213PD K_SERIES2, Y10, Y2  // 1/7 + z/9
	VFMADD231PD Y2, Y11, Y1
	VMOVUPD K_SERIES5, Y2
	VFMADD213PD K_SERIES4, Y10, Y2  // 1/11 + z/13
	VMOVUPD K_SERIES7, Y4
	VFMADD213PD K_SERIES6, Y10, Y4  // 1/15 + z/17
	VFMADD231PD Y4, Y11, Y2
	VFMADD231PD Y2, Y12, Y1      // d0
	VMOVUPD K_SERIES9, Y2
	VFMADD213PD K_SERIES8, Y10, Y2  // 1/19 + z/21
	VMOVUPD K_SERIES11, Y4
	VFMADD213PD K_SERIES10, Y10, Y4  // 1/23 + z/25
	VFMADD231PD Y4, Y11, Y2
	VMOVUPD K_SERIES13, Y4
	VFMADD213PD K_SERIES12, Y10, Y4  // 1/27 + z/29
	VMOVUPD K_SERIES15, Y5
	VFMADD213PD K_SERIES14, Y10, Y5  // 1/31 + z/33
	VFMADD231PD Y5, Y11, Y4
	VFMADD231PD Y4, Y12, Y2      // d1
	VFMADD231PD Y2, Y3, Y1       // R = z8·d1 + d0
	VFMADD213PD Y13, Y10, Y1     // P = z·R + 1
	VADDPD  Y9, Y9, Y9           // 2q
	VMULPD  Y9, Y1, Y1           // log1p(e) = P·2q
	VXORPD  Y2, Y2, Y2
	VMAXPD  Y2, Y0, Y2           // z > 0 ? z : 0
	VADDPD  Y1, Y2, Y2
	VMOVUPD Y2, (R8)(AX*1)

fnoh:
	TESTQ $2, DX
	JEQ   fnod1
	VMOVUPD Y8, (R9)(AX*1)

fnod1:
	TESTQ $4, DX
	JEQ   fnod2
	VMOVUPD Y7, (R10)(AX*1)

fnod2:
	TESTQ $8, DX
	JEQ   fnext
	VADDPD  Y8, Y8, Y9          // 2s
	VSUBPD  Y9, Y13, Y9         // 1 − 2s
	VMULPD  Y9, Y7, Y9
	VMOVUPD Y9, (R11)(AX*1)

fnext:
	ADDQ $32, AX
	DECQ CX
	JNE  floop

fdone:
	VZEROUPPER
	RET
