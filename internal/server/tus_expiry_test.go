package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
)

// startTusEnv runs a library and server on data with cfg's upload settings;
// stop ends them (as a restart does), and cleanup stops them too.
func startTusEnv(t *testing.T, data string, cfg Config) (e *apiEnv, stop func()) {
	t.Helper()
	lib, err := newLibrary(t, library.Config{DataDir: data})
	if err != nil {
		t.Fatalf("library.New: %v", err)
	}
	cfg.DataDir, cfg.Library, cfg.APIToken = data, lib, apiTestToken
	srv, err := New(cfg)
	if err != nil {
		lib.Stop(context.Background())
		t.Fatalf("server.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			ts.Close()
			srv.Close()
			lib.Stop(context.Background())
		}
	}
	t.Cleanup(stop)
	return &apiEnv{srv: srv, lib: lib, ts: ts, data: data}, stop
}

var tusHeader = map[string]string{"Tus-Resumable": "1.0.0"}

// wantExpires checks that r advertises Upload-Expires as the upload's last
// write, made between before and after, plus expiry.
func wantExpires(t *testing.T, what string, r apiResp, before, after time.Time, expiry time.Duration) {
	t.Helper()
	exp, err := http.ParseTime(r.header.Get("Upload-Expires"))
	if err != nil {
		t.Errorf("%s: Upload-Expires %q: %v", what, r.header.Get("Upload-Expires"), err)
		return
	}
	if last := exp.Add(-expiry); last.Before(before.Truncate(time.Second)) || last.After(after) {
		t.Errorf("%s: Upload-Expires %s, want the last write (between %s and %s) plus %s", what, exp, before, after, expiry)
	}
}

