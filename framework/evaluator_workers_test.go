package framework

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A warm Evaluator allocates nothing per request when it spreads chunks over several
// goroutines either: the helper goroutines are started from one func value built once.
func TestEvaluatorNoAllocsWithWorkers(t *testing.T) {
	for _, w := range []int{2, 4} {
		rng := rand.New(rand.NewPCG(13, uint64(w)))
		e := &quartic{d: 3, caps: allSecond}
		req := fullRequest(rng, e, 1000)
		req.Outputs = FirstOrder | OutMixed
		ev := NewEvaluator(e)
		ev.Workers, ev.ChunkRows = w, 64
		var r Result
		require.NoError(t, ev.Evaluate(req, &r))
		allocs := testing.AllocsPerRun(50, func() { _ = ev.Evaluate(req, &r) })
		assert.Zero(t, allocs, "workers = %d", w)
	}
}

// Helpers exit when their request ends: an Evaluator holds no goroutine between requests,
// however many Evaluators were used and dropped.
func TestEvaluatorLeavesNoGoroutines(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	e := &quartic{d: 2, caps: allSecond}
	req := fullRequest(rng, e, 500)
	before := runtime.NumGoroutine()
	for k := 0; k < 50; k++ {
		ev := NewEvaluator(e)
		ev.Workers, ev.ChunkRows = 4, 32
		var r Result
		require.NoError(t, ev.Evaluate(req, &r))
	}
	// Wait for the helpers that have signalled Done to be descheduled.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

// A panic in a chunk evaluated by a helper goroutine is that chunk's error, with its rows.
func TestEvaluatorPanicInHelper(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	e := &panicky{quartic: quartic{d: 2, caps: allSecond}, row: 130}
	req := fullRequest(rng, &e.quartic, 200)
	for i := 0; i < 200; i++ {
		req.X.Set(i, 0, float64(i))
	}
	ev := NewEvaluator(e)
	ev.Workers, ev.ChunkRows = 3, 64
	var r Result
	err := ev.Evaluate(req, &r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rows 128–191")
	assert.Contains(t, err.Error(), "panic in Evaluate")
	var nf *NonFiniteError
	assert.False(t, errors.As(err, &nf))
}

// panicky panics on the chunk that holds the row whose first coordinate is row.
type panicky struct {
	quartic
	row int
}

func (p *panicky) Evaluate(req *Request, res *Result) error {
	n, _ := req.X.Dims()
	for i := 0; i < n; i++ {
		if int(req.X.At(i, 0)) == p.row {
			panic("boom")
		}
	}
	return p.quartic.Evaluate(req, res)
}
