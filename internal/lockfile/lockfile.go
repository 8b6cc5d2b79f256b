package lockfile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultHeartbeat  = 10 * time.Second
	DefaultStaleAfter = time.Minute
)

// maxInfoBytes bounds what is read of a lock file: a lock file is a few hundred bytes, and a
// hostile or corrupt one must not make the reader allocate more.
const maxInfoBytes = 64 << 10

// Info is what a lock file holds: who holds the lock, since when, and why.
type Info struct {
	Host    string    `json:"host"`
	BootID  string    `json:"boot_id,omitempty"`
	PID     int       `json:"pid"`
	Start   string    `json:"process_start,omitempty"` // the holder's start time as the OS records it
	Since   time.Time `json:"since"`
	Token   string    `json:"token"`
	Purpose string    `json:"purpose,omitempty"`
}

// String describes the holder for messages: "pid 123 on node7 since 12:04:05 (training)".
func (i Info) String() string {
	s := fmt.Sprintf("pid %d on %s since %s", i.PID, i.Host, i.Since.Local().Format(time.DateTime))
	if i.Purpose != "" {
		s += " (" + i.Purpose + ")"
	}
	return s
}

// ErrLocked is wrapped by the error Acquire returns when another live process holds the lock.
var ErrLocked = errors.New("locked by another process")

// HeldError is the error Acquire returns when the lock is held; it wraps ErrLocked.
type HeldError struct {
	Path   string
	Holder Info
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Path, ErrLocked, e.Holder)
}

func (e *HeldError) Unwrap() error { return ErrLocked }

// Options set how a lock is held. The zero value holds the documented defaults.
type Options struct {
	// Purpose is written into the lock file for whoever finds it held ("training", "cell 7").
	Purpose string
	// Heartbeat is how often the holder refreshes the lock file's modification time; zero
	// means DefaultHeartbeat.
	Heartbeat time.Duration
	// StaleAfter is how old the modification time of a lock taken on another machine must be
	// before it is taken over; zero means DefaultStaleAfter. It must exceed Heartbeat.
	StaleAfter time.Duration
}

func (o Options) heartbeat() time.Duration {
	if o.Heartbeat > 0 {
		return o.Heartbeat
	}
	return DefaultHeartbeat
}

func (o Options) staleAfter() time.Duration {
	if o.StaleAfter > 0 {
		return o.StaleAfter
	}
	return DefaultStaleAfter
}

// Lock is a held lock. Release it when done; a process that dies holding it leaves a stale
// lock that the next Acquire takes over (see the package documentation for the rule).
type Lock struct {
	path string
	info Info

	once sync.Once
	stop chan struct{}
	done chan struct{}
	lost chan struct{}
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// Info returns what the lock file holds.
func (l *Lock) Info() Info { return l.info }

// Lost returns a channel closed if the lock file was removed or replaced by another process
// while held (which happens only if this process was wrongly judged stale, for example after
// its machine was suspended for longer than StaleAfter). A holder that sees it should stop
// writing to what the lock protects.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Acquire takes the lock at path, taking over a stale lock, or returns a *HeldError that
// wraps ErrLocked when a live process holds it. It does not wait.
func Acquire(path string, opts Options) (*Lock, error) {
	self, err := selfInfo(opts.Purpose)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		err := create(path, self)
		if err == nil {
			l := &Lock{path: path, info: self, stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{})}
			go l.beat(opts.heartbeat())
			return l, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		holder, stale, err := inspect(path, opts.staleAfter())
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !stale {
			return nil, &HeldError{Path: path, Holder: holder}
		}
		if err := breakStale(path, holder.Token, opts.staleAfter()); err != nil {
			return nil, err
		}
	}
	holder, _, _ := inspect(path, opts.staleAfter())
	return nil, &HeldError{Path: path, Holder: holder}
}

// Inspect reports who holds the lock at path and whether the lock is stale by the package's
// rule, without taking it or changing anything. With no lock at path it returns an error
// wrapping fs.ErrNotExist. An unreadable lock file (a holder may be writing it) is reported
// with Host "?" and judged by its age.
func Inspect(path string, opts Options) (holder Info, stale bool, err error) {
	return inspect(path, opts.staleAfter())
}

