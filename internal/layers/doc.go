// Package layers holds no code: its test checks goebm's layering, that every package imports
// only packages below it (see DESIGN.md, "Parts, and who may import whom").
package layers
