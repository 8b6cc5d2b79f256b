package bench

// ExactSMFlops returns the floating-point operations of the matrix products of one exact
// score-matching step on the MLP d → hidden… → 1 at the given batch, as energy/mlp.go
// computes the request today (∇ₓE, the mixed product ∇θ Σ uᵀ∇ₓE, the Laplacian by Taylor
// terms carried through the forward pass, and its θ-gradient by one reverse sweep);
// elementwise passes (activations, products by σ′, σ″, σ‴) are not counted. A product of an
// n×k and a k×m matrix counts 2nkm.
//
// Per hidden-to-hidden layer of widths a → b the request does 3d + 9 products of n rows: d + 2
// in the Taylor forward pass (z, the Jacobian J = ∂z/∂x and the Laplacian term), 1 for the
// backward pass to ∇ₓE, 3 for the mixed product (its tangent's forward is read off J), d + 2
// for the Laplacian's weight gradient and d + 1 for its adjoints. The first layer d → h₁ does 5
// (its Jacobian is W₁ itself), the output layer 2. For 2 → 64 → 64 → 1 at batch 256: 15
// products of 256×64×64 and 31.85 MFLOP in all, against 17 and 36.1 MFLOP for the algorithm
// before Taylor mode (the derivation is in energy/mlp_second.go, above taylor).
func ExactSMFlops(d int, hidden []int, batch int) float64 {
	if len(hidden) == 0 || d <= 0 || batch <= 0 {
		return 0
	}
	n := float64(batch)
	f := 5 * 2 * n * float64(d*hidden[0])
	for l := 1; l < len(hidden); l++ {
		f += float64(9+3*d) * 2 * n * float64(hidden[l-1]*hidden[l])
	}
	f += 2 * 2 * n * float64(hidden[len(hidden)-1])
	return f
}
