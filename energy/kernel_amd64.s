//go:build amd64 && !purego

#include "textflag.h"

// func kern4x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int)
//
// C[0:4, 0:8] += alpha · Σ_{l<k} A(i,l)·B(l, 0:8), with A(i,l) = a[i*ars + l*acs],
// B(l,j) = b[l*ldb + j], C(i,j) = c[i*ldc + j]. Each product is accumulated in l order with
// fused multiply-adds from zero; the sum is multiplied by alpha and then added to C, or
// written over C when over ≠ 0.
TEXT ·kern4x8(SB), NOSPLIT, $0-80
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ ars+16(FP), R8
	MOVQ acs+24(FP), R9
	MOVQ b+32(FP), DI
	MOVQ ldb+40(FP), R10
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R11
	SHLQ $3, R8
	SHLQ $3, R9
	SHLQ $3, R10
	SHLQ $3, R11

	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7

	MOVQ SI, AX
	LEAQ (SI)(R8*1), BX
	LEAQ (BX)(R8*1), R12
	LEAQ (R12)(R8*1), R13

	TESTQ CX, CX
	JEQ   store

loop:
	VMOVUPD      (DI), Y8
	VMOVUPD      32(DI), Y9
	VBROADCASTSD (AX), Y10
	VFMADD231PD  Y8, Y10, Y0
	VFMADD231PD  Y9, Y10, Y1
	VBROADCASTSD (BX), Y11
	VFMADD231PD  Y8, Y11, Y2
	VFMADD231PD  Y9, Y11, Y3
	VBROADCASTSD (R12), Y12
	VFMADD231PD  Y8, Y12, Y4
	VFMADD231PD  Y9, Y12, Y5
	VBROADCASTSD (R13), Y13
	VFMADD231PD  Y8, Y13, Y6
	VFMADD231PD  Y9, Y13, Y7
	ADDQ         R9, AX
	ADDQ         R9, BX
	ADDQ         R9, R12
	ADDQ         R9, R13
	ADDQ         R10, DI
	DECQ         CX
	JNE          loop

store:
	VBROADCASTSD alpha+64(FP), Y14
	VMULPD       Y14, Y0, Y0
	VMULPD       Y14, Y1, Y1
	VMULPD       Y14, Y2, Y2
	VMULPD       Y14, Y3, Y3
	VMULPD       Y14, Y4, Y4
	VMULPD       Y14, Y5, Y5
	VMULPD       Y14, Y6, Y6
	VMULPD       Y14, Y7, Y7
	MOVQ         DX, AX
	CMPQ         over+72(FP), $0
	JNE          put4
	VADDPD       (AX), Y0, Y0
	VADDPD       32(AX), Y1, Y1
	ADDQ         R11, AX
	VADDPD       (AX), Y2, Y2
	VADDPD       32(AX), Y3, Y3
	ADDQ         R11, AX
	VADDPD       (AX), Y4, Y4
	VADDPD       32(AX), Y5, Y5
	ADDQ         R11, AX
	VADDPD       (AX), Y6, Y6
	VADDPD       32(AX), Y7, Y7

put4:
	VMOVUPD Y0, (DX)
	VMOVUPD Y1, 32(DX)
	ADDQ    R11, DX
	VMOVUPD Y2, (DX)
	VMOVUPD Y3, 32(DX)
	ADDQ    R11, DX
	VMOVUPD Y4, (DX)
	VMOVUPD Y5, 32(DX)
	ADDQ    R11, DX
	VMOVUPD Y6, (DX)
	VMOVUPD Y7, 32(DX)

	VZEROUPPER
	RET

