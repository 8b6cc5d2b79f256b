//go:build amd64 && !purego

#include "textflag.h"
#include "kconst_amd64.h"

// func gmmPlaneKernel(n int, x *float64, k int, par, lbuf, gx, mx, t *float64)
//
// The first-order pass of the isotropic Gaussian mixture in the plane (GMM with d = 2) for n
// rows (a multiple of 4) of x (n×2, contiguous), four rows at a time, with the arithmetic of
// gmmPlaneGeneric (gmm_plane.go): per component c (par[5c:5c+5] = μ₀, μ₁, −½/σ², cst, 1/σ²)
// ℓ = FMA(sq, −½/σ², cst) with sq = FMA(d₁, d₁, d₀·d₀), the running max m, then
// e = exp(ℓ − m), t = Σ e, s = Σ FMA(e, g, s) with g = d/σ², and gx[i] = s/t, mx[i] = m,
// t[i] = t. lbuf holds 4·k values.
TEXT ·gmmPlaneKernel(SB), NOSPLIT, $0-64
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ k+16(FP), R8
	MOVQ par+24(FP), R9
	MOVQ lbuf+32(FP), R10
	MOVQ gx+40(FP), DI
	MOVQ mx+48(FP), R11
	MOVQ t+56(FP), R12
	SHRQ $2, CX
	JEQ  gdone
	VMOVUPD K_MAGIC, Y15 // magic
	VMOVUPD K_CLAMP, Y14  // 708
	VMOVUPD K_ONE, Y13 // 1

grows:
	// x0, x1 of four rows: [a0 a1 b0 b1], [c0 c1 d0 d1] → [a0 b0 c0 d0], [a1 b1 c1 d1]
	VMOVUPD    (SI), Y6
	VMOVUPD    32(SI), Y7
	VPERM2F128 $0x20, Y7, Y6, Y8 // a0 a1 c0 c1
	VPERM2F128 $0x31, Y7, Y6, Y9 // b0 b1 d0 d1
	VUNPCKLPD  Y9, Y8, Y0        // a0 b0 c0 d0
	VUNPCKHPD  Y9, Y8, Y1        // a1 b1 c1 d1
	VBROADCASTSD gmmNegInf<>(SB), Y2 // m = −∞

	// pass 1: ℓ for every component, running max
	MOVQ R9, AX
	MOVQ R10, BX
	MOVQ R8, DX
gp1:
	VBROADCASTSD (AX), Y6
	VBROADCASTSD 8(AX), Y7
	VSUBPD       Y6, Y0, Y6     // d0
	VSUBPD       Y7, Y1, Y7     // d1
	VMULPD       Y6, Y6, Y8     // d0²
	VFMADD231PD  Y7, Y7, Y8     // sq = d1·d1 + d0²
	VBROADCASTSD 16(AX), Y9     // −½/σ²
	VBROADCASTSD 24(AX), Y10    // cst
	VFMADD213PD  Y10, Y9, Y8    // ℓ = sq·(−½/σ²) + cst
	VMOVUPD      Y8, (BX)
	VMAXPD       Y8, Y2, Y2     // m = m > ℓ ? m : ℓ
	ADDQ         $40, AX
	ADDQ         $32, BX
	DECQ         DX
	JNE          gp1

	// pass 2: e = exp(ℓ − m), t, s0, s1
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	MOVQ   R9, AX
	MOVQ   R10, BX
	MOVQ   R8, DX
gp2:
	VMOVUPD (BX), Y6
	VSUBPD  Y2, Y6, Y6          // x = ℓ − m
	VXORPD  K_SIGN, Y6, Y7       // −x
	VCMPPD  $1, Y14, Y7, Y12    // −x < 708
	VCMPPD  $3, Y6, Y6, Y11     // x is NaN
	VORPD   Y11, Y12, Y12
	VMINPD  Y7, Y14, Y7         // m' = 708 < −x ? 708 : −x
	VXORPD  K_SIGN, Y7, Y7       // x' = −m'
	VMOVAPD Y15, Y8
	VFMADD231PD K_LOG2E, Y7, Y8   // t = x'·log2e + magic
	VSUBPD  Y15, Y8, Y9         // kd
	VMOVAPD Y7, Y10
	VFNMADD231PD K_LN2HI, Y9, Y10 // hi
	VMULPD  K_LN2LO, Y9, Y11     // lo
	VSUBPD  Y11, Y10, Y7        // r
	VMULPD  Y7, Y7, Y9          // tt
	VMOVUPD K_P5, Y6
	VFMADD213PD K_P4, Y9, Y6
	VFMADD213PD K_P3, Y9, Y6
	VFMADD213PD K_P2, Y9, Y6
	VFMADD213PD K_P1, Y9, Y6  // p
	VFNMADD213PD Y7, Y6, Y9     // c = r − tt·p
	VMOVUPD K_TWO, Y6
	VSUBPD  Y9, Y6, Y6          // 2 − c
	VMULPD  Y9, Y7, Y7          // r·c
	VDIVPD  Y6, Y7, Y7
	VSUBPD  Y7, Y11, Y7         // lo − ·
	VSUBPD  Y10, Y7, Y7         // · − hi
	VSUBPD  Y7, Y13, Y7         // y
	VPADDQ  K_BIAS, Y8, Y8
	VPSLLQ  $52, Y8, Y8
	VMULPD  Y8, Y7, Y7          // e
	VANDPD  Y12, Y7, Y7
	VADDPD  Y7, Y3, Y3          // t += e
	VBROADCASTSD (AX), Y8
	VBROADCASTSD 8(AX), Y9
	VBROADCASTSD 32(AX), Y10    // 1/σ²
	VSUBPD  Y8, Y0, Y8
	VSUBPD  Y9, Y1, Y9
	VMULPD  Y10, Y8, Y8         // g0
	VMULPD  Y10, Y9, Y9         // g1
	VFMADD231PD Y8, Y7, Y4      // s0 = e·g0 + s0
	VFMADD231PD Y9, Y7, Y5      // s1 = e·g1 + s1
	ADDQ    $40, AX
	ADDQ    $32, BX
	DECQ    DX
	JNE     gp2

	VDIVPD     Y3, Y4, Y4        // ∇ₓE₀ = s0/t
	VDIVPD     Y3, Y5, Y5        // ∇ₓE₁ = s1/t
	VUNPCKLPD  Y5, Y4, Y6        // a0 a1 c0 c1
	VUNPCKHPD  Y5, Y4, Y7        // b0 b1 d0 d1
	VPERM2F128 $0x20, Y7, Y6, Y8 // a0 a1 b0 b1
	VPERM2F128 $0x31, Y7, Y6, Y9 // c0 c1 d0 d1
	VMOVUPD    Y8, (DI)
	VMOVUPD    Y9, 32(DI)
	VMOVUPD    Y2, (R11)
	VMOVUPD    Y3, (R12)
	ADDQ       $64, SI
	ADDQ       $64, DI
	ADDQ       $32, R11
	ADDQ       $32, R12
	DECQ       CX
	JNE        grows

gdone:
	VZEROUPPER
	RET

DATA gmmNegInf<>+0(SB)/8, $0xfff0000000000000
GLOBL gmmNegInf<>(SB), RODATA|NOPTR, $8
