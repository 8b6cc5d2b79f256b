// Package check implements a derivative and conformance checker for any framework.Energy.
//
// Energy verifies every output an energy claims to compute exactly (Spec().Caps.Exact())
// against central finite differences of lower outputs or of E itself:
//
//	grad_x         ∇ₓE                 vs d/dx of E
//	param_vjp      Σᵢ wᵢ∇θE(xᵢ)        vs d/dθ of Σᵢ wᵢE(xᵢ)
//	mixed          ∇θ Σᵢ uᵢᵀ∇ₓE(xᵢ)     vs d/dθ of Σᵢ uᵢᵀ∇ₓE(xᵢ), u held fixed
//	laplacian      Δₓ E                vs Σₖ d/dxₖ of (∇ₓE)ₖ
//	laplacian_vjp  Σᵢ vᵢ∇θΔₓE(xᵢ)      vs d/dθ of Σᵢ vᵢΔₓE(xᵢ)
//	hvp            ∇²ₓE vᵢ              vs Σₖ vᵢₖ d/dxₖ of ∇ₓE
//
// with random weights and directions, and checks the contract itself: shapes and buffer
// identity, inputs left unchanged, batch consistency (rows one at a time give the batch's
// answer), strided inputs, each output asked for alone, nil weights and directions meaning
// ones and zeros, determinism (the same request gives the same bits), concurrent use, and
// that a malformed request is an error rather than a panic. It calls Evaluate
// directly with Results sized by Reset and uses nothing but the Energy interface, so it
// serves built-in energies and plugins alike.
//
// The finite differences use the fourth-order five-point stencil
//
//	f'(0) ≈ [f(−2h) − 8f(−h) + 8f(h) − f(2h)] / 12h,
//
// whose truncation error is h⁴f⁽⁵⁾/30 and rounding error about 1.5ε|f|/h; with the default
// h = 1e-3 (scaled by max(1, |coordinate|)) both are near 1e-12 for unit-scale functions, far
// below the default tolerance of 1e-6, while a wrong term in a derivative shows as an error
// of order one.
//
// Fallback compares the Evaluator's finite-difference fallbacks with an energy's exact
// second-order outputs (Evaluator.ForceFallback).
package check
