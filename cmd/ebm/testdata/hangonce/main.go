// Command hangonce is a test plugin: goebm's built-in mlp, served by the Go SDK, whose
// $GOEBM_TEST_HANG_AT-th Evaluate hangs forever in the first process that creates the file
// $GOEBM_TEST_HANG_MARKER. Without those variables it never hangs.
package main

import (
	"os"
	"strconv"
	"sync/atomic"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/sdk"
)

type hangOnce struct {
	framework.Energy
	at    int64
	calls *atomic.Int64
}

func (h hangOnce) Evaluate(req *framework.Request, res *framework.Result) error {
	if h.calls.Add(1) == h.at {
		if f, err := os.OpenFile(os.Getenv("GOEBM_TEST_HANG_MARKER"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
			f.Close()
			select {}
		}
	}
	return h.Energy.Evaluate(req, res)
}

func main() {
	reg := framework.NewRegistry()
	energy.Register(reg)
	entry := reg.Energies["mlp"]
	inner := entry.New
	at, _ := strconv.ParseInt(os.Getenv("GOEBM_TEST_HANG_AT"), 10, 64)
	calls := new(atomic.Int64)
	entry.New = func(opts any, env framework.Env) (framework.Energy, error) {
		e, err := inner(opts, env)
		if err != nil || at <= 0 {
			return e, err
		}
		return hangOnce{Energy: e, at: at, calls: calls}, nil
	}
	sdk.ServeEntry(entry)
}
