//go:build amd64 && !purego

#include "textflag.h"

// Constants of softplusKernel, each repeated in the four lanes of a YMM register.
#define C4(off, v) DATA softplusConsts<>+(off+0)(SB)/8, v; DATA softplusConsts<>+(off+8)(SB)/8, v; DATA softplusConsts<>+(off+16)(SB)/8, v; DATA softplusConsts<>+(off+24)(SB)/8, v

C4(0, $0x7fffffffffffffff)   // |·| mask
C4(32, $0x8000000000000000)  // sign bit
C4(64, $0x4086200000000000)  // 708
C4(96, $0x3ff71547652b82fe)  // log2 e
C4(128, $0x4338000000000000) // 0x1.8p52
C4(160, $0x3fe62e42fee00000) // ln2 hi
C4(192, $0x3dea39ef35793c76) // ln2 lo
C4(224, $0x3fc5555555555555) // P1
C4(256, $0xbf66c16c16bebd93) // P2
C4(288, $0x3f11566aaf25de2c) // P3
C4(320, $0xbebbbd41c5d26bf1) // P4
C4(352, $0x3e66376972bea4d0) // P5
C4(384, $0x3ff0000000000000) // 1
C4(416, $0x4000000000000000) // 2
C4(448, $1023)               // exponent bias (int64)
C4(480, $0x3fd5555555555555) // 1/3
C4(512, $0x3fc999999999999a) // 1/5
C4(544, $0x3fc2492492492492) // 1/7
C4(576, $0x3fbc71c71c71c71c) // 1/9
C4(608, $0x3fb745d1745d1746) // 1/11
C4(640, $0x3fb3b13b13b13b14) // 1/13
C4(672, $0x3fb1111111111111) // 1/15
C4(704, $0x3fae1e1e1e1e1e1e) // 1/17
C4(736, $0x3faaf286bca1af28) // 1/19
C4(768, $0x3fa8618618618618) // 1/21
C4(800, $0x3fa642c8590b2164) // 1/23
C4(832, $0x3fa47ae147ae147b) // 1/25
C4(864, $0x3fa2f684bda12f68) // 1/27
C4(896, $0x3fa1a7b9611a7b96) // 1/29
C4(928, $0x3fa0842108421084) // 1/31
C4(960, $0x3f9f07c1f07c1f08) // 1/33
C4(992, $0x3fe0000000000000) // 1/2!
C4(1024, $0x3fc5555555555555) // 1/3!
C4(1056, $0x3fa5555555555555) // 1/4!
C4(1088, $0x3f81111111111111) // 1/5!
C4(1120, $0x3f56c16c16c16c17) // 1/6!
C4(1152, $0x3f2a01a01a01a01a) // 1/7!
C4(1184, $0x3efa01a01a01a01a) // 1/8!
C4(1216, $0x3ec71de3a556c734) // 1/9!
C4(1248, $0x3e927e4fb7789f5c) // 1/10!
C4(1280, $0x3e5ae64567f544e4) // 1/11!
C4(1312, $0x3e21eed8eff8d898) // 1/12!
C4(1344, $0x3de6124613a86d09) // 1/13!
C4(1376, $0x000fffffffffffff) // mantissa mask
C4(1408, $0x3ff6a09e667f3bcd) // √2
C4(1440, $0x3fe0000000000000) // ½
C4(1472, $0x4330000000000000) // 2^52
C4(1504, $0x408ff80000000000) // 1023
GLOBL softplusConsts<>(SB), RODATA|NOPTR, $1536

#define K(off) softplusConsts<>+off(SB)

