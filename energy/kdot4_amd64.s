//go:build amd64 && !purego

#include "textflag.h"

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
