package study_test

import (
	"fmt"

	"github.com/goebm/goebm/study"
)

// The cells of `ebm study STUDY.toml --cell 3,5-9`, and back in the form of Slurm's --array.
func ExampleParseCells() {
	cells, err := study.ParseCells("3,5-9", 12)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cells, study.FormatCells(cells))
	_, err = study.ParseCells("12", 12)
	fmt.Println(err)
	// Output:
	// [3 5 6 7 8 9] 3,5-9
	// no such cell 12: the study has 12 cells, 0 to 11
}

// The value of --sbatch, as #SBATCH lines take it.
func ExampleSplitOptions() {
	opts, err := study.SplitOptions(`--account=lab --qos short --comment "two words"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range opts {
		fmt.Println("#SBATCH " + o)
	}
	// Output:
	// #SBATCH --account=lab
	// #SBATCH --qos short
	// #SBATCH --comment "two words"
}
