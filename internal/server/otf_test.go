package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/browsertest"
	"github.com/hlsd/hlsd/internal/mp4/mp4test"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// otfServer serves a --static folder holding copies of the named files
// (mp4test sources, or testmedia fixtures when prefixed "testmedia:") on
// 127.0.0.1 and returns its base URL and the folder.
func otfServer(t *testing.T, names ...string) (string, string) {
	t.Helper()
	static := t.TempDir()
	for _, n := range names {
		var src string
		if f, ok := strings.CutPrefix(n, "testmedia:"); ok {
			src, n = testmedia.Path(t, f), f
		} else {
			src = mp4test.Lookup(t, n).Path(t)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(static, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "media"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Config{DataDir: data, StaticDir: static})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Serve(ctx, ln)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		s.Close()
	})
	return "http://" + ln.Addr().String(), static
}

// TestOTFDecodes serves every test source through --static and has ffmpeg
// decode its on-the-fly presentation over HTTP: no error, duration within
// one frame of the source, first video and audio frames where the
// source's are.
func TestOTFDecodes(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes with ffmpeg: skipped with -short")
	}
	names := []string{"faststart.mp4", "bframes.mp4", "moov-at-end.mp4", "edit-cut.mp4", "edit-delay.mp4", "vfr.mp4", "fragmented.mp4", "tone.m4a", "hevc-mp3.mp4", "camera.mov"}
	base, static := otfServer(t, names...)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			mp4test.Check(t, mp4test.Lookup(t, n), filepath.Join(static, n), base+"/static/"+n+"/master.m3u8")
		})
	}
}

// TestOTFPlaysInBrowser plays on-the-fly presentations with hls.js in
// headless Chromium.
func TestOTFPlaysInBrowser(t *testing.T) {
	names := []string{"bframes.mp4", "tone.m4a", "moov-at-end.mp4", "fragmented.mp4", "vfr.mp4", "edit-delay.mp4", "edit-cut.mp4", "camera.mov", "faststart.mp4"}
	base, _ := otfServer(t, names...)
	b := browsertest.New(t)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			src := mp4test.Lookup(t, n)
			pb, err := b.Play(t, base+"/static/"+n+"/master.m3u8", browsertest.PlayOptions{MinTime: 2, Audio: src.AudioOnly})
			if err != nil {
				t.Fatal(err)
			}
			if !src.AudioOnly && (pb.VideoWidth != src.Width || pb.VideoHeight != src.Height) {
				t.Errorf("video is %dx%d, want %dx%d", pb.VideoWidth, pb.VideoHeight, src.Width, src.Height)
			}
			if pb.Duration < 5 {
				t.Errorf("duration %.2f", pb.Duration)
			}
		})
	}
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestOTFDelivery checks the delivery rules on generated files: types,
// caching, CORS, ETag revalidation and Range requests, and that the MP4
// file itself is still served at its own URL.
func TestOTFDelivery(t *testing.T) {
	base, static := otfServer(t, "bframes.mp4", "tone.m4a")
	root := base + "/static/bframes.mp4/"
	tests := []struct {
		name, url string
		want      map[string]string
	}{
		{"master", root + "master.m3u8", map[string]string{"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": "public, max-age=60", "Access-Control-Allow-Origin": "*"}},
		{"media playlist", root + "video/index.m3u8", map[string]string{"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": "public, max-age=60"}},
		{"video init", root + "video/init.mp4", map[string]string{"Content-Type": "video/mp4", "Cache-Control": "public, max-age=31536000, immutable", "Access-Control-Allow-Origin": "*"}},
		{"video segment", root + "video/seg_00001.m4s", map[string]string{"Content-Type": "video/mp4", "Cache-Control": "public, max-age=31536000, immutable", "Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff"}},
		{"audio segment", root + "audio/seg_00002.m4s", map[string]string{"Content-Type": "audio/mp4", "Cache-Control": "public, max-age=31536000, immutable"}},
		{"audio-only master", base + "/static/tone.m4a/master.m3u8", map[string]string{"Content-Type": "application/vnd.apple.mpegurl"}},
		{"the file itself", base + "/static/bframes.mp4", map[string]string{"Content-Type": "video/mp4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.url, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			for k, v := range tt.want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if resp.Header.Get("Etag") == "" {
				t.Error("no ETag")
			}
			if resp.Header.Get("Content-Length") == "" {
				t.Error("no Content-Length")
			}
		})
	}
	whole, err := os.ReadFile(filepath.Join(static, "bframes.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, base+"/static/bframes.mp4", nil); !bytes.Equal(body, whole) {
		t.Error("the MP4 file at its own URL differs from the file")
	}

	seg := root + "video/seg_00001.m4s"
	resp, full := get(t, seg, nil)
	etag := resp.Header.Get("Etag")
	if len(full) < 1000 || string(full[4:8]) != "moof" {
		t.Fatalf("segment of %d bytes does not start with moof", len(full))
	}
	t.Run("same bytes twice", func(t *testing.T) {
		r2, again := get(t, seg, nil)
		if !bytes.Equal(again, full) || r2.Header.Get("Etag") != etag {
			t.Error("a second GET differs")
		}
	})
	t.Run("304", func(t *testing.T) {
		r, body := get(t, seg, map[string]string{"If-None-Match": etag})
		if r.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("status %d, %d bytes", r.StatusCode, len(body))
		}
	})
	t.Run("range", func(t *testing.T) {
		r, body := get(t, seg, map[string]string{"Range": "bytes=100-5099"})
		if r.StatusCode != http.StatusPartialContent || !bytes.Equal(body, full[100:5100]) {
			t.Errorf("status %d, %d bytes, equal %v", r.StatusCode, len(body), bytes.Equal(body, full[100:5100]))
		}
		r, body = get(t, seg, map[string]string{"Range": "bytes=-10"})
		if r.StatusCode != http.StatusPartialContent || !bytes.Equal(body, full[len(full)-10:]) {
			t.Errorf("suffix range: status %d", r.StatusCode)
		}
	})
	t.Run("head", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodHead, seg, nil)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 || r.ContentLength != int64(len(full)) {
			t.Errorf("HEAD: status %d, length %d, want %d", r.StatusCode, r.ContentLength, len(full))
		}
	})
}

