package structure_test

import (
	"fmt"

	"github.com/goebm/goebm/structure"
)

// The selected graph of a run is written as edges.csv: one line per edge, 1-based nodes.
func ExampleEdgeList() {
	fmt.Print(string(structure.EdgeList([]structure.Edge{{I: 1, J: 2, Weight: 0.5}, {I: 2, J: 7, Weight: -0.25}})))
	// Output:
	// i,j,weight
	// 1,2,0.5
	// 2,7,-0.25
}
