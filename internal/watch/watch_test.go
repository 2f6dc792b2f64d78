package watch_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/watch"
)

// mover is an Import that moves files into a folder, as the library does,
// and refuses names containing "bad" with a user-facing error.
type mover struct {
	mu   sync.Mutex
	dst  string
	got  map[string][]byte
	list []string
}

func newMover(t *testing.T) *mover {
	return &mover{dst: t.TempDir(), got: map[string][]byte{}}
}

func (m *mover) Import(_ context.Context, path string) error {
	name := filepath.Base(path)
	if strings.Contains(name, "bad") {
		return hlsd.Errorf(hlsd.EINVALID, "%s is not a media file hlsd can read", name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := os.Rename(path, filepath.Join(m.dst, name)); err != nil {
		return err
	}
	m.mu.Lock()
	m.got[name] = b
	m.list = append(m.list, name)
	m.mu.Unlock()
	return nil
}

func (m *mover) imported() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.list)
}

func newWatcher(t *testing.T, dir string, imp func(context.Context, string) error) *watch.Watcher {
	t.Helper()
	w, err := watch.New(watch.Config{Dir: dir, Import: imp})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w
}

func poll(t *testing.T, w *watch.Watcher) {
	t.Helper()
	if err := w.Poll(context.Background()); err != nil {
		t.Fatalf("Poll: %v", err)
	}
}

// TestTwoStepWrite writes a file in two steps between polls: it must be
// imported once, whole, only after it stopped changing for two polls.
func TestTwoStepWrite(t *testing.T) {
	dir := t.TempDir()
	m := newMover(t)
	w := newWatcher(t, dir, m.Import)
	path := filepath.Join(dir, "clip.mp4")
	first, second := []byte(strings.Repeat("a", 1000)), []byte(strings.Repeat("b", 500))

	if err := os.WriteFile(path, first, 0o644); err != nil {
		t.Fatal(err)
	}
	poll(t, w) // first seen
	poll(t, w) // unchanged once
	if got := m.imported(); len(got) != 0 {
		t.Fatalf("imported %v after one unchanged poll, want to wait for two", got)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(second); err != nil {
		t.Fatal(err)
	}
	f.Close()
	poll(t, w) // changed: starts over
	poll(t, w) // unchanged once
	if got := m.imported(); len(got) != 0 {
		t.Fatalf("imported %v while the file had just changed", got)
	}
	poll(t, w) // unchanged twice: import
	if got := m.imported(); !slices.Equal(got, []string{"clip.mp4"}) {
		t.Fatalf("imported %v, want [clip.mp4]", got)
	}
	if want := append(first, second...); string(m.got["clip.mp4"]) != string(want) {
		t.Errorf("imported %d bytes, want the whole %d", len(m.got["clip.mp4"]), len(want))
	}
	poll(t, w)
	poll(t, w)
	poll(t, w)
	if got := m.imported(); len(got) != 1 {
		t.Errorf("imported %v, want the file once", got)
	}
}

func TestSkipped(t *testing.T) {
	dir := t.TempDir()
	m := newMover(t)
	w := newWatcher(t, dir, m.Import)
	files := map[string]string{
		".hidden.mp4":          "x",
		"movie.mp4.part":       "x",
		"movie.MP4.CRDOWNLOAD": "x",
		"copy.tmp":             "x",
		"empty.mp4":            "",
		"ok.mp4":               "x",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "folder.mp4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "ok.mp4"), filepath.Join(dir, "link.mp4")); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		poll(t, w)
	}
	if got := m.imported(); !slices.Equal(got, []string{"ok.mp4"}) {
		t.Errorf("imported %v, want only ok.mp4", got)
	}
}

func TestCandidate(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"movie.mp4", true},
		{"song.flac", true},
		{"noext", true},
		{".DS_Store", false},
		{".failed", false},
		{"x.part", false},
		{"x.PARTIAL", false},
		{"x.tmp", false},
		{"x.crdownload", false},
		{"x.download", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := watch.Candidate(tt.name); got != tt.want {
				t.Errorf("Candidate(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

// TestFailedImport moves a refused file to .failed with its reason beside
// it, and does not try it again.
func TestFailedImport(t *testing.T) {
	dir := t.TempDir()
	var calls int
	m := newMover(t)
	w := newWatcher(t, dir, func(ctx context.Context, path string) error {
		calls++
		return m.Import(ctx, path)
	})
	write := func() {
		if err := os.WriteFile(filepath.Join(dir, "bad.mp4"), []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write()
	for range 6 {
		poll(t, w)
	}
	if calls != 1 {
		t.Errorf("Import called %d times, want once", calls)
	}
	failed := filepath.Join(dir, watch.FailedDir)
	if b, err := os.ReadFile(filepath.Join(failed, "bad.mp4")); err != nil || string(b) != "garbage" {
		t.Fatalf("failed file not kept in .failed: %v", err)
	}
	note, err := os.ReadFile(filepath.Join(failed, "bad.mp4.error.txt"))
	if err != nil {
		t.Fatalf("no error note: %v", err)
	}
	if !strings.HasPrefix(string(note), "bad.mp4 is not a media file hlsd can read\n") {
		t.Errorf("error note = %q, want the reason first", note)
	}
	// The same name failing again is kept beside the first, not over it.
	write()
	for range 3 {
		poll(t, w)
	}
	if !existsFile(filepath.Join(failed, "bad-2.mp4")) || !existsFile(filepath.Join(failed, "bad-2.mp4.error.txt")) {
		t.Errorf(".failed holds %v, want bad-2.mp4 and its note too", names(t, failed))
	}
}

func existsFile(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func names(t *testing.T, dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestRun polls on its own with a real ticker until the file is imported,
// and returns when its context ends.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	m := newMover(t)
	w, err := watch.New(watch.Config{Dir: dir, Import: m.Import, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	if err := os.WriteFile(filepath.Join(dir, "late.mkv"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(m.imported()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("file never imported by Run")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
}

func TestNewErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	imp := func(context.Context, string) error { return nil }
	tests := []struct {
		name string
		cfg  watch.Config
	}{
		{"no dir", watch.Config{Import: imp}},
		{"no import", watch.Config{Dir: t.TempDir()}},
		{"dir is a file", watch.Config{Dir: file, Import: imp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := watch.New(tt.cfg); err == nil {
				t.Errorf("New succeeded, want an error")
			}
		})
	}
}
