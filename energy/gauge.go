package energy

import "fmt"

// Gauge freedoms of the built-in energies (framework.Gauged): transformations of θ that leave
// E unchanged at every point, under which standard errors of θ mean nothing.

// Gauge describes the RBM's: its hidden units can be permuted.
func (e *RBM) Gauge() string {
	return fmt.Sprintf("its %d hidden units can be permuted (rows of W with their entries of c) without changing E", e.h)
}

// Gauge describes the MLP's: the units of each hidden layer can be permuted.
func (m *MLP) Gauge() string {
	return "the units of each hidden layer can be permuted (with their weights and biases) without changing E"
}

// Gauge describes the mixture's: its components can be relabelled.
func (g *GMM) Gauge() string {
	return "its components can be relabelled without changing E"
}
