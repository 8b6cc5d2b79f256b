//go:build amd64 && !purego

#include "textflag.h"
#include "kconst_amd64.h"

// func expKernel(n int, x, y *float64)
//
// y[i] = exp(x[i]) for i < n (a multiple of 4) and x[i] ≤ 0, with the arithmetic of
// expGeneric (exp.go): 0 below −708, NaN for NaN.
TEXT ·expKernel(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	XORQ AX, AX
	SHRQ $2, CX
	JEQ  edone
	VMOVUPD K_CLAMP, Y15  // 708
	VMOVUPD K_MAGIC, Y14 // magic
	VMOVUPD K_ONE, Y13 // 1

eloop:
	VMOVUPD (SI)(AX*1), Y0
	VXORPD  K_SIGN, Y0, Y1       // −x
	VMINPD  Y1, Y15, Y2         // m = 708 < −x ? 708 : −x (NaN stays)
	VXORPD  K_SIGN, Y2, Y2       // x' = −m
	VMOVAPD Y14, Y3
	VFMADD231PD K_LOG2E, Y2, Y3   // t = x'·log2e + magic
	VSUBPD  Y14, Y3, Y4         // kd
	VMOVAPD Y2, Y5
	VFNMADD231PD K_LN2HI, Y4, Y5 // hi
	VMULPD  K_LN2LO, Y4, Y6      // lo
	VSUBPD  Y6, Y5, Y7          // r
	VMULPD  Y7, Y7, Y8          // tt
	VMOVUPD K_P5, Y9
	VFMADD213PD K_P4, Y8, Y9
	VFMADD213PD K_P3, Y8, Y9
	VFMADD213PD K_P2, Y8, Y9
	VFMADD213PD K_P1, Y8, Y9
	VMOVAPD Y7, Y10
	VFNMADD231PD Y9, Y8, Y10    // c
	VMOVUPD K_TWO, Y11
	VSUBPD  Y10, Y11, Y11       // 2 − c
	VMULPD  Y10, Y7, Y12
	VDIVPD  Y11, Y12, Y12
	VSUBPD  Y12, Y6, Y12
	VSUBPD  Y5, Y12, Y12
	VSUBPD  Y12, Y13, Y12       // y
	VPADDQ  K_BIAS, Y3, Y3
	VPSLLQ  $52, Y3, Y3
	VMULPD  Y3, Y12, Y12        // exp(x')
	VCMPPD  $1, Y15, Y1, Y2     // −x < 708 (false for NaN and −x ≥ 708)
	VCMPPD  $3, Y0, Y0, Y3      // x unordered (NaN)
	VORPD   Y3, Y2, Y2
	VANDPD  Y2, Y12, Y12        // 0 where −x ≥ 708
	VMOVUPD Y12, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNE  eloop

edone:
	VZEROUPPER
	RET
