package library_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
)

// TestImportRefusesSymlink: Import takes files from folders others may
// write to (the watch folder). A symlink there, pointing at a file hlsd can
// read (here standing for another user's private video), must be refused,
// not followed into the library; the link and its target stay as they were.
func TestImportRefusesSymlink(t *testing.T) {
	data, watched, private := t.TempDir(), t.TempDir(), t.TempDir()
	lib := start(t, library.Config{DataDir: data, Transcoder: blockingTranscoder{}})
	target := filepath.Join(private, "private.mp4")
	if err := os.WriteFile(target, []byte("private bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(watched, "link.mp4")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := lib.Import(context.Background(), link, library.Upload{})
	if hlsd.ErrorCode(err) != hlsd.EINVALID || !strings.Contains(hlsd.ErrorMessage(err), "not a regular file") {
		t.Fatalf("Import of a symlink = %v, want EINVALID not a regular file", err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is gone or changed: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "private bytes" {
		t.Errorf("target = %q, want it untouched", b)
	}
	if entries := dirEntries(t, filepath.Join(data, "sources")); len(entries) != 0 {
		t.Errorf("DATA/sources holds %v, want nothing", entries)
	}
}
