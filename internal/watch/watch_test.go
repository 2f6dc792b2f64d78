package watch_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/testmedia"
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

// newWatcher watches dir with a quiet period of a nanosecond: a file is
// taken at the second poll that sees it unchanged (and complete).
func newWatcher(t *testing.T, dir string, imp func(context.Context, string) error) *watch.Watcher {
	t.Helper()
	return newWatcherConfig(t, watch.Config{Dir: dir, Import: imp, Quiet: time.Nanosecond})
}

func newWatcherConfig(t *testing.T, cfg watch.Config) *watch.Watcher {
	t.Helper()
	w, err := watch.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { w.Close() })
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
	w, err := watch.New(watch.Config{Dir: dir, Import: m.Import, Interval: 20 * time.Millisecond, Quiet: time.Millisecond})
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

// logBuffer collects a watcher's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// TestFailedFolderSymlink plants DIR/.failed as a symlink to a folder
// outside (standing for the data directory, with its signing keys): a
// failed file must not be moved there nor a note written there; the file
// stays where it was, is not retried, and the log says why.
func TestFailedFolderSymlink(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "signing-keys")
	if err := os.WriteFile(secret, []byte("key material"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, watch.FailedDir)); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	var calls int
	m := newMover(t)
	w := newWatcherConfig(t, watch.Config{Dir: dir, Quiet: time.Nanosecond, Logger: logs.logger(),
		Import: func(ctx context.Context, path string) error { calls++; return m.Import(ctx, path) }})
	if err := os.WriteFile(filepath.Join(dir, "signing-keys"), []byte("planted"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(dir, "signing-keys"), filepath.Join(dir, "bad-signing-keys"))
	for range 6 {
		poll(t, w)
	}
	if got := names(t, outside); !slices.Equal(got, []string{"signing-keys"}) {
		t.Errorf("folder behind the .failed link holds %v, want only signing-keys", got)
	}
	if b, _ := os.ReadFile(secret); string(b) != "key material" {
		t.Errorf("file behind the link = %q, want it untouched", b)
	}
	if !existsFile(filepath.Join(dir, "bad-signing-keys")) {
		t.Errorf("failed file gone from the watch folder, which holds %v", names(t, dir))
	}
	if calls != 1 {
		t.Errorf("Import called %d times, want once", calls)
	}
	if !strings.Contains(logs.String(), "refusing "+filepath.Join(dir, watch.FailedDir)+": it is a symlink, not a real folder") {
		t.Errorf("log does not say the .failed link was refused:\n%s", logs.String())
	}
}

// TestFailedNoteSymlink plants .failed/NAME.error.txt as a symlink to a
// file outside (standing for DATA/api-token): the failure note must not be
// written through it.
func TestFailedNoteSymlink(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	token := filepath.Join(outside, "api-token")
	if err := os.WriteFile(token, []byte("the real token"), 0o600); err != nil {
		t.Fatal(err)
	}
	failed := filepath.Join(dir, watch.FailedDir)
	if err := os.Mkdir(failed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(token, filepath.Join(failed, "bad.mp4.error.txt")); err != nil {
		t.Fatal(err)
	}
	m := newMover(t)
	w := newWatcher(t, dir, m.Import)
	if err := os.WriteFile(filepath.Join(dir, "bad.mp4"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		poll(t, w)
	}
	if b, _ := os.ReadFile(token); string(b) != "the real token" {
		t.Errorf("file behind the note link = %q, want it untouched", b)
	}
	if !existsFile(filepath.Join(failed, "bad-2.mp4")) || !existsFile(filepath.Join(failed, "bad-2.mp4.error.txt")) {
		t.Errorf(".failed holds %v, want bad-2.mp4 and its note beside the planted link", names(t, failed))
	}
}

// TestQuietPeriod holds a file that has not been unchanged for Quiet, however
// many polls saw it.
func TestQuietPeriod(t *testing.T) {
	dir := t.TempDir()
	m := newMover(t)
	w := newWatcherConfig(t, watch.Config{Dir: dir, Import: m.Import, Quiet: time.Hour})
	if err := os.WriteFile(filepath.Join(dir, "clip.mp4"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		poll(t, w)
	}
	if got := m.imported(); len(got) != 0 {
		t.Errorf("imported %v within the quiet period of an hour", got)
	}
}

// TestOpenWriter keeps a file open for writing, paused after a first
// part, over many polls past the quiet period: it must not be taken until
// the writer closes it.
func TestOpenWriter(t *testing.T) {
	dir := t.TempDir()
	var logs logBuffer
	m := newMover(t)
	w := newWatcherConfig(t, watch.Config{Dir: dir, Import: m.Import, Quiet: time.Millisecond, Logger: logs.logger()})
	f, err := os.Create(filepath.Join(dir, "copy.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("first part"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		time.Sleep(2 * time.Millisecond) // past the quiet period
		poll(t, w)
	}
	if got := m.imported(); len(got) != 0 {
		t.Fatalf("imported %v while a writer had it open", got)
	}
	if !strings.Contains(logs.String(), "not complete yet") {
		t.Errorf("log does not say why the file waits:\n%s", logs.String())
	}
	if _, err := f.WriteString(", second part"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		time.Sleep(2 * time.Millisecond)
		poll(t, w)
	}
	if got := string(m.got["copy.mkv"]); got != "first part, second part" {
		t.Errorf("imported %q, want the whole file once its writer closed it", got)
	}
}

// TestIncompleteMP4 drops a real MP4 in two steps, closed in between: the
// first part (no moov box yet, boxes cut short) must wait; the whole file
// is taken. A file that stays incomplete is imported after GiveUp, so it
// fails with a reason instead of waiting forever.
func TestIncompleteMP4(t *testing.T) {
	whole, err := os.ReadFile(testmedia.Path(t, "short.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := newMover(t)
	w := newWatcherConfig(t, watch.Config{Dir: dir, Import: m.Import, Quiet: time.Nanosecond, GiveUp: time.Hour})
	path := filepath.Join(dir, "clip.mp4")
	if err := os.WriteFile(path, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		poll(t, w)
	}
	if got := m.imported(); len(got) != 0 {
		t.Fatalf("imported %v with half an MP4", got)
	}
	if err := os.WriteFile(path, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		poll(t, w)
	}
	if got := m.got["clip.mp4"]; len(got) != len(whole) {
		t.Fatalf("imported %d bytes, want the whole %d", len(got), len(whole))
	}

	t.Run("gives up", func(t *testing.T) {
		dir := t.TempDir()
		w := newWatcherConfig(t, watch.Config{Dir: dir, Quiet: time.Nanosecond, GiveUp: time.Millisecond,
			Import: func(context.Context, string) error {
				return hlsd.Errorf(hlsd.EINVALID, "the file is cut short")
			}})
		if err := os.WriteFile(filepath.Join(dir, "cut.mp4"), whole[:len(whole)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			poll(t, w)
		}
		time.Sleep(2 * time.Millisecond) // past GiveUp
		poll(t, w)
		if !existsFile(filepath.Join(dir, watch.FailedDir, "cut.mp4.error.txt")) {
			t.Errorf("an MP4 that stays incomplete is not failed after GiveUp; the folder holds %v", names(t, dir))
		}
	})
}
