package bench

// ExactSMFlops returns the floating-point operations of the matrix products of one exact
// score-matching step on the MLP d → hidden… → 1 at the given batch, as energy/mlp.go
// computes the request today (∇ₓE, the mixed product ∇θ Σ uᵀ∇ₓE, the Laplacian by
// propagating the Jacobian ∂z_l/∂x, and its θ-gradient by the reverse sweep); elementwise
// passes (activations, products by σ′, σ″, σ‴) are not counted. A product of an n×k and a
// k×m matrix counts 2nkm.
//
// Per hidden-to-hidden layer of widths a → b the request does 11 + 3d products of n rows
// (forward, backward to ∇ₓE, the tangent's forward and reverse sweeps, the two weight
// gradients of the mixed product; the Jacobian J (d products) and the Laplacian S (1) of the
// forward Laplacian sweep; in its reverse sweep the three weight gradients and the three
// adjoints passed down, d + 2 each). The first layer d → h₁ does 6 (forward, ∇ₓE, tangent,
// two mixed weight gradients, one Laplacian weight gradient: its Jacobian is W₁ itself), the
// output layer 2 (the Laplacian and its weight gradient). For 2 → 64 → 64 → 1 at batch 256:
// 17 products of 256×64×64 and 36.1 MFLOP in all.
//
// The exact-SM algorithm of issue 17 (item 3) replaces this count with its own: this function
// is where the bench tables take it from, so it changes with the algorithm.
func ExactSMFlops(d int, hidden []int, batch int) float64 {
	if len(hidden) == 0 || d <= 0 || batch <= 0 {
		return 0
	}
	n := float64(batch)
	f := 6 * 2 * n * float64(d*hidden[0])
	for l := 1; l < len(hidden); l++ {
		f += float64(11+3*d) * 2 * n * float64(hidden[l-1]*hidden[l])
	}
	f += 2 * 2 * n * float64(hidden[len(hidden)-1])
	return f
}
