package server

import "syscall"

// RaiseFileLimit lifts the process's soft limit on open files to its hard
// limit (every connection is a file descriptor) and returns the limit now
// in force, or 0 when it cannot be read.
func RaiseFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if l.Cur < l.Max {
		up := l
		up.Cur = up.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			l = up
		}
	}
	if l.Cur > 1<<30 {
		return 1 << 30
	}
	return int(l.Cur)
}

// DefaultMaxConns is the connection cap of hlsd serve when --max-conns is
// not given: what the process can hold, i.e. its open-file limit (raised
// to the hard limit first) less a reserve for everything else that needs
// descriptors: the file of each segment being sent, the database, uploads,
// ffmpeg's pipes. A fixed cap below that refuses viewers the machine could
// serve; none at all lets a flood of connections starve the rest.
func DefaultMaxConns() int {
	limit := RaiseFileLimit()
	if limit <= 0 {
		return 1024
	}
	return ConnsForFileLimit(limit)
}

// ConnsForFileLimit is the connection cap for an open-file limit: an
// eighth of it (at least 256) is kept in reserve; tiny limits get half.
func ConnsForFileLimit(limit int) int {
	reserve := max(256, limit/8)
	if limit < 2*reserve {
		return max(1, limit/2)
	}
	return limit - reserve
}

// DefaultGCPercent is the garbage collector's target (GOGC) hlsd serve
// runs with when the GOGC variable is unset. A delivery server's heap is
// mostly connection buffers that live as long as their viewers, and it
// allocates little per request (nothing for a cached playlist), so
// collecting at 50% growth rather than Go's 100% costs little CPU and keeps
// the resident memory of thousands of held connections about a tenth
// lower (docs/benchmarks.md, "Connections").
const DefaultGCPercent = 50