// TestOTFErrors checks that what cannot be packaged gets a clear JSON
// error (415) and what does not exist a 404, never a 500.
func TestOTFErrors(t *testing.T) {
	base, static := otfServer(t, "bframes.mp4", "testmedia:truncated.mp4", "testmedia:truncated-faststart.mp4")
	if err := os.WriteFile(filepath.Join(static, "notes.mp4"), []byte("just text, no video here at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(static, "folder.mp4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(static, "folder.mp4", "index.m3u8"), []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-ENDLIST\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(static, "escape.mp4")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		status     int
		message    string // of the JSON error, when set
	}{
		{"moov missing", "truncated.mp4/master.m3u8", 415, "truncated.mp4 is truncated: its moov box is missing"},
		{"media data cut", "truncated-faststart.mp4/video/seg_00001.m4s", 415, "truncated-faststart.mp4 is truncated: its sample tables point past the end of the file"},
		{"not an MP4", "notes.mp4/master.m3u8", 415, "notes.mp4 is not an MP4 file"},
		{"missing file", "nothing.mp4/master.m3u8", 404, ""},
		{"unknown track", "bframes.mp4/subtitles/index.m3u8", 404, ""},
		{"segment past the end", "bframes.mp4/video/seg_00099.m4s", 404, ""},
		{"segment 0", "bframes.mp4/video/seg_00000.m4s", 404, ""},
		{"badly numbered segment", "bframes.mp4/video/seg_1.m4s", 404, ""},
		{"other file", "bframes.mp4/video/poster.jpg", 404, ""},
		{"symlink out of the folder", "escape.mp4/master.m3u8", 404, ""},
		{"folder named .mp4 is delivered as files", "folder.mp4/index.m3u8", 200, ""},
		{"traversal", "../bframes.mp4/master.m3u8", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, base+"/static/"+tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.message == "" {
				return
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if e.Error.Code != "unsupported_media" || e.Error.Message != tt.message {
				t.Errorf("error %+v, want unsupported_media %q", e.Error, tt.message)
			}
		})
	}
}
