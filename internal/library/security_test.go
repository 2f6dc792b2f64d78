package library_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// TestEncryptedMedia processes an encrypted, signed upload: the key is in
// DATA/keys (private, outside the served folder), the playlists point at
// it, reprocessing makes a new key, and deleting the media removes it.
func TestEncryptedMedia(t *testing.T) {
	needFFmpeg(t)
	data := t.TempDir()
	lib := start(t, library.Config{DataDir: data})
	m := createFile(t, lib, testmedia.Path(t, "short.mp4"), library.Upload{Visibility: hlsd.VisibilitySigned, Encrypt: true})
	if m.Visibility != hlsd.VisibilitySigned || !m.Encrypted {
		t.Fatalf("created %+v, want signed and encrypted", m)
	}
	got := waitDone(t, lib, m.ID)
	if got.Status != hlsd.StatusReady || len(got.Renditions) == 0 {
		t.Fatalf("status %s: %s (%d renditions)", got.Status, got.Error, len(got.Renditions))
	}
	keyFile := lib.Layout().KeyFile(m.ID)
	key, err := os.ReadFile(keyFile)
	if err != nil || len(key) != 16 {
		t.Fatalf("key: %d bytes, %v", len(key), err)
	}
	for path, want := range map[string]os.FileMode{keyFile: 0o600, lib.Layout().KeysDir(): 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %o", path, fi.Mode().Perm(), err, want)
		}
	}
	if rel, _ := filepath.Rel(lib.Layout().MediaRoot(), keyFile); !strings.HasPrefix(rel, "..") {
		t.Errorf("key %s is under the served folder", keyFile)
	}
	// TS renditions carry their audio: the first one is a video rendition.
	b, err := os.ReadFile(filepath.Join(lib.Layout().MediaDir(m.ID), got.Renditions[0].Name, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := hls.ParseMedia(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range p.Segments {
		if s.Key == nil || s.Key.Method != "AES-128" || s.Key.URI != "../key" || !strings.HasSuffix(s.URI, ".ts") {
			t.Errorf("segment %d: key %+v uri %s, want AES-128 ../key on TS", i, s.Key, s.URI)
		}
	}

	if _, err := lib.Reprocess(context.Background(), m.ID); err != nil {
		t.Fatal(err)
	}
	if got := waitDone(t, lib, m.ID); got.Status != hlsd.StatusReady {
		t.Fatalf("reprocess: %s: %s", got.Status, got.Error)
	}
	if again, err := os.ReadFile(keyFile); err != nil || string(again) == string(key) {
		t.Errorf("reprocess kept the same key (%v): a fresh key is made per run", err)
	}

	if err := lib.Delete(context.Background(), m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("key after delete: %v, want removed", err)
	}
}

func TestSetVisibility(t *testing.T) {
	lib := start(t, library.Config{DataDir: t.TempDir(), Transcoder: blockingTranscoder{}})
	m := createFile(t, lib, writeTemp(t, "a.mp4"), library.Upload{})
	if m.Visibility != hlsd.VisibilityPublic || m.Encrypted {
		t.Errorf("default upload: %q %v, want public, clear", m.Visibility, m.Encrypted)
	}
	got, err := lib.SetVisibility(context.Background(), m.ID, hlsd.VisibilitySigned)
	if err != nil || got.Visibility != hlsd.VisibilitySigned {
		t.Fatalf("SetVisibility: %+v %v", got, err)
	}
	tests := []struct {
		name, id, visibility, code string
	}{
		{"unknown visibility", m.ID, "hidden", hlsd.EINVALID},
		{"unknown media", "zzzzzzzzzzzz", hlsd.VisibilityPublic, hlsd.ENOTFOUND},
		{"malformed id", "../x", hlsd.VisibilityPublic, hlsd.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := lib.SetVisibility(context.Background(), tt.id, tt.visibility); hlsd.ErrorCode(err) != tt.code {
				t.Errorf("error %v, want code %s", err, tt.code)
			}
		})
	}
	if _, err := lib.Create(context.Background(), strings.NewReader("x"), library.Upload{Visibility: "private"}); hlsd.ErrorCode(err) != hlsd.EINVALID {
		t.Errorf("Create with visibility private: %v, want EINVALID", err)
	}
}

// TestRefusedScripts: playlists and scripts are refused when they arrive,
// before anything is stored or queued.
func TestRefusedScripts(t *testing.T) {
	data := t.TempDir()
	lib := start(t, library.Config{DataDir: data, Transcoder: blockingTranscoder{}})
	for name, body := range map[string]string{
		"list.m3u8":  "#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:1/x.ts\n",
		"movie.mp4":  "\ufeff  #EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n",
		"concat.txt": "ffconcat version 1.0\nfile /etc/passwd\n",
		"list.txt":   "file 'http://127.0.0.1:1/a.mp4'\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := lib.Create(context.Background(), strings.NewReader(body), library.Upload{Filename: name})
			if hlsd.ErrorCode(err) != hlsd.EUNSUPPORTED || !strings.Contains(err.Error(), name+": input is") {
				t.Fatalf("Create: %v, want EUNSUPPORTED naming %s", err, name)
			}
		})
	}
	page, _ := lib.List(context.Background(), hlsd.MediaFilter{})
	if len(page.Media) != 0 {
		t.Errorf("%d media recorded, want none", len(page.Media))
	}
	for _, d := range []string{"tmp", "sources", "media"} {
		if entries := dirEntries(t, filepath.Join(data, d)); len(entries) != 0 {
			t.Errorf("DATA/%s holds %v, want nothing", d, entries)
		}
	}
}

// TestWatchFolderDefaults: files from the watch folder get the server's
// default visibility and encryption, like uploads.
func TestWatchFolderDefaults(t *testing.T) {
	data, watched := t.TempDir(), t.TempDir()
	lib := start(t, library.Config{DataDir: data, WatchDir: watched, WatchInterval: 100 * time.Millisecond, WatchQuiet: time.Millisecond,
		WatchVisibility: hlsd.VisibilitySigned, WatchEncrypt: true, Transcoder: blockingTranscoder{}})
	if err := os.WriteFile(filepath.Join(watched, "clip.mp4"), []byte("bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for {
		page, err := lib.List(context.Background(), hlsd.MediaFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Media) == 1 {
			if m := page.Media[0]; m.Visibility != hlsd.VisibilitySigned || !m.Encrypted {
				t.Errorf("watched media %q %v, want signed and encrypted", m.Visibility, m.Encrypted)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the watched file was never imported")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