// func softplusKernel(n int, z, h, d1, d2, d3 *float64, flags int)
//
// For i < n (a multiple of 4): h[i] = softplus(z[i]) if flags&1, d1[i] = sigmoid(z[i]) if
// flags&2, d2[i] = s(1−s) = e/u² if flags&4, d3[i] = s(1−s)(1−2s) if flags&8, with the
// arithmetic of softplusGeneric (softplus.go), operation for operation. The polynomials are
// evaluated by Estrin's scheme and the three quotients share one division, so that the
// dependency chain of a block of four is short enough for consecutive blocks to overlap.
TEXT ·softplusKernel(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), CX
	MOVQ z+8(FP), SI
	MOVQ h+16(FP), R8
	MOVQ d1+24(FP), R9
	MOVQ d2+32(FP), R10
	MOVQ d3+40(FP), R11
	MOVQ flags+48(FP), DX
	XORQ AX, AX
	SHRQ $2, CX
	JEQ  done

	VMOVUPD K(64), Y15  // 708
	VMOVUPD K(128), Y14 // magic
	VMOVUPD K(384), Y13 // 1

loop:
	VMOVUPD (SI)(AX*1), Y0
	VANDPD  K(0), Y0, Y1        // a = |z|
	VMINPD  Y1, Y15, Y2         // m = 708 < a ? 708 : a (NaN stays)
	VXORPD  K(32), Y2, Y2       // x = −m
	VMOVAPD Y14, Y3
	VFMADD231PD K(96), Y2, Y3   // t = x·log2e + magic
	VSUBPD  Y14, Y3, Y4         // kd = t − magic
	VMOVAPD Y2, Y5
	VFNMADD231PD K(160), Y4, Y5 // hi = x − kd·ln2hi
	VMULPD  K(192), Y4, Y6      // lo = kd·ln2lo
	VSUBPD  Y6, Y5, Y7          // r = hi − lo
	VPADDQ  K(448), Y3, Y3
	VPSLLQ  $52, Y3, Y3         // 2^k
	VMULPD  Y7, Y7, Y8          // r2
	VMULPD  Y8, Y8, Y9          // r4
	VMULPD  Y9, Y9, Y10         // r8
	VMOVUPD K(1024), Y11
	VFMADD213PD K(992), Y7, Y11  // a0 = r·c3 + c2
	VMOVUPD K(1088), Y12
	VFMADD213PD K(1056), Y7, Y12 // a1 = r·c5 + c4
	VFMADD231PD Y12, Y8, Y11     // b0 = r2·a1 + a0
	VMOVUPD K(1152), Y5
	VFMADD213PD K(1120), Y7, Y5  // a2 = r·c7 + c6
	VMOVUPD K(1216), Y6
	VFMADD213PD K(1184), Y7, Y6  // a3 = r·c9 + c8
	VFMADD231PD Y6, Y8, Y5       // b1 = r2·a3 + a2
	VMOVUPD K(1280), Y4
	VFMADD213PD K(1248), Y7, Y4  // a4 = r·c11 + c10
	VMOVUPD K(1344), Y2
	VFMADD213PD K(1312), Y7, Y2  // a5 = r·c13 + c12
	VFMADD231PD Y2, Y8, Y4       // b2 = r2·a5 + a4
	VFMADD231PD Y5, Y9, Y11      // d0 = r4·b1 + b0
	VFMADD231PD Y4, Y10, Y11     // Q = r8·b2 + d0
	VFMADD231PD Y11, Y8, Y7      // r + r2·Q
	VADDPD  Y13, Y7, Y7          // 1 + ·
	VMULPD  Y3, Y7, Y1           // e = exp(−|z|)
	VADDPD  Y13, Y1, Y2          // u = 1 + e
	VADDPD  K(416), Y1, Y4       // v = 2 + e
	VMULPD  Y4, Y2, Y5           // u·v
	VDIVPD  Y5, Y13, Y5          // q0 = 1/(u·v)
	VMULPD  Y5, Y4, Y6           // rr = v·q0 = 1/u
	VMULPD  Y6, Y1, Y7           // e·rr
	VBLENDVPD Y0, Y7, Y6, Y8     // s = z < 0 (sign bit) ? e·rr : rr
	VMULPD  Y6, Y7, Y7           // s(1 − s) = (e·rr)·rr

	TESTQ $1, DX
	JEQ   noh
	VMULPD  Y2, Y1, Y9           // e·u
	VMULPD  Y5, Y9, Y9           // q = e·u·q0 = e/(2 + e)
	VMULPD  Y9, Y9, Y10          // z = q²
	VMULPD  Y10, Y10, Y11        // z2
	VMULPD  Y11, Y11, Y12        // z4
	VMULPD  Y12, Y12, Y3         // z8
	VMOVUPD K(512), Y1
	VFMADD213PD K(480), Y10, Y1  // 1/3 + z/5
	VMOVUPD K(576), Y2
	VFMADD213PD K(544), Y10, Y2  // 1/7 + z/9
	VFMADD231PD Y2, Y11, Y1
	VMOVUPD K(640), Y2
	VFMADD213PD K(608), Y10, Y2  // 1/11 + z/13
	VMOVUPD K(704), Y4
	VFMADD213PD K(672), Y10, Y4  // 1/15 + z/17
	VFMADD231PD Y4, Y11, Y2
	VFMADD231PD Y2, Y12, Y1      // d0
	VMOVUPD K(768), Y2
	VFMADD213PD K(736), Y10, Y2  // 1/19 + z/21
	VMOVUPD K(832), Y4
	VFMADD213PD K(800), Y10, Y4  // 1/23 + z/25
	VFMADD231PD Y4, Y11, Y2
	VMOVUPD K(896), Y4
	VFMADD213PD K(864), Y10, Y4  // 1/27 + z/29
	VMOVUPD K(960), Y5
	VFMADD213PD K(928), Y10, Y5  // 1/31 + z/33
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

