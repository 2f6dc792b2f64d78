package browsertest_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/browsertest"
)

// makeHLS writes a small fMP4 HLS presentation (H.264 + AAC, 6 s in 2 s
// segments) made by ffmpeg from lavfi sources, and returns its folder.
func makeHLS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=6",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
		"-c:a", "aac", "-ac", "2", "-b:a", "96k",
		"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
		"-hls_segment_filename", filepath.Join(dir, "seg_%05d.m4s"),
		filepath.Join(dir, "index.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (Debian package ffmpeg): %v\n%s", err, out)
	}
	return dir
}

// hlsServer serves dir with the HLS MIME types, with or without CORS.
func hlsServer(t *testing.T, dir string, allowCORS bool) *httptest.Server {
	t.Helper()
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".m3u8"):
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		case strings.HasSuffix(r.URL.Path, ".m4s"), strings.HasSuffix(r.URL.Path, ".mp4"):
			w.Header().Set("Content-Type", "video/mp4")
		}
		if allowCORS {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPlayHLS(t *testing.T) {
	b := browsertest.New(t)
	dir := makeHLS(t)

	t.Run("plays cross-origin with CORS", func(t *testing.T) {
		srv := hlsServer(t, dir, true)
		if srv.URL == b.PageOrigin() {
			t.Fatalf("media and page share the origin %s", srv.URL)
		}
		shot := filepath.Join(t.TempDir(), "playing.png")
		pb, err := b.Play(t, srv.URL+"/index.m3u8", browsertest.PlayOptions{MinTime: 1, Screenshot: shot})
		if err != nil {
			t.Fatal(err)
		}
		if pb.CurrentTime <= 1 {
			t.Errorf("currentTime = %.2f, want > 1", pb.CurrentTime)
		}
		if pb.VideoWidth != 320 || pb.VideoHeight != 240 {
			t.Errorf("video size = %dx%d, want 320x240", pb.VideoWidth, pb.VideoHeight)
		}
		checkPNG(t, shot)
	})

	t.Run("plays in an audio element", func(t *testing.T) {
		srv := hlsServer(t, dir, true)
		pb, err := b.Play(t, srv.URL+"/index.m3u8", browsertest.PlayOptions{MinTime: 1, Audio: true})
		if err != nil {
			t.Fatal(err)
		}
		if pb.VideoWidth != 0 {
			t.Errorf("audio element reports video width %d", pb.VideoWidth)
		}
	})

	t.Run("reports a CORS failure", func(t *testing.T) {
		srv := hlsServer(t, dir, false)
		_, err := b.PlayHLS(t, srv.URL+"/index.m3u8", 1)
		if err == nil {
			t.Fatal("playback without Access-Control-Allow-Origin succeeded; want an error")
		}
		if !strings.Contains(err.Error(), "manifestLoadError") || !strings.Contains(err.Error(), "CORS") {
			t.Errorf("error = %v, want hls.js manifestLoadError and the browser's CORS message", err)
		}
		t.Logf("reported: %v", err)
	})

	t.Run("reports a missing playlist", func(t *testing.T) {
		srv := hlsServer(t, dir, true)
		_, err := b.PlayHLS(t, srv.URL+"/missing.m3u8", 1)
		if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
			t.Errorf("error = %v, want one naming HTTP 404", err)
		}
	})
}

func TestScreenshot(t *testing.T) {
	b := browsertest.New(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><body style="background:#c00"><h1>hello</h1></body>`))
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "page.png")
	if err := b.Screenshot(t, srv.URL, path); err != nil {
		t.Fatal(err)
	}
	img := checkPNG(t, path)
	// The page is red: the centre pixel must be too.
	bounds := img.Bounds()
	r, g, bl, _ := img.At(bounds.Dx()/2, bounds.Dy()/2).RGBA()
	if r>>8 < 0xb0 || g>>8 > 0x30 || bl>>8 > 0x30 {
		t.Errorf("centre pixel = (%d,%d,%d), want the page's red", r>>8, g>>8, bl>>8)
	}
}

func checkPNG(t *testing.T, path string) image.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("screenshot is %dx%d, want a page-sized image", b.Dx(), b.Dy())
	}
	return img
}
