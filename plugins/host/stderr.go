package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	// tailLines is how many of a plugin's last stderr lines the host keeps for errors.
	tailLines = 200
	// maxLineBytes truncates very long stderr lines in the ring and the log.
	maxLineBytes = 8 << 10
)

// stderrLog reads a plugin's stderr: it splits it into lines whatever the writes look like,
// keeps the last tailLines lines for error reports, and logs the lines at or above its level
// (hclog-shaped JSON lines at their level, [LEVEL] prefixes, other lines as debug), at most
// rate lines a second with bursts of burst; the lines over the rate are counted, and the
// count is logged when lines flow again and at the end. A line below the level or over the
// rate costs a look at its level only, so a chatty plugin cannot slow the host down. It never
// fails and never panics on any input: a malformed line is just text.
type stderrLog struct {
	label string
	log   *slog.Logger
	level slog.Level
	rate  float64 // lines per second; ≤ 0: no bound
	burst float64

	mu      sync.Mutex
	partial []byte
	ring    [tailLines]string
	next    int
	count   int
	inPanic bool
	tokens  float64
	last    time.Time
	dropped int
	now     func() time.Time // the clock of the rate limit: time.Now (tests set their own)
}

func newStderrLog(label string, log *slog.Logger, level slog.Level, rate, burst int) *stderrLog {
	return &stderrLog{label: label, log: log, level: level, rate: float64(rate), burst: float64(burst), tokens: float64(burst), now: time.Now}
}

// Write implements io.Writer.
func (s *stderrLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(s.partial) < maxLineBytes {
				s.partial = append(s.partial, p[:min(len(p), maxLineBytes-len(s.partial))]...)
			}
			break
		}
		line := p[:i]
		if len(s.partial) > 0 {
			line = append(s.partial, line[:min(len(line), max(0, maxLineBytes-len(s.partial)))]...)
		}
		s.line(line)
		s.partial = s.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// flush handles a last line that had no newline.
func (s *stderrLog) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.line(s.partial)
		s.partial = s.partial[:0]
	}
	s.reportDropped()
}

// Dropped returns how many lines the rate limit kept from the log so far.
func (s *stderrLog) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// reportDropped logs how many lines were dropped since the last report.
func (s *stderrLog) reportDropped() {
	if s.dropped > 0 && s.log != nil {
		s.log.Warn(fmt.Sprintf("%d plugin log lines dropped: more than %g lines a second", s.dropped, s.rate), "plugin", s.label)
		s.dropped = 0
	}
}

// admit takes a token for one line, refilling at rate per second.
func (s *stderrLog) admit() bool {
	if s.rate <= 0 {
		return true
	}
	now := s.now()
	if !s.last.IsZero() {
		s.tokens = min(s.burst, s.tokens+now.Sub(s.last).Seconds()*s.rate)
	}
	s.last = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

func (s *stderrLog) line(b []byte) {
	b = bytes.TrimRight(b, "\r")
	if len(b) > maxLineBytes {
		b = b[:maxLineBytes]
	}
	text := strings.ToValidUTF8(string(b), "\uFFFD")
	s.ring[s.next] = text
	s.next = (s.next + 1) % tailLines
	s.count++
	if s.log == nil {
		return
	}
	if strings.HasPrefix(text, "panic: ") || strings.HasPrefix(text, "fatal error: ") || strings.HasPrefix(text, "Traceback (most recent call last)") {
		s.inPanic = true
	}
	level := sniffLevel(text)
	if s.inPanic {
		level = max(level, slog.LevelError)
	}
	if level < s.level {
		return
	}
	if !s.admit() {
		s.dropped++
		return
	}
	s.reportDropped()
	level, msg, attrs := parseLine(text)
	if s.inPanic {
		level = max(level, slog.LevelError)
	}
	if level < s.level {
		return
	}
	s.log.LogAttrs(context.Background(), level, msg, append([]slog.Attr{slog.String("plugin", s.label)}, attrs...)...)
}

// sniffLevel returns a line's level without decoding it: the value of an "@level" key, info
// for other JSON-looking lines, a [LEVEL] prefix, or debug. It is at least the level that
// parseLine finds, so that it filters cheaply before the rate limit.
func sniffLevel(text string) slog.Level {
	if strings.HasPrefix(text, "{") {
		i := strings.Index(text, `"@level"`)
		if i < 0 {
			return slog.LevelInfo
		}
		rest := strings.TrimLeft(text[i+len(`"@level"`):], " \t:")
		if !strings.HasPrefix(rest, `"`) {
			return slog.LevelInfo
		}
		rest = rest[1:]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			return levelOf(rest[:j])
		}
		return slog.LevelInfo
	}
	level, _, _ := parsePrefix(text)
	return level
}

// setLabel renames the plugin in log records.
func (s *stderrLog) setLabel(l string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.label = l
}

// tail returns up to n of the last lines, oldest first.
func (s *stderrLog) tail(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = min(n, s.count, tailLines)
	out := make([]string, n)
	for i := 0; i < n; i++ {
		out[i] = s.ring[(s.next-n+i+tailLines)%tailLines]
	}
	return out
}

// parseLine reads an hclog-shaped JSON line ({"@level":…, "@message":…, k: v}) or a plain
// line with an optional [LEVEL] prefix. Any field may have any type.
func parseLine(text string) (slog.Level, string, []slog.Attr) {
	if strings.HasPrefix(text, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(text), &m) == nil {
			level := slog.LevelInfo
			if l, ok := m["@level"].(string); ok {
				level = levelOf(l)
			}
			msg := ""
			switch v := m["@message"].(type) {
			case string:
				msg = v
			case nil:
			default:
				msg = fmt.Sprint(v)
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				if k != "@level" && k != "@message" && k != "@timestamp" {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			attrs := make([]slog.Attr, 0, len(keys))
			for _, k := range keys {
				attrs = append(attrs, slog.Any(strings.TrimPrefix(k, "@"), m[k]))
			}
			return level, msg, attrs
		}
	}
	return parsePrefix(text)
}

// parsePrefix reads a plain line with an optional [LEVEL] prefix; other lines are debug.
func parsePrefix(text string) (slog.Level, string, []slog.Attr) {
	for _, p := range []struct {
		prefix string
		level  slog.Level
	}{{"[TRACE]", slog.LevelDebug - 4}, {"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo}, {"[WARN]", slog.LevelWarn}, {"[ERROR]", slog.LevelError}} {
		if strings.HasPrefix(text, p.prefix) {
			return p.level, strings.TrimSpace(strings.TrimPrefix(text, p.prefix)), nil
		}
	}
	return slog.LevelDebug, text, nil
}

func levelOf(s string) slog.Level {
	switch strings.ToLower(s) {
	case "trace":
		return slog.LevelDebug - 4
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error", "fatal", "critical":
		return slog.LevelError
	}
	return slog.LevelInfo
}