noh:
	TESTQ $2, DX
	JEQ   nod1
	VMOVUPD Y8, (R9)(AX*1)

nod1:
	TESTQ $4, DX
	JEQ   nod2
	VMOVUPD Y7, (R10)(AX*1)

nod2:
	TESTQ $8, DX
	JEQ   next
	VADDPD  Y8, Y8, Y9          // 2s
	VSUBPD  Y9, Y13, Y9         // 1 − 2s
	VMULPD  Y9, Y7, Y9
	VMOVUPD Y9, (R11)(AX*1)

next:
	ADDQ $32, AX
	DECQ CX
	JNE  loop

done:
	VZEROUPPER
	RET

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
	VMOVUPD K(64), Y15  // 708
	VMOVUPD K(128), Y14 // magic
	VMOVUPD K(384), Y13 // 1

xloop:
	VMOVUPD (SI)(AX*1), Y0
	VANDPD  K(0), Y0, Y1        // a = |z|
	VMINPD  Y1, Y15, Y2         // m = 708 < a ? 708 : a (NaN stays)
	VXORPD  K(32), Y2, Y2       // x = −m
	VMOVAPD Y14, Y3
	VFMADD231PD K(96), Y2, Y3   // t = x·log2e + magic
	VSUBPD  Y14, Y3, Y4         // kd = t − magic
	VMOVAPD Y2, Y5
	VFNMADD231PD K(160), Y4, Y5 // hi = x − kd·ln2hi
	VMULPD  K(192), Y4, Y6      // lo = kd·ln2lo
	VSUBPD  Y6, Y5, Y7          // r = hi − lo
	VPADDQ  K(448), Y3, Y3
	VPSLLQ  $52, Y3, Y3         // 2^k
	VMULPD  Y7, Y7, Y8          // r2
	VMULPD  Y8, Y8, Y9          // r4
	VMULPD  Y9, Y9, Y10         // r8
	VMOVUPD K(1024), Y11
	VFMADD213PD K(992), Y7, Y11  // a0 = r·c3 + c2
	VMOVUPD K(1088), Y12
	VFMADD213PD K(1056), Y7, Y12 // a1 = r·c5 + c4
	VFMADD231PD Y12, Y8, Y11     // b0 = r2·a1 + a0
	VMOVUPD K(1152), Y5
	VFMADD213PD K(1120), Y7, Y5  // a2 = r·c7 + c6
	VMOVUPD K(1216), Y6
	VFMADD213PD K(1184), Y7, Y6  // a3 = r·c9 + c8
	VFMADD231PD Y6, Y8, Y5       // b1 = r2·a3 + a2
	VMOVUPD K(1280), Y4
	VFMADD213PD K(1248), Y7, Y4  // a4 = r·c11 + c10
	VMOVUPD K(1344), Y2
	VFMADD213PD K(1312), Y7, Y2  // a5 = r·c13 + c12
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
	VMOVUPD K(384), Y13 // 1

