package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/signing"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// TestDataDirPrivate runs the real binary (the umask is process-wide, so
// not in-process), uploads an encrypted video and checks that nothing in
// the data dir is readable by anyone but hlsd's user: folders, database
// (with its WAL), sources, segments written by ffmpeg, playlists, the
// plaintext poster, keys, tokens, sessions. With --umask 027 the data dir's
// group may read the library, and secrets stay private.
func TestDataDirPrivate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and transcodes: skipped with -short")
	}
	bin := buildHLSD(t)
	data := filepath.Join(t.TempDir(), "data")
	p := startBinary(t, bin, nil, "--data", data, "--encrypt")
	token, err := os.ReadFile(filepath.Join(data, "api-token")) // generated at the first start
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{base: p.base, token: strings.TrimSpace(string(token))}
	m := c.uploadRaw(t, testmedia.Path(t, "short.mp4"), "private")
	if done := c.waitDone(t, m.ID); done.Status != hlsd.StatusReady {
		t.Fatalf("media %s: %v", done.Status, deref(done.Error))
	}
	var seen map[string]bool
	walk := func(root string, check func(rel string, perm fs.FileMode)) {
		seen = map[string]bool{}
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // removed while walking
			}
			fi, err := os.Lstat(path)
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			seen[filepath.Ext(path)] = true
			seen[filepath.Base(path)] = true
			check(rel, fi.Mode().Perm())
			return nil
		})
	}
	walk(data, func(rel string, perm fs.FileMode) {
		if perm&0o077 != 0 {
			t.Errorf("%s: mode %o, want no group or other access", rel, perm)
		}
	})
	// The walk did see what matters.
	for _, want := range []string{"hlsd.db", "media", "sources", "keys", "api-token", signing.KeyFileName, ".m3u8", ".ts", ".jpg", ".key"} {
		if !seen[want] {
			t.Errorf("no %s in the data dir to check", want)
		}
	}

	shared := filepath.Join(t.TempDir(), "data")
	startBinary(t, bin, nil, "--data", shared, "--umask", "027")
	walk(shared, func(rel string, perm fs.FileMode) {
		if perm&0o007 != 0 {
			t.Errorf("--umask 027: %s: mode %o, want no access for others", rel, perm)
		}
	})
	for name, want := range map[string]fs.FileMode{"media": 0o750, "api-token": 0o600, signing.KeyFileName: 0o600, "keys": 0o700} {
		if fi, err := os.Stat(filepath.Join(shared, name)); err != nil || fi.Mode().Perm() != want {
			t.Errorf("--umask 027: %s: %v, want mode %o", name, err, want)
		}
	}
}
