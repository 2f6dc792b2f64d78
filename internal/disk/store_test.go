package disk_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/storetest"
)

func newStore(t *testing.T) *disk.Store {
	t.Helper()
	s, err := disk.NewStore(t.TempDir())
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hlsd.Store { return newStore(t) })
}

// TestStoreOpenSendfile checks the condition net uses to send a body with
// sendfile (the reader, or the reader inside an io.LimitedReader, is a
// syscall.Conn whose descriptor is a regular file): http.ServeContent over an
// opened object keeps the zero-copy path the server had before the store.
func TestStoreOpenSendfile(t *testing.T) {
	s := newStore(t)
	storetest.Put(t, s, "media/a/seg.m4s", []byte("segment"))
	obj, err := s.Open(context.Background(), "media/a/seg.m4s")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	conn, ok := obj.(syscall.Conn)
	if !ok {
		t.Fatalf("Open returned %T, which is not a syscall.Conn: net/http would copy through user space", obj)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	raw.Control(func(fd uintptr) { err = syscall.Fstat(int(fd), &st) })
	if err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		t.Errorf("descriptor of the opened object: mode %o, %v; want a regular file", st.Mode, err)
	}
}

// TestStoreKeysMatchLayout checks that the store keys of layout.go name the
// files at the Layout paths, so the library and the store agree on one data
// directory.
func TestStoreKeysMatchLayout(t *testing.T) {
	s := newStore(t)
	l := disk.Layout{Root: s.Dir()}
	id := hlsd.NewMediaID()
	storetest.Put(t, s, disk.MediaPrefix(id)+"master.m3u8", []byte("#EXTM3U\n"))
	storetest.Put(t, s, disk.SourceKey(id, ".mp4"), []byte("src"))
	storetest.Put(t, s, disk.KeyKey(id), []byte("0123456789abcdef"))
	if _, err := os.Stat(filepath.Join(l.MediaDir(id), "master.m3u8")); err != nil {
		t.Errorf("media key not at Layout.MediaDir: %v", err)
	}
	if got, err := l.Source(id); err != nil || got != filepath.Join(l.SourceDir(id), "source.mp4") {
		t.Errorf("Layout.Source = %q, %v", got, err)
	}
	if fi, err := os.Stat(l.KeyFile(id)); err != nil {
		t.Errorf("key key not at Layout.KeyFile: %v", err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %o, want 0600", fi.Mode().Perm())
	}
	if fi, err := os.Stat(l.KeysDir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("keys folder: %v, %v; want mode 0700", fi, err)
	}
	// The scratch folder is not part of the key space.
	storetest.Put(t, s, "x", nil)
	got, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range storetest.Keys(got) {
		if filepath.Dir(k) == "tmp" {
			t.Errorf("List lists the scratch folder: %s", k)
		}
	}
}

// TestStoreNoEscape checks that a symlink inside the data directory cannot
// lead a key outside it.
func TestStoreNoEscape(t *testing.T) {
	s := newStore(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600)
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "media")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(context.Background(), "media/secret"); err == nil {
		t.Errorf("Open through a symlink out of the data directory succeeded")
	}
}
