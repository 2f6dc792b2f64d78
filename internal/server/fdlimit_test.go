package server

import (
	"syscall"
	"testing"
)

// TestDefaultMaxConns checks that hlsd's default connection cap follows the
// open-file limit: the soft limit is raised to the hard one, and the cap
// leaves descriptors for files, the database and uploads.
func TestDefaultMaxConns(t *testing.T) {
	n := DefaultMaxConns()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Cur != l.Max {
		t.Errorf("soft open-file limit %d, want the hard limit %d", l.Cur, l.Max)
	}
	if n <= 0 || uint64(n) >= l.Cur {
		t.Errorf("DefaultMaxConns() = %d with a limit of %d: want a positive cap below the limit", n, l.Cur)
	}
	for _, c := range []struct{ limit, want int }{
		{1024, 768},       // the old fixed default's limit: 256 kept
		{20000, 17500},    // this machine's
		{1048576, 917504}, // systemd's usual hard limit
		{300, 150},        // tiny: half
	} {
		if got := ConnsForFileLimit(c.limit); got != c.want {
			t.Errorf("ConnsForFileLimit(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
}