floop:
	VMOVUPD (SI)(AX*1), Y0
	VMOVUPD (DI)(AX*1), Y1
	VADDPD  Y13, Y1, Y2          // u = 1 + e
	VADDPD  K(416), Y1, Y4       // v = 2 + e
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
	VMOVUPD K(512), Y1
	VFMADD213PD K(480), Y10, Y1  // 1/3 + z/5
	VMOVUPD K(576), Y2
	VFMADD213PD K(544), Y10, Y2  // 1/7 + z/9
	VFMADD231PD Y2, Y11, Y1
	VMOVUPD K(640), Y2
	VFMADD213PD K(608), Y10, Y2  // 1/11 + z/13
	VMOVUPD K(704), Y4
	VFMADD213PD K(672), Y10, Y4  // 1/15 + z/17
	VFMADD231PD Y4, Y11, Y2
	VFMADD231PD Y2, Y12, Y1      // d0
	VMOVUPD K(768), Y2
	VFMADD213PD K(736), Y10, Y2  // 1/19 + z/21
	VMOVUPD K(832), Y4
	VFMADD213PD K(800), Y10, Y4  // 1/23 + z/25
	VFMADD231PD Y4, Y11, Y2
	VMOVUPD K(896), Y4
	VFMADD213PD K(864), Y10, Y4  // 1/27 + z/29
	VMOVUPD K(960), Y5
	VFMADD213PD K(928), Y10, Y5  // 1/31 + z/33
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
	VMOVUPD K(64), Y15  // 708
	VMOVUPD K(128), Y14 // magic
	VMOVUPD K(384), Y13 // 1

eloop:
	VMOVUPD (SI)(AX*1), Y0
	VXORPD  K(32), Y0, Y1       // −x
	VMINPD  Y1, Y15, Y2         // m = 708 < −x ? 708 : −x (NaN stays)
	VXORPD  K(32), Y2, Y2       // x' = −m
	VMOVAPD Y14, Y3
	VFMADD231PD K(96), Y2, Y3   // t = x'·log2e + magic
	VSUBPD  Y14, Y3, Y4         // kd
	VMOVAPD Y2, Y5
	VFNMADD231PD K(160), Y4, Y5 // hi
	VMULPD  K(192), Y4, Y6      // lo
	VSUBPD  Y6, Y5, Y7          // r
	VMULPD  Y7, Y7, Y8          // tt
	VMOVUPD K(352), Y9
	VFMADD213PD K(320), Y8, Y9
	VFMADD213PD K(288), Y8, Y9
	VFMADD213PD K(256), Y8, Y9
	VFMADD213PD K(224), Y8, Y9
	VMOVAPD Y7, Y10
	VFNMADD231PD Y9, Y8, Y10    // c
	VMOVUPD K(416), Y11
	VSUBPD  Y10, Y11, Y11       // 2 − c
	VMULPD  Y10, Y7, Y12
	VDIVPD  Y11, Y12, Y12
	VSUBPD  Y12, Y6, Y12
	VSUBPD  Y5, Y12, Y12
	VSUBPD  Y12, Y13, Y12       // y
	VPADDQ  K(448), Y3, Y3
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
	VMOVUPD K(128), Y15 // magic
	VMOVUPD K(64), Y14  // 708
	VMOVUPD K(384), Y13 // 1

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
	VXORPD  K(32), Y6, Y7       // −x
	VCMPPD  $1, Y14, Y7, Y12    // −x < 708
	VCMPPD  $3, Y6, Y6, Y11     // x is NaN
	VORPD   Y11, Y12, Y12
	VMINPD  Y7, Y14, Y7         // m' = 708 < −x ? 708 : −x
	VXORPD  K(32), Y7, Y7       // x' = −m'
	VMOVAPD Y15, Y8
	VFMADD231PD K(96), Y7, Y8   // t = x'·log2e + magic
	VSUBPD  Y15, Y8, Y9         // kd
	VMOVAPD Y7, Y10
	VFNMADD231PD K(160), Y9, Y10 // hi
	VMULPD  K(192), Y9, Y11     // lo
	VSUBPD  Y11, Y10, Y7        // r
	VMULPD  Y7, Y7, Y9          // tt
	VMOVUPD K(352), Y6
	VFMADD213PD K(320), Y9, Y6
	VFMADD213PD K(288), Y9, Y6
	VFMADD213PD K(256), Y9, Y6
	VFMADD213PD K(224), Y9, Y6  // p
	VFNMADD213PD Y7, Y6, Y9     // c = r − tt·p
	VMOVUPD K(416), Y6
	VSUBPD  Y9, Y6, Y6          // 2 − c
	VMULPD  Y9, Y7, Y7          // r·c
	VDIVPD  Y6, Y7, Y7
	VSUBPD  Y7, Y11, Y7         // lo − ·
	VSUBPD  Y10, Y7, Y7         // · − hi
	VSUBPD  Y7, Y13, Y7         // y
	VPADDQ  K(448), Y8, Y8
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
	VMOVUPD K(384), Y13 // 1

