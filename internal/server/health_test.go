package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/sqlite"
)

// TestReadyz checks /readyz against a real library: everything ok is 200;
// an ffmpeg path pointing at a missing binary, or a closed database, is 503
// with that check failed and saying why, the other checks still ok.
// /healthz stays 200 throughout (it checks nothing).
func TestReadyz(t *testing.T) {
	tests := []struct {
		name      string
		ffmpeg    string
		stop      bool // close the library's database first
		status    int
		failed    string
		errSubstr string
	}{
		{name: "ready", status: 200},
		{name: "ffmpeg missing", ffmpeg: "/nonexistent/bin/ffmpeg", status: 503, failed: "ffmpeg", errSubstr: "ffmpeg not found"},
		{name: "database closed", stop: true, status: 503, failed: "database", errSubstr: "database is closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			db, err := sqlite.Open(context.Background(), disk.Layout{Root: data}.DB())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			lib, err := library.New(context.Background(), library.Config{DataDir: data, DB: db, FFmpeg: tt.ffmpeg})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lib.Stop(context.Background()) })
			srv, err := server.New(server.Config{DataDir: data, Library: lib, APIToken: "readyz-token-0123456789"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			if tt.stop {
				lib.Stop(context.Background())
				db.Close()
			}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			res, body := get(t, ts.URL+"/readyz", nil)
			if res.StatusCode != tt.status || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("GET /readyz = %d %s, want %d application/json", res.StatusCode, res.Header.Get("Content-Type"), tt.status)
			}
			var got struct {
				Status string
				Checks map[string]struct {
					OK    bool    `json:"ok"`
					Error *string `json:"error"`
				}
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			wantStatus := "ok"
			if tt.failed != "" {
				wantStatus = "fail"
			}
			if got.Status != wantStatus {
				t.Errorf("status = %q, want %q: %s", got.Status, wantStatus, body)
			}
			for _, name := range []string{"database", "store", "ffmpeg"} {
				c, ok := got.Checks[name]
				switch {
				case !ok:
					t.Errorf("no %q check in %s", name, body)
				case name == tt.failed:
					if c.OK || c.Error == nil || !strings.Contains(*c.Error, tt.errSubstr) {
						t.Errorf("check %s = %+v, want failed with %q", name, c, tt.errSubstr)
					}
					if c.Error != nil && strings.Contains(*c.Error, data) {
						t.Errorf("check %s error %q shows the data path", name, *c.Error)
					}
				case !c.OK || c.Error != nil:
					t.Errorf("check %s failed: %s", name, body)
				}
			}
			if res, _ := get(t, ts.URL+"/healthz", nil); res.StatusCode != http.StatusOK {
				t.Errorf("GET /healthz = %d, want 200", res.StatusCode)
			}
		})
	}
	// Without a library (delivery only) the media folder is what matters.
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "media"), 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	if res, body := get(t, ts.URL+"/readyz", nil); res.StatusCode != 200 || !strings.Contains(string(body), `"store":{"ok":true}`) {
		t.Errorf("delivery-only /readyz = %d %s", res.StatusCode, body)
	}
}
