package viewer

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stats is a Recorder that sums up requests between two Take calls.
type Stats struct {
	mu       sync.Mutex
	ttfb     []time.Duration
	requests int
	failed   int
	bytes    int64
	stalls   int
	stalled  time.Duration
	firstErr string
}

// Record implements Recorder.
func (s *Stats) Record(r Result) {
	s.mu.Lock()
	s.requests++
	if r.Failed() {
		s.failed++
		if s.firstErr == "" {
			if r.Err != nil {
				s.firstErr = r.Err.Error()
			} else {
				s.firstErr = "status " + strconv.Itoa(r.Status)
			}
		}
	} else {
		s.ttfb = append(s.ttfb, r.TTFB)
	}
	s.bytes += r.Bytes
	s.mu.Unlock()
}

// Stall implements Recorder.
func (s *Stats) Stall(d time.Duration) {
	s.mu.Lock()
	s.stalls++
	s.stalled += d
	s.mu.Unlock()
}

// Window is what Take returns: the requests of one period.
type Window struct {
	Requests, Failed, Stalls int
	Bytes                    int64
	Stalled                  time.Duration
	FirstError               string        // of the failed requests, the first
	P50, P99, Max            time.Duration // time to first byte of the requests that succeeded
}

// Take returns the figures since the last Take and starts a new period.
func (s *Stats) Take() Window {
	s.mu.Lock()
	t := s.ttfb
	w := Window{Requests: s.requests, Failed: s.failed, Stalls: s.stalls, Bytes: s.bytes, Stalled: s.stalled, FirstError: s.firstErr}
	s.ttfb, s.requests, s.failed, s.stalls, s.bytes, s.stalled = make([]time.Duration, 0, len(t)), 0, 0, 0, 0, 0
	s.firstErr = ""
	s.mu.Unlock()
	if len(t) > 0 {
		slices.Sort(t)
		w.P50 = t[len(t)/2]
		w.P99 = t[min(len(t)-1, len(t)*99/100)]
		w.Max = t[len(t)-1]
	}
	return w
}

// Proc reads the CPU time and resident memory of a process and its
// children (nginx's workers) from /proc.
type Proc struct{ PID int }

// pids returns p's pid and those of its direct children.
func (p Proc) pids() []int {
	out := []int{p.PID}
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(p.PID) + "/task/*/children")
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// CPU returns the user plus system time used so far.
func (p Proc) CPU() time.Duration {
	var ticks int64
	for _, pid := range p.pids() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			// Fields after the command: state is 0, utime 11, stime 12.
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				ticks += u + st
			}
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}

// RSS returns the resident memory in bytes.
func (p Proc) RSS() int64 { return p.status("VmRSS:") }

// Anon returns the resident anonymous memory in bytes: RSS without the
// mapped executable and files (shared with the page cache).
func (p Proc) Anon() int64 { return p.status("RssAnon:") }

func (p Proc) status(field string) int64 {
	var kb int64
	for _, pid := range p.pids() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, field); ok {
				n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				kb += n
			}
		}
	}
	return kb << 10
}