// Release stops the heartbeat and removes the lock file if it is still this lock's.
func (l *Lock) Release() error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		cur, rerr := readInfo(l.path)
		switch {
		case errors.Is(rerr, fs.ErrNotExist):
			return
		case rerr == nil && cur.Token != l.info.Token:
			return // not ours any more: leave the new holder's lock alone
		case rerr != nil:
			return // unreadable: a new holder may be writing it; an unreadable lock goes stale by its age
		}
		if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("release lock %s: %w", l.path, rerr)
		}
	})
	return err
}

// beat refreshes the lock file's modification time until Release, and closes lost if the
// file is no longer this lock's.
func (l *Lock) beat(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		cur, err := readInfo(l.path)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && cur.Token != l.info.Token) {
			close(l.lost)
			return
		}
		now := time.Now()
		_ = os.Chtimes(l.path, now, now) // a failed refresh only makes the lock look older
	}
}

// create makes the lock file with O_EXCL and writes info into it. The file is written before
// anyone can judge it by content only in the sense that an empty or partial file is judged
// by its age (see inspect).
func create(path string, info Info) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// inspect reads the lock at path and judges whether it is stale.
func inspect(path string, staleAfter time.Duration) (Info, bool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Info{}, false, err
	}
	age := time.Since(st.ModTime())
	info, err := readInfo(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, false, err
	}
	if err != nil {
		// Unreadable or partial: a holder may be writing it right now; judge by age only.
		return Info{Host: "?", Since: st.ModTime()}, age > staleAfter, nil
	}
	return info, isStale(info, age, staleAfter), nil
}

func isStale(info Info, age, staleAfter time.Duration) bool {
	host, _ := os.Hostname()
	boot := bootID()
	if info.Host == host && host != "" {
		if info.BootID != "" && boot != "" && info.BootID != boot {
			return true // taken before this machine last booted
		}
		if info.BootID == boot {
			return !alive(info.PID, info.Start)
		}
	}
	return age > staleAfter
}

// breakStale removes the stale lock at path whose token is token, under the break lock.
func breakStale(path, token string, staleAfter time.Duration) error {
	brk := path + ".break"
	if st, err := os.Stat(brk); err == nil && time.Since(st.ModTime()) > staleAfter {
		os.Remove(brk) // a breaker died between taking and releasing the break lock
	}
	self, err := selfInfo("breaking a stale lock")
	if err != nil {
		return err
	}
	if err := create(brk, self); err != nil {
		if errors.Is(err, fs.ErrExist) {
			time.Sleep(50 * time.Millisecond) // another process is breaking it; try again
			return nil
		}
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer os.Remove(brk)
	cur, err := readInfo(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err == nil && cur.Token != token:
		return nil // replaced meanwhile by a live holder: judge it afresh
	case err != nil:
		// Unreadable now. A lock judged stale by its content has been replaced by a new
		// holder that is writing its file right now (create makes it empty first): leave it.
		// A lock that was unreadable and judged by its age is removed only if it is still old.
		if token != "" {
			return nil
		}
		if st, serr := os.Stat(path); serr != nil || time.Since(st.ModTime()) <= staleAfter {
			return nil
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lock %s: removing the stale lock: %w", path, err)
	}
	return nil
}

func readInfo(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	b := make([]byte, maxInfoBytes)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return Info{}, fmt.Errorf("empty lock file")
	}
	var info Info
	if err := json.Unmarshal(b[:n], &info); err != nil {
		return Info{}, fmt.Errorf("unreadable lock file: %w", err)
	}
	if info.Token == "" {
		return Info{}, fmt.Errorf("lock file without a token")
	}
	return info, nil
}

func selfInfo(purpose string) (Info, error) {
	host, err := os.Hostname()
	if err != nil {
		return Info{}, fmt.Errorf("lock: host name: %w", err)
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return Info{}, fmt.Errorf("lock: token: %w", err)
	}
	pid := os.Getpid()
	return Info{Host: host, BootID: bootID(), PID: pid, Start: processStart(pid), Since: time.Now().UTC(),
		Token: hex.EncodeToString(tok[:]), Purpose: purpose}, nil
}