// func kdot4(k int, a *float64, lda int, b *float64, s *float64)
//
// s[r] = Σ_{l<k} A(r,l)·b[l] for the rows r = 0…3 of A(r,l) = a[r*lda + l], k a positive
// multiple of 4: lane q accumulates the products with l ≡ q (mod 4) in l order with fused
// multiply-adds from zero, and s[r] = (lane0 + lane2) + (lane1 + lane3).
TEXT ·kdot4(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ s+32(FP), DX
	SHLQ $3, R8
	LEAQ (SI)(R8*1), BX
	LEAQ (BX)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ   AX, AX
	SHRQ   $2, CX
	JEQ    reduce

dotloop:
	VMOVUPD     (DI)(AX*1), Y4
	VFMADD231PD (SI)(AX*1), Y4, Y0
	VFMADD231PD (BX)(AX*1), Y4, Y1
	VFMADD231PD (R12)(AX*1), Y4, Y2
	VFMADD231PD (R13)(AX*1), Y4, Y3
	ADDQ        $32, AX
	DECQ        CX
	JNE         dotloop

reduce:
	VEXTRACTF128 $1, Y0, X4
	VADDPD       X4, X0, X0
	VPERMILPD    $1, X0, X4
	VADDSD       X4, X0, X0
	VMOVSD       X0, (DX)
	VEXTRACTF128 $1, Y1, X4
	VADDPD       X4, X1, X1
	VPERMILPD    $1, X1, X4
	VADDSD       X4, X1, X1
	VMOVSD       X1, 8(DX)
	VEXTRACTF128 $1, Y2, X4
	VADDPD       X4, X2, X2
	VPERMILPD    $1, X2, X4
	VADDSD       X4, X2, X2
	VMOVSD       X2, 16(DX)
	VEXTRACTF128 $1, Y3, X4
	VADDPD       X4, X3, X3
	VPERMILPD    $1, X3, X4
	VADDSD       X4, X3, X3
	VMOVSD       X3, 24(DX)
	VZEROUPPER
	RET

// func transpose4(blocks int, src *float64, lds int, dst *float64, ldd int)
//
// Transposes the 4×(4·blocks) strip at src (row stride lds) into the (4·blocks)×4 strip at
// dst (row stride ldd): dst[j*ldd + i] = src[i*lds + j], 4×4 blocks by register shuffles.
TEXT ·transpose4(SB), NOSPLIT, $0-40
	MOVQ blocks+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), R9
	SHLQ $3, R8
	SHLQ $3, R9
	LEAQ (SI)(R8*1), BX
	LEAQ (BX)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	LEAQ (R9)(R9*2), R10 // 3·ldd
	TESTQ CX, CX
	JEQ   tdone

tloop:
	VMOVUPD    (SI), Y0
	VMOVUPD    (BX), Y1
	VMOVUPD    (R12), Y2
	VMOVUPD    (R13), Y3
	VUNPCKLPD  Y1, Y0, Y4 // a0 b0 a2 b2
	VUNPCKHPD  Y1, Y0, Y5 // a1 b1 a3 b3
	VUNPCKLPD  Y3, Y2, Y6 // c0 d0 c2 d2
	VUNPCKHPD  Y3, Y2, Y7 // c1 d1 c3 d3
	VPERM2F128 $0x20, Y6, Y4, Y0
	VPERM2F128 $0x20, Y7, Y5, Y1
	VPERM2F128 $0x31, Y6, Y4, Y2
	VPERM2F128 $0x31, Y7, Y5, Y3
	VMOVUPD    Y0, (DI)
	VMOVUPD    Y1, (DI)(R9*1)
	VMOVUPD    Y2, (DI)(R9*2)
	VMOVUPD    Y3, (DI)(R10*1)
	ADDQ       $32, SI
	ADDQ       $32, BX
	ADDQ       $32, R12
	ADDQ       $32, R13
	LEAQ       (DI)(R9*4), DI
	DECQ       CX
	JNE        tloop

tdone:
	VZEROUPPER
	RET

