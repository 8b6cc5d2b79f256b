package host

import (
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestStderrLogSplitsAnyWrites(t *testing.T) {
	h := &captureHandler{}
	s := newStderrLog("p", slog.New(h), slog.LevelDebug-4, -1, 0)
	for _, w := range []string{"first li", "ne\nsecond\n", "{\"@level\": \"error\", \"@message\": 42}\n", "no newline"} {
		s.Write([]byte(w))
	}
	assert.Equal(t, []string{"first line", "second", `{"@level": "error", "@message": 42}`}, s.tail(10))
	s.flush()
	assert.Equal(t, []string{"second", `{"@level": "error", "@message": 42}`, "no newline"}, s.tail(3))
	assert.Equal(t, []string{"DEBUG first line", "DEBUG second", "ERROR 42", "DEBUG no newline"}, h.msgs)
}

func TestStderrLogKeepsTheLastLines(t *testing.T) {
	s := newStderrLog("p", nil, 0, 0, 0)
	for i := 0; i < 3*tailLines; i++ {
		fmt.Fprintf(s, "line %d\n", i)
	}
	fmt.Fprintln(s, strings.Repeat("x", 3*maxLineBytes))
	tail := s.tail(tailLines + 10)
	assert.Len(t, tail, tailLines)
	assert.Equal(t, fmt.Sprintf("line %d", 2*tailLines+1), tail[0])
	assert.Len(t, tail[tailLines-1], maxLineBytes, "long lines are truncated")
}

func TestParseLineNeverFails(t *testing.T) {
	for _, l := range []string{`{"@message": 42}`, `{"@level": 7}`, `{"@message": null, "@timestamp": {}}`, `{`, `{"a":`, "\xff\xfe", `[WARN] w`, `panic: x`} {
		level, msg, _ := parseLine(l)
		_ = level
		_ = msg
	}
	level, msg, attrs := parseLine(`{"@level":"warn","@message":"m","@module":"x","k":1}`)
	assert.Equal(t, slog.LevelWarn, level)
	assert.Equal(t, "m", msg)
	assert.Len(t, attrs, 2)
}

// A flood of lines reaches the log at the rate limit, lines below the level not at all, and
// the count of dropped lines is reported; every line is still kept for error reports.
func TestStderrLogRateAndLevel(t *testing.T) {
	h := &captureHandler{}
	s := newStderrLog("p", slog.New(h), slog.LevelInfo, 20, 50)
	// A clock that advances 100 µs a line: the 10,000 lines span one second, whatever the
	// speed of the machine (or of a race-detector build).
	clock := time.Unix(0, 0)
	s.now = func() time.Time { clock = clock.Add(100 * time.Microsecond); return clock }
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(s, `{"@level":"info","@message":"line %d"}`+"\n", i)
		fmt.Fprintf(s, "[DEBUG] below the level %d\n", i)
	}
	assert.Equal(t, "[DEBUG] below the level 9999", s.tail(1)[0])
	s.flush()
	h.mu.Lock()
	defer h.mu.Unlock()
	// The log holds the lines let through and, each time lines flow again after some were
	// dropped (and at the end), a warning with the count dropped since the last one.
	lines, reported := 0, 0
	dropped := regexp.MustCompile(`^WARN (\d+) plugin log lines dropped: more than 20 lines a second$`)
	for _, m := range h.msgs {
		assert.NotContains(t, m, "below the level")
		if g := dropped.FindStringSubmatch(m); g != nil {
			k, _ := strconv.Atoi(g[1])
			reported += k
			continue
		}
		lines++
	}
	// 10,000 lines 100 µs apart: the burst of 50, then 20 a second for one second (the last
	// token may fall a rounding short of whole).
	assert.InDelta(t, 50+20, lines, 1, "the burst, then the rate")
	assert.Equal(t, 10000-lines, reported, "every dropped line is counted in a warning")
	assert.Regexp(t, dropped, h.msgs[len(h.msgs)-1], "the end reports the last drops")
}