// age sets the modification time of every file of an upload.
func age(t *testing.T, data, uploadPath string, when time.Time) {
	t.Helper()
	id := path.Base(uploadPath)
	for _, name := range []string{id, id + ".info"} {
		if err := os.Chtimes(filepath.Join(data, "tmp", "uploads", name), when, when); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTusExpiry: an upload expires by its own last write, is advertised
// with Upload-Expires (tus expiration extension), survives a restart until
// then, whatever the uploads folder's own time, and is removed after.
func TestTusExpiry(t *testing.T) {
	const expiry = time.Hour
	data := t.TempDir()
	e, stop := startTusEnv(t, data, Config{UploadExpiry: expiry, MaxUpload: 1000})

	r := e.do(t, apiReq{method: "OPTIONS", path: "/api/v1/uploads", header: tusHeader})
	if ext := r.header.Get("Tus-Extension"); !strings.Contains(ext, "expiration") {
		t.Errorf("Tus-Extension = %q, want expiration listed", ext)
	}
	before := time.Now()
	r, live := e.tusCreate(t, 10, map[string]string{"filename": "live.mp4"})
	wantExpires(t, "POST", r, before, time.Now(), expiry)
	before = time.Now()
	r = e.tusPatch(t, live, 0, "012")
	wantExpires(t, "PATCH", r, before, time.Now(), expiry)
	r = e.do(t, apiReq{method: "HEAD", path: live, header: tusHeader})
	wantExpires(t, "HEAD", r, before, time.Now(), expiry)
	_, old := e.tusCreate(t, 10, map[string]string{"filename": "old.mp4"})
	e.tusPatch(t, old, 0, "012")
	stop()

	// While stopped: the live upload was last written 30 minutes ago, the
	// old one 2 hours ago; the folder itself has not changed for 2 hours.
	now := time.Now()
	age(t, data, live, now.Add(-30*time.Minute))
	age(t, data, old, now.Add(-2*time.Hour))
	os.Chtimes(filepath.Join(data, "tmp", "uploads"), now.Add(-2*time.Hour), now.Add(-2*time.Hour))
	os.Chtimes(filepath.Join(data, "tmp"), now.Add(-2*time.Hour), now.Add(-2*time.Hour))

	e, _ = startTusEnv(t, data, Config{UploadExpiry: expiry, MaxUpload: 1000})
	r = e.do(t, apiReq{method: "HEAD", path: live, header: tusHeader})
	if r.status != 200 || r.header.Get("Upload-Offset") != "3" {
		t.Fatalf("HEAD of the upload written 30 min ago, after a restart: %d, Upload-Offset %q; want 200 and 3", r.status, r.header.Get("Upload-Offset"))
	}
	wantExpires(t, "HEAD after restart", r, now.Add(-30*time.Minute), now.Add(-30*time.Minute), expiry)
	if r := e.do(t, apiReq{method: "HEAD", path: old, header: tusHeader}); r.status != 404 {
		t.Errorf("HEAD of the upload written 2 h ago: %d, want 404 (expired)", r.status)
	}
	if _, err := os.Stat(filepath.Join(data, "tmp", "uploads", path.Base(old))); !os.IsNotExist(err) {
		t.Errorf("expired upload still on disk: %v", err)
	}
	r = e.tusPatch(t, live, 3, "3456789")
	if id := r.header.Get(HeaderMediaID); r.status != 204 || !hlsd.ValidMediaID(id) {
		t.Fatalf("finishing the kept upload: %d %v", r.status, r.header)
	} else if r.header.Get("Upload-Expires") != "" {
		t.Errorf("finished upload advertises Upload-Expires %q", r.header.Get("Upload-Expires"))
	}
}

// TestTusExpirySweep: a running server removes an upload once its last
// write is older than the expiry, and keeps the others.
func TestTusExpirySweep(t *testing.T) {
	data := t.TempDir()
	e, _ := startTusEnv(t, data, Config{UploadExpiry: time.Hour, uploadSweep: 10 * time.Millisecond})
	_, old := e.tusCreate(t, 10, map[string]string{"filename": "old.mp4"})
	e.tusPatch(t, old, 0, "012")
	_, live := e.tusCreate(t, 10, map[string]string{"filename": "live.mp4"})
	e.tusPatch(t, live, 0, "012")
	age(t, data, old, time.Now().Add(-2*time.Hour))
	oldFile := filepath.Join(data, "tmp", "uploads", path.Base(old))
	deadline := time.Now().Add(time.Minute) // hang guard, not a performance bound
	for {
		if _, err := os.Stat(oldFile); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upload last written 2 h ago (expiry 1 h) was never swept")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := e.do(t, apiReq{method: "HEAD", path: live, header: tusHeader}); r.status != 200 || r.header.Get("Upload-Offset") != "3" {
		t.Errorf("HEAD of the live upload after the sweep: %d, Upload-Offset %q", r.status, r.header.Get("Upload-Offset"))
	}
}

// noLength hides a body's length, so the request is sent chunked.
type noLength struct{ io.Reader }

// TestTusMaxUploadEveryByte: --max-upload holds for uploads of deferred
// length, whether the body is announced (Content-Length), chunked, or
// sent with the creation request.
func TestTusMaxUploadEveryByte(t *testing.T) {
	e := newAPIEnv(t, 1000)
	deferred := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Defer-Length": "1"}
	create := func() string {
		r := e.do(t, apiReq{method: "POST", path: "/api/v1/uploads", header: deferred})
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		loc, err := url.Parse(r.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return loc.Path
	}
	offset := func(loc string) int {
		r := e.do(t, apiReq{method: "HEAD", path: loc, header: tusHeader})
		n, _ := strconv.Atoi(r.header.Get("Upload-Offset"))
		return n
	}
	patch := func(loc string, off int, body io.Reader) apiResp {
		return e.do(t, apiReq{method: "PATCH", path: loc, body: body, header: map[string]string{
			"Tus-Resumable": "1.0.0", "Upload-Offset": strconv.Itoa(off), "Content-Type": "application/offset+octet-stream"}})
	}
	t.Run("announced", func(t *testing.T) {
		loc := create()
		if r := patch(loc, 0, strings.NewReader(strings.Repeat("a", 600))); r.status != 204 {
			t.Fatalf("first 600 bytes: %d %s", r.status, r.body)
		}
		r := patch(loc, 600, strings.NewReader(strings.Repeat("b", 600)))
		r.wantError(t, 413, hlsd.ETOOLARGE, "larger than the limit")
		if n := offset(loc); n != 600 {
			t.Errorf("offset = %d, want 600", n)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		loc := create()
		r := patch(loc, 0, noLength{strings.NewReader(strings.Repeat("c", 1500))})
		if r.status != 413 {
			t.Errorf("status = %d, want 413", r.status)
		}
		if n := offset(loc); n > 1000 {
			t.Errorf("offset = %d, want at most 1000", n)
		}
	})
	t.Run("with creation", func(t *testing.T) {
		h := map[string]string{"Content-Type": "application/offset+octet-stream"}
		for k, v := range deferred {
			h[k] = v
		}
		r := e.do(t, apiReq{method: "POST", path: "/api/v1/uploads", header: h, body: strings.NewReader(strings.Repeat("d", 1500))})
		r.wantError(t, 413, hlsd.ETOOLARGE, "larger than the limit")
	})
}
