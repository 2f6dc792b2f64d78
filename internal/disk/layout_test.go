package disk_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
)

func TestInitCleansStaleTmp(t *testing.T) {
	l := disk.Layout{Root: filepath.Join(t.TempDir(), "data")}
	if err := l.Init(slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	for _, dir := range []string{l.SourcesDir(), l.MediaRoot(), l.TmpDir()} {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			t.Errorf("%s not created: %v", dir, err)
		}
	}
	stale, fresh := filepath.Join(l.TmpDir(), "upload-1.part"), filepath.Join(l.TmpDir(), "upload-2.part")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * disk.StaleAfter)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if err := l.Init(slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("second Init: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale tmp entry kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh tmp entry removed: %v", err)
	}
}

func TestLockExclusive(t *testing.T) {
	l := disk.Layout{Root: t.TempDir()}
	unlock, err := l.Lock()
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if _, err := l.Lock(); hlsd.ErrorCode(err) != hlsd.ECONFLICT {
		t.Errorf("second Lock = %v, want conflict", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2, err := l.Lock()
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

func TestSource(t *testing.T) {
	l := disk.Layout{Root: t.TempDir()}
	id := hlsd.NewMediaID()
	if _, err := l.Source(id); hlsd.ErrorCode(err) != hlsd.ENOTFOUND {
		t.Errorf("Source of nothing = %v, want not found", err)
	}
	os.MkdirAll(l.SourceDir(id), 0o750)
	want := filepath.Join(l.SourceDir(id), disk.SourceName(".mkv"))
	os.WriteFile(want, []byte("x"), 0o600)
	if got, err := l.Source(id); err != nil || got != want {
		t.Errorf("Source = %q, %v; want %q", got, err, want)
	}
}

func TestMove(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(src, []byte("content"), 0o600)
	if err := disk.Move(src, dst); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "content" {
		t.Errorf("moved file = %q, %v", b, err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("source still there: %v", err)
	}
	// Across file systems (/dev/shm is tmpfs when present) Move copies.
	if shm, err := os.MkdirTemp("/dev/shm", "hlsd-move-"); err == nil {
		defer os.RemoveAll(shm)
		far := filepath.Join(shm, "c")
		if err := disk.Move(dst, far); err != nil {
			t.Fatalf("Move across file systems: %v", err)
		}
		if b, err := os.ReadFile(far); err != nil || string(b) != "content" {
			t.Errorf("copied file = %q, %v", b, err)
		}
		if _, err := os.Stat(dst); !os.IsNotExist(err) {
			t.Errorf("source still there after a cross-device move: %v", err)
		}
	}
}
