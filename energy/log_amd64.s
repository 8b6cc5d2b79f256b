//go:build amd64 && !purego

#include "textflag.h"
#include "kconst_amd64.h"

// func logKernel(n int, x, y *float64)
//
// y[i] = log(x[i]) for i < n (a multiple of 4) and positive normal x[i] (NaN stays NaN), with
// the arithmetic of logGeneric (exp.go): x = 2^k·m with m in (√2/2, √2], f = m − 1 (exact),
// q = f/(2 + f), log m = 2q·P(q²) with the series of softplus, log x = k·ln2hi + (k·ln2lo +
// log m).
TEXT ·logKernel(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	XORQ AX, AX
	SHRQ $2, CX
	JEQ  ldone
	VMOVUPD K_ONE, Y13 // 1

lloop:
	VMOVUPD (SI)(AX*1), Y0
	VPSRLQ  $52, Y0, Y1          // biased exponent (x > 0)
	VANDPD  K_MANT, Y0, Y2
	VORPD   K_ONE, Y2, Y2       // m in [1, 2)
	VMOVUPD K_SQRT2, Y4
	VCMPPD  $0x1e, Y4, Y2, Y3    // m > √2
	VMULPD  K_HALF, Y2, Y4      // m/2
	VBLENDVPD Y3, Y4, Y2, Y2     // m in (√2/2, √2]
	VPSUBQ  Y3, Y1, Y1           // exponent + 1 where halved
	VPOR    K_TWO52, Y1, Y1
	VSUBPD  K_TWO52, Y1, Y1      // exponent as a double
	VSUBPD  K_F1023, Y1, Y1      // k
	VSUBPD  Y13, Y2, Y5          // f = m − 1
	VADDPD  K_TWO, Y5, Y6       // 2 + f
	VDIVPD  Y6, Y5, Y9           // q
	VMULPD  Y9, Y9, Y10          // z = q²
	VMULPD  Y10, Y10, Y11        // z2
	VMULPD  Y11, Y11, Y12        // z4
	VMULPD  Y12, Y12, Y3         // z8
	VMOVUPD K_SERIES1, Y4
	VFMADD213PD K_SERIES0, Y10, Y4
	VMOVUPD K_SERIES3, Y2
	VFMADD213PD K_SERIES2, Y10, Y2
	VFMADD231PD Y2, Y11, Y4
	VMOVUPD K_SERIES5, Y2
	VFMADD213PD K_SERIES4, Y10, Y2
	VMOVUPD K_SERIES7, Y5
	VFMADD213PD K_SERIES6, Y10, Y5
	VFMADD231PD Y5, Y11, Y2
	VFMADD231PD Y2, Y12, Y4      // d0
	VMOVUPD K_SERIES9, Y2
	VFMADD213PD K_SERIES8, Y10, Y2
	VMOVUPD K_SERIES11, Y5
	VFMADD213PD K_SERIES10, Y10, Y5
	VFMADD231PD Y5, Y11, Y2
	VMOVUPD K_SERIES13, Y5
	VFMADD213PD K_SERIES12, Y10, Y5
	VMOVUPD K_SERIES15, Y6
	VFMADD213PD K_SERIES14, Y10, Y6
	VFMADD231PD Y6, Y11, Y5
	VFMADD231PD Y5, Y12, Y2      // d1
	VFMADD231PD Y2, Y3, Y4       // R
	VFMADD213PD Y13, Y10, Y4     // P = z·R + 1
	VADDPD  Y9, Y9, Y9           // 2q
	VMULPD  Y9, Y4, Y4           // log m
	VFMADD231PD K_LN2LO, Y1, Y4   // + k·ln2lo
	VFMADD231PD K_LN2HI, Y1, Y4   // + k·ln2hi
	VCMPPD  $3, Y0, Y0, Y3       // x is NaN
	VBLENDVPD Y3, Y0, Y4, Y4
	VMOVUPD Y4, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNE  lloop

ldone:
	VZEROUPPER
	RET
