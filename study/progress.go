package study

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws "study NAME: D/N done, R running, L left" in place on a terminal, at most
// five times a second. With a nil writer it does nothing.
type progress struct {
	w                     io.Writer
	name                  string
	total                 int
	mu                    sync.Mutex
	done, running, failed int
	start                 time.Time
	drawn                 bool
	stopc                 chan struct{}
	wg                    sync.WaitGroup
	doneAtStart           int
}

func newProgress(w io.Writer, name string, total, done int) *progress {
	p := &progress{w: w, name: name, total: total, done: done, doneAtStart: done, start: time.Now(), stopc: make(chan struct{})}
	if w == nil {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stopc:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *progress) started() {
	p.mu.Lock()
	p.running++
	p.mu.Unlock()
}

func (p *progress) finished(st cellStatus, err error) {
	p.mu.Lock()
	p.running--
	if err == nil && (st == cellDone || st == cellFailed || st == cellSkipped) {
		p.done++
	}
	if st == cellFailed {
		p.failed++
	}
	p.mu.Unlock()
}

// draw writes the line; the caller holds mu.
func (p *progress) draw() {
	if p.w == nil {
		return
	}
	left := p.total - p.done - p.running
	line := fmt.Sprintf("study %s: %d/%d done, %d running, %d left", p.name, p.done, p.total, p.running, left)
	if p.failed > 0 {
		line += fmt.Sprintf(", %d failed", p.failed)
	}
	el := time.Since(p.start)
	if ran := p.done - p.doneAtStart; ran > 0 && left+p.running > 0 {
		eta := time.Duration(float64(el) / float64(ran) * float64(left+p.running))
		line += fmt.Sprintf(", eta %s", eta.Round(time.Second))
	}
	fmt.Fprintf(p.w, "\r%-78s", line)
	p.drawn = true
}

// clear erases the line so that a log line can be printed; it is redrawn at the next tick.
// The caller must not hold mu.
func (p *progress) clear() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 78))
		p.drawn = false
	}
}

func (p *progress) stop() {
	if p.w == nil {
		return
	}
	close(p.stopc)
	p.wg.Wait()
	p.mu.Lock()
	p.draw()
	fmt.Fprintln(p.w)
	p.mu.Unlock()
}
