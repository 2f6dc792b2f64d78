package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/ingest/ingesttest"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// TestRunEncrypted ingests with AES-128 and checks what a user would: the
// key is 16 private bytes outside the output, every segment has its
// EXT-X-KEY with its own IV, segments are unreadable without the key, and
// ffmpeg plays the whole presentation over HTTP once the key is served (and
// not when it is not).
func TestRunEncrypted(t *testing.T) {
	skipShort(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	keyDir := filepath.Join(parent, "keys")
	keyFile := filepath.Join(keyDir, "m.key")
	res, err := Run(context.Background(), Options{
		Input: testmedia.Path(t, "short.mp4"), Output: out, Ladder: []int{144}, SegmentDuration: time.Second,
		Encrypt: true, KeyFile: keyFile,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Format != "ts" {
		t.Errorf("format = %q, want ts (ffmpeg cannot encrypt fMP4)", res.Format)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeyLen {
		t.Fatalf("key is %d bytes, want %d", len(key), KeyLen)
	}
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %o, want 600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(keyDir); len(entries) != 1 {
		t.Errorf("key dir holds %d entries, want only the key (no key info or temp file left)", len(entries))
	}
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, key) || strings.Contains(p, "key") {
				t.Errorf("%s holds the key or is named like it: the output folder is served", p)
			}
		}
		return nil
	})

	// TS carries the sound in the video rendition: no separate audio.
	if len(res.Renditions) != 1 || res.Renditions[0].Name != "144p" || res.Renditions[0].Codecs != "avc1.64001e,mp4a.40.2" {
		t.Errorf("renditions %+v, want only 144p with avc1.64001e,mp4a.40.2", res.Renditions)
	}
	segments := 0
	for _, r := range res.Renditions {
		data, err := os.ReadFile(filepath.Join(out, r.Name, "index.m3u8"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := hls.ParseMedia(data)
		if err != nil {
			t.Fatalf("%s playlist: %v", r.Name, err)
		}
		for i, s := range p.Segments {
			k := s.Key
			wantIV := fmt.Sprintf("0x%032x", p.MediaSequence+i)
			if k == nil || k.Method != "AES-128" || k.URI != DefaultKeyURI || !strings.EqualFold(k.IV, wantIV) {
				t.Fatalf("%s segment %d key = %+v, want AES-128 %q with IV %s", r.Name, i, k, DefaultKeyURI, wantIV)
			}
			enc, err := os.ReadFile(filepath.Join(out, r.Name, s.URI))
			if err != nil {
				t.Fatal(err)
			}
			if enc[0] == 0x47 {
				t.Errorf("%s/%s starts with the TS sync byte: not encrypted", r.Name, s.URI)
			}
			// The probe of an encrypted segment fails.
			if err := exec.Command("ffprobe", "-v", "error", "-show_streams", filepath.Join(out, r.Name, s.URI)).Run(); err == nil {
				t.Errorf("ffprobe reads %s/%s without the key", r.Name, s.URI)
			}
			iv, _ := segmentIV(p, i)
			plain, err := DecryptSegment(enc, key, iv)
			if err != nil || len(plain)%188 != 0 || plain[0] != 0x47 || plain[188] != 0x47 {
				t.Errorf("%s/%s with the key: %v, want TS packets", r.Name, s.URI, err)
			} else if i == 0 {
				f := filepath.Join(t.TempDir(), "plain.ts")
				if err := os.WriteFile(f, plain, 0o644); err != nil {
					t.Fatal(err)
				}
				if got := ingesttest.StreamTypes(t, f); !slices.Equal(got, []string{"video", "audio"}) {
					t.Errorf("%s/%s decrypted: ffprobe sees streams %q, want video and audio", r.Name, s.URI, got)
				}
			}
			wrong := bytes.Clone(key)
			wrong[0] ^= 1
			if p2, err := DecryptSegment(enc, wrong, iv); err == nil && len(p2) > 0 && p2[0] == 0x47 {
				t.Errorf("%s/%s decrypts to TS with a wrong key", r.Name, s.URI)
			}
			segments++
		}
	}
	if segments < 2 {
		t.Fatalf("only %d segments checked", segments)
	}

	// Over HTTP, as a player sees it: /m/ serves the output and /m/key the
	// key, which is where "../key" resolves from /m/144p/index.m3u8.
	var refuseKey atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/m/", http.StripPrefix("/m/", http.FileServer(http.Dir(out))))
	mux.HandleFunc("/m/key", func(w http.ResponseWriter, r *http.Request) {
		if refuseKey.Load() {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		w.Write(key)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	decode := func() (string, error) {
		cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", srv.URL+"/m/master.m3u8", "-f", "null", "-")
		b, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(b)), err
	}
	if msg, err := decode(); err != nil || msg != "" {
		t.Errorf("ffmpeg decoding with the key served: %v\n%s", err, msg)
	}
	refuseKey.Store(true)
	if msg, err := decode(); err == nil && msg == "" {
		t.Errorf("ffmpeg decoded the presentation without the key")
	}
}

func TestRunEncryptedOptions(t *testing.T) {
	skipShort(t)
	parent := t.TempDir()
	tests := []struct {
		name    string
		opts    Options
		wantMsg string
	}{
		{"no key file", Options{Encrypt: true}, "key file"},
		{"fmp4", Options{Encrypt: true, Format: "fmp4", KeyFile: filepath.Join(parent, "k.key")}, "needs the ts format"},
		{"key inside output", Options{Encrypt: true, KeyFile: filepath.Join(parent, "out", "key")}, "inside the output folder"},
		{"key is the output", Options{Encrypt: true, KeyFile: filepath.Join(parent, "out")}, "inside the output folder"},
		{"quote in key URI", Options{Encrypt: true, KeyFile: filepath.Join(parent, "k.key"), KeyURI: `a"b`}, "quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Input = testmedia.Path(t, "short.mp4")
			tt.opts.Output = filepath.Join(parent, "out")
			_, err := Run(context.Background(), tt.opts)
			if hlsd.ErrorCode(err) != hlsd.EINVALID || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Run error = %v, want EINVALID containing %q", err, tt.wantMsg)
			}
			if _, err := os.Stat(filepath.Join(parent, "out")); !os.IsNotExist(err) {
				t.Errorf("output created despite the error")
			}
		})
	}
}

// TestRunEncryptedCancel checks that an encrypted ingest stopped midway
// (after the key was made and ffmpeg started) leaves no key behind: a key
// protecting nothing is just a secret lying around.
func TestRunEncryptedCancel(t *testing.T) {
	skipShort(t)
	parent := t.TempDir()
	keyDir := filepath.Join(parent, "keys")
	for _, progressive := range []bool{false, true} {
		t.Run(fmt.Sprintf("progressive=%v", progressive), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sawKey := false
			_, err := Run(ctx, Options{
				Input: testmedia.Path(t, "video-720p-long.mp4"), Output: filepath.Join(parent, fmt.Sprint("out", progressive)),
				Ladder: []int{144}, Progressive: progressive, Encrypt: true, KeyFile: filepath.Join(keyDir, "m.key"),
				Progress: func(p Progress) {
					if p.Done > 0 {
						entries, _ := os.ReadDir(keyDir)
						sawKey = sawKey || len(entries) > 0
						cancel()
					}
				},
			})
			if err != context.Canceled {
				t.Fatalf("Run error = %v, want context.Canceled", err)
			}
			if !sawKey {
				t.Errorf("no key file existed while encoding")
			}
			if entries, _ := os.ReadDir(keyDir); len(entries) != 0 {
				t.Errorf("key dir after cancel holds %v, want nothing", entries)
			}
		})
	}
}
