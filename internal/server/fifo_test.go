package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSpecialFilesNotOpened: a FIFO in the --static folder (named like a
// segment, a playlist, an MP4 source, or a library source) gets 404 and
// never holds the request: opening it would wait for a writer. The
// minute is a hang guard, not a threshold.
func TestSpecialFilesNotOpened(t *testing.T) {
	base, static := otfServer(t)
	os.Mkdir(filepath.Join(static, "show"), 0o700)
	for _, n := range []string{"seg.ts", "list.m3u8", "clip.mp4", "show/index.m3u8", "show/init.mp4"} {
		if err := syscall.Mkfifo(filepath.Join(static, n), 0o600); err != nil {
			t.Fatalf("mkfifo: %v", err)
		}
	}
	client := &http.Client{Timeout: time.Minute}
	for _, p := range []string{"/static/seg.ts", "/static/list.m3u8", "/static/clip.mp4", "/static/clip.mp4/master.m3u8",
		"/static/show/index.m3u8", "/static/show/init.mp4"} {
		t.Run(p, func(t *testing.T) {
			resp, err := client.Get(base + p)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("status %d, want 404", resp.StatusCode)
			}
		})
	}
	// The server still answers (nothing is stuck on the FIFOs).
	if resp, err := client.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz after the FIFOs: %v", err)
	}
}
