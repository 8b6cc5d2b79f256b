package main

import (
	"io"

	"github.com/goebm/goebm/framework"
)

// writeJSON prints v as indented JSON, every NaN or ±Inf as null (framework.MarshalJSON): the
// output of every --json flag.
func writeJSON(w io.Writer, v any) error {
	b, err := framework.MarshalJSON(v, true)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