lloop:
	VMOVUPD (SI)(AX*1), Y0
	VPSRLQ  $52, Y0, Y1          // biased exponent (x > 0)
	VANDPD  K(1376), Y0, Y2
	VORPD   K(384), Y2, Y2       // m in [1, 2)
	VMOVUPD K(1408), Y4
	VCMPPD  $0x1e, Y4, Y2, Y3    // m > √2
	VMULPD  K(1440), Y2, Y4      // m/2
	VBLENDVPD Y3, Y4, Y2, Y2     // m in (√2/2, √2]
	VPSUBQ  Y3, Y1, Y1           // exponent + 1 where halved
	VPOR    K(1472), Y1, Y1
	VSUBPD  K(1472), Y1, Y1      // exponent as a double
	VSUBPD  K(1504), Y1, Y1      // k
	VSUBPD  Y13, Y2, Y5          // f = m − 1
	VADDPD  K(416), Y5, Y6       // 2 + f
	VDIVPD  Y6, Y5, Y9           // q
	VMULPD  Y9, Y9, Y10          // z = q²
	VMULPD  Y10, Y10, Y11        // z2
	VMULPD  Y11, Y11, Y12        // z4
	VMULPD  Y12, Y12, Y3         // z8
	VMOVUPD K(512), Y4
	VFMADD213PD K(480), Y10, Y4
	VMOVUPD K(576), Y2
	VFMADD213PD K(544), Y10, Y2
	VFMADD231PD Y2, Y11, Y4
	VMOVUPD K(640), Y2
	VFMADD213PD K(608), Y10, Y2
	VMOVUPD K(704), Y5
	VFMADD213PD K(672), Y10, Y5
	VFMADD231PD Y5, Y11, Y2
	VFMADD231PD Y2, Y12, Y4      // d0
	VMOVUPD K(768), Y2
	VFMADD213PD K(736), Y10, Y2
	VMOVUPD K(832), Y5
	VFMADD213PD K(800), Y10, Y5
	VFMADD231PD Y5, Y11, Y2
	VMOVUPD K(896), Y5
	VFMADD213PD K(864), Y10, Y5
	VMOVUPD K(960), Y6
	VFMADD213PD K(928), Y10, Y6
	VFMADD231PD Y6, Y11, Y5
	VFMADD231PD Y5, Y12, Y2      // d1
	VFMADD231PD Y2, Y3, Y4       // R
	VFMADD213PD Y13, Y10, Y4     // P = z·R + 1
	VADDPD  Y9, Y9, Y9           // 2q
	VMULPD  Y9, Y4, Y4           // log m
	VFMADD231PD K(192), Y1, Y4   // + k·ln2lo
	VFMADD231PD K(160), Y1, Y4   // + k·ln2hi
	VCMPPD  $3, Y0, Y0, Y3       // x is NaN
	VBLENDVPD Y3, Y0, Y4, Y4
	VMOVUPD Y4, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNE  lloop

ldone:
	VZEROUPPER
	RET
