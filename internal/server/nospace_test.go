package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk/disktest"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// logBuffer keeps what a logger writes, for a test to read while it runs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDiskFull runs hlsd on a 20 MB data directory that fills up. Every
// kind of upload gets 507 with code insufficient_storage and no server
// path; a media whose transcode meets the full disk waits, queued, with an
// error and error_code saying why, uses no attempt, and becomes ready once
// space is freed; the log says the disk is full.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and transcodes with ffmpeg")
	}
	data := disktest.Tmpfs(t, "20m")
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	lib, err := newLibrary(t, library.Config{DataDir: data, Logger: logger, SpaceRetry: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("library.New: %v", err)
	}
	if err := lib.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		lib.Stop(ctx)
	})
	srv, err := New(Config{DataDir: data, Library: lib, APIToken: apiTestToken, Logger: logger})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := &apiEnv{srv: srv, lib: lib, ts: ts, data: data}

	filler := filepath.Join(data, "filler")
	disktest.Fill(t, filler)
	payload := bytes.Repeat([]byte("v"), 1<<20)
	noSpace := func(t *testing.T, what string, r apiResp) {
		t.Helper()
		r.wantError(t, 507, hlsd.ENOSPACE, "out of storage space")
		if bytes.Contains(r.body, []byte(data)) || bytes.Contains(r.body, []byte("/tmp")) {
			t.Errorf("%s: the body names a server path: %s", what, r.body)
		}
	}

	t.Run("raw upload", func(t *testing.T) {
		noSpace(t, "raw", e.do(t, apiReq{method: "POST", path: "/api/v1/media?filename=clip.mp4", body: bytes.NewReader(payload),
			header: map[string]string{"Content-Type": "application/octet-stream"}}))
	})
	t.Run("multipart upload", func(t *testing.T) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "clip.mp4")
		fw.Write(payload)
		mw.Close()
		noSpace(t, "multipart", e.do(t, apiReq{method: "POST", path: "/api/v1/media", body: &body,
			header: map[string]string{"Content-Type": mw.FormDataContentType()}}))
	})
	t.Run("tus create", func(t *testing.T) {
		r, _ := e.tusCreate(t, len(payload), map[string]string{"filename": "clip.mp4"})
		noSpace(t, "tus POST", r)
	})
	t.Run("tus patch", func(t *testing.T) {
		disktest.Free(t, filler, 64<<10) // room for the upload's record, not its bytes
		r, path := e.tusCreate(t, len(payload), map[string]string{"filename": "clip.mp4"})
		if r.status != 201 {
			t.Fatalf("tus POST with a little room: %d %s", r.status, r.body)
		}
		noSpace(t, "tus PATCH", e.tusPatch(t, path, 0, string(payload)))
	})
	if !strings.Contains(logs.String(), "disk full") {
		t.Errorf("the log never says the disk is full:\n%s", logs.String())
	}

	// A source that fits, on a disk with room for the catalog's writes but
	// less than disk.FullMargin: no room for a presentation.
	src, err := os.ReadFile(testmedia.Path(t, "short.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	disktest.Free(t, filler, int64(len(src))+(3<<20))
	r := e.do(t, apiReq{method: "POST", path: "/api/v1/media?filename=short.mp4", body: bytes.NewReader(src),
		header: map[string]string{"Content-Type": "video/mp4"}})
	if r.status != 201 {
		t.Fatalf("upload with room for the source: %d %s", r.status, r.body)
	}
	var m hlsd.Media
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	waitLogged(t, "the media to report the full disk", func() bool {
		r := e.do(t, apiReq{method: "GET", path: "/api/v1/media/" + m.ID})
		got = nil
		json.Unmarshal(r.body, &got)
		return got["error_code"] == hlsd.ENOSPACE
	}, &logs)
	if got["status"] != string(hlsd.StatusQueued) || !strings.Contains(got["error"].(string), "storage space") ||
		strings.Contains(got["error"].(string), data) {
		t.Errorf("media while the disk is full: %v; want queued with an error in words", got)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitLogged(t, "the media to be ready once space is freed", func() bool {
		r := e.do(t, apiReq{method: "GET", path: "/api/v1/media/" + m.ID})
		got = nil
		json.Unmarshal(r.body, &got)
		if got["status"] == string(hlsd.StatusFailed) {
			t.Fatalf("media failed instead of waiting: %v", got)
		}
		return got["status"] == string(hlsd.StatusReady)
	}, &logs)
	if got["error_code"] != nil || got["error"] != nil {
		t.Errorf("ready media still carries an error: %v", got)
	}
	// Uploads work again.
	if r := e.do(t, apiReq{method: "POST", path: "/api/v1/media?filename=clip.mp4", body: bytes.NewReader(payload)}); r.status != 201 {
		t.Errorf("upload after space was freed: %d %s", r.status, r.body)
	}
}

// waitLogged is waitFor that shows the server's log when it times out.
func waitLogged(t *testing.T, what string, cond func() bool, logs *logBuffer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; server log:\n%s", what, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
