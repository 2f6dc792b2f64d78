package main

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/pgtest"
	"github.com/hlsd/hlsd/internal/testmedia"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestServeOnPostgres runs `hlsd serve --db postgres://...` on a real
// Postgres: an upload is transcoded by a worker fetching from River's
// Postgres queue, and plays.
func TestServeOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("transcodes with ffmpeg; skipped under -short")
	}
	const token = "postgres-token-0123456789"
	data := t.TempDir()
	r := startServe(t, map[string]string{"HLSD_API_TOKEN": token, "HLSD_DB": pgtest.NewDatabase(t)}, "--data", data)
	if !strings.Contains(r.stderr.String(), "catalog on postgres") {
		t.Errorf("no log line says the catalog is on Postgres:\n%s", r.stderr.String())
	}
	c := apiClient{base: r.base, token: token}
	m := c.uploadRaw(t, testmedia.Path(t, "short.mp4"), "on postgres")
	wantReady(t, c.waitDone(t, m.ID), hlsd.KindVideo, 2)
	res, body := get(t, r.base+"/hls/"+m.ID+"/master.m3u8", nil)
	if res.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte("#EXTM3U")) {
		t.Errorf("master playlist: %d %q", res.StatusCode, body)
	}
	// Nothing went to an SQLite file.
	if matches, _ := filepath.Glob(filepath.Join(data, "*.db")); len(matches) > 0 {
		t.Errorf("SQLite files in the data dir with --db postgres://: %v", matches)
	}
}

// TestServeDBUnreachable starts serve on a Postgres nobody listens on: one
// line naming the server (without its password), exit 1.
func TestServeDBUnreachable(t *testing.T) {
	var stderr bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--api-token", "unreachable-0123456789",
		"--db", "postgres://hlsd:secret@127.0.0.1:1/hlsd"}
	code := m.exitCode(m.Run(t.Context(), args))
	want := "hlsd: cannot reach Postgres at postgres://hlsd:xxxxx@127.0.0.1:1/hlsd: "
	if code != 1 || !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 1 and one line starting %q", code, stderr.String(), want)
	}
	if strings.Contains(stderr.String(), "secret") {
		t.Errorf("the password is in the message: %q", stderr.String())
	}
}
