//go:build amd64 && !purego

#include "textflag.h"

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
