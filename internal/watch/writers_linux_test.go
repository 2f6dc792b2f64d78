package watch

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestInotifyWrites checks each Linux signal on its own: inotify reports a
// file written and not closed, whoever writes it, and /proc shows this
// process holding it open for writing, but not for reading.
func TestInotifyWrites(t *testing.T) {
	dir := t.TempDir()
	ev, err := watchWrites(dir)
	if err != nil {
		t.Fatalf("watchWrites: %v", err)
	}
	defer ev.close()
	logger := slog.New(slog.DiscardHandler)
	path := filepath.Join(dir, "a.mkv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("part"); err != nil {
		t.Fatal(err)
	}
	if !ev.drain(logger)["a.mkv"] {
		t.Error("inotify: a file written and still open is not reported")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var w lazyWriters
	if pid := w.holder(info, logger); pid != os.Getpid() {
		t.Errorf("/proc: holder = %d, want this process %d", pid, os.Getpid())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if ev.drain(logger)["a.mkv"] {
		t.Error("inotify: a closed file is still reported as being written")
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w = lazyWriters{}
	if pid := w.holder(info, logger); pid != 0 {
		t.Errorf("/proc: holder = %d for a file only open for reading, want 0", pid)
	}
}
