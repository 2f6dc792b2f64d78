package ingest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/testmedia"
)

// processUmask reads the umask from /proc (setting it to read it back would
// race with other tests creating files).
func processUmask(t *testing.T) fs.FileMode {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			u, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				t.Fatal(err)
			}
			return fs.FileMode(u)
		}
	}
	t.Fatal("no Umask line in /proc/self/status")
	return 0
}

// TestRunPermissions: a published presentation is as readable as the
// folder it is published into (public under a public folder, as web
// servers need; private under hlsd serve's private data dir), and its
// files get the umask's usual permission, like the segments ffmpeg writes.
func TestRunPermissions(t *testing.T) {
	skipShort(t)
	umask := processUmask(t)
	for _, parentPerm := range []fs.FileMode{0o755, 0o700} {
		t.Run(parentPerm.String(), func(t *testing.T) {
			parent := t.TempDir()
			if err := os.Chmod(parent, parentPerm); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(parent, "out")
			if _, err := Run(context.Background(), Options{Input: testmedia.Path(t, "short.mp4"), Output: out, Ladder: []int{144}}); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != parentPerm {
				t.Errorf("output folder: %v, want mode %o (its parent's)", err, parentPerm)
			}
			filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				fi, err := d.Info()
				if want := 0o666 &^ umask; err == nil && fi.Mode().Perm() != want {
					t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), want)
				}
				return nil
			})
		})
	}
}