// func kern6x8(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int, alpha float64, over int)
//
// kern4x8 for 6 rows of A and C: 12 accumulators, so that the two FMA pipes stay busy through
// the 4-cycle latency of each accumulation. Same arithmetic per element as kern4x8.
TEXT ·kern6x8(SB), NOSPLIT, $0-80
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ ars+16(FP), R8
	MOVQ acs+24(FP), R9
	MOVQ b+32(FP), DI
	MOVQ ldb+40(FP), R10
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R11
	SHLQ $3, R8
	SHLQ $3, R9
	SHLQ $3, R10
	SHLQ $3, R11

	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11

	MOVQ SI, AX                // row 0; rows 1, 2 at AX + ars, AX + 2ars
	LEAQ (SI)(R8*2), R13
	ADDQ R8, R13               // row 3; rows 4, 5 at R13 + ars, R13 + 2ars

	TESTQ CX, CX
	JEQ   store6

loop6:
	VMOVUPD      (DI), Y12
	VMOVUPD      32(DI), Y13
	VBROADCASTSD (AX), Y14
	VFMADD231PD  Y12, Y14, Y0
	VFMADD231PD  Y13, Y14, Y1
	VBROADCASTSD (AX)(R8*1), Y15
	VFMADD231PD  Y12, Y15, Y2
	VFMADD231PD  Y13, Y15, Y3
	VBROADCASTSD (AX)(R8*2), Y14
	VFMADD231PD  Y12, Y14, Y4
	VFMADD231PD  Y13, Y14, Y5
	VBROADCASTSD (R13), Y15
	VFMADD231PD  Y12, Y15, Y6
	VFMADD231PD  Y13, Y15, Y7
	VBROADCASTSD (R13)(R8*1), Y14
	VFMADD231PD  Y12, Y14, Y8
	VFMADD231PD  Y13, Y14, Y9
	VBROADCASTSD (R13)(R8*2), Y15
	VFMADD231PD  Y12, Y15, Y10
	VFMADD231PD  Y13, Y15, Y11
	ADDQ         R9, AX
	ADDQ         R9, R13
	ADDQ         R10, DI
	DECQ         CX
	JNE          loop6

store6:
	VBROADCASTSD alpha+64(FP), Y14
	VMULPD       Y14, Y0, Y0
	VMULPD       Y14, Y1, Y1
	VMULPD       Y14, Y2, Y2
	VMULPD       Y14, Y3, Y3
	VMULPD       Y14, Y4, Y4
	VMULPD       Y14, Y5, Y5
	VMULPD       Y14, Y6, Y6
	VMULPD       Y14, Y7, Y7
	VMULPD       Y14, Y8, Y8
	VMULPD       Y14, Y9, Y9
	VMULPD       Y14, Y10, Y10
	VMULPD       Y14, Y11, Y11
	MOVQ         DX, AX
	CMPQ         over+72(FP), $0
	JNE          put6
	VADDPD       (AX), Y0, Y0
	VADDPD       32(AX), Y1, Y1
	ADDQ         R11, AX
	VADDPD       (AX), Y2, Y2
	VADDPD       32(AX), Y3, Y3
	ADDQ         R11, AX
	VADDPD       (AX), Y4, Y4
	VADDPD       32(AX), Y5, Y5
	ADDQ         R11, AX
	VADDPD       (AX), Y6, Y6
	VADDPD       32(AX), Y7, Y7
	ADDQ         R11, AX
	VADDPD       (AX), Y8, Y8
	VADDPD       32(AX), Y9, Y9
	ADDQ         R11, AX
	VADDPD       (AX), Y10, Y10
	VADDPD       32(AX), Y11, Y11

put6:
	VMOVUPD Y0, (DX)
	VMOVUPD Y1, 32(DX)
	ADDQ    R11, DX
	VMOVUPD Y2, (DX)
	VMOVUPD Y3, 32(DX)
	ADDQ    R11, DX
	VMOVUPD Y4, (DX)
	VMOVUPD Y5, 32(DX)
	ADDQ    R11, DX
	VMOVUPD Y6, (DX)
	VMOVUPD Y7, 32(DX)
	ADDQ    R11, DX
	VMOVUPD Y8, (DX)
	VMOVUPD Y9, 32(DX)
	ADDQ    R11, DX
	VMOVUPD Y10, (DX)
	VMOVUPD Y11, 32(DX)

	VZEROUPPER
	RET
