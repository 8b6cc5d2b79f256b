package host

import (
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

// A plugin that floods its stderr with warnings (500 lines a request) reaches the host's log
// at the rate limit only, with the count of the lines dropped; every request still answers.
func TestLogFloodIsRateLimited(t *testing.T) {
	cfg := pluginConfig(t, "flood")
	cfg.Env = framework.Env{Dim: 2}
	h := &captureHandler{}
	cfg.Logger = slog.New(h)
	e := open(t, cfg)
	req := energyRequest(rand.New(rand.NewPCG(10, 10)), 8, 2)
	start := time.Now()
	for i := 0; i < 40; i++ { // 20,000 lines
		_, err := eval(e, req)
		require.NoError(t, err)
	}
	require.NoError(t, e.Close()) // flushes the count of dropped lines
	elapsed := time.Since(start).Seconds()
	h.mu.Lock()
	defer h.mu.Unlock()
	chatty, dropped := 0, false
	for _, m := range h.msgs {
		switch {
		case strings.Contains(m, "chatty plugin line"):
			chatty++
		case strings.Contains(m, "plugin log lines dropped: more than 20 lines a second"):
			dropped = true
		}
	}
	assert.LessOrEqual(t, float64(chatty), float64(DefaultLogBurst)+DefaultLogRate*elapsed+1, "lines logged in %.1fs", elapsed)
	assert.GreaterOrEqual(t, chatty, DefaultLogBurst/2, "the burst passes")
	assert.True(t, dropped, "the count of dropped lines is logged")
}
