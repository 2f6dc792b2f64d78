package main

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/testmedia"
)

// tusJSUpload sends total bytes to hlsd with the published tus client
// (tus-js-client from web/node_modules, run by node) as a stream of unknown
// length (Upload-Defer-Length), in PATCHes of chunk bytes, and returns what
// the client reported: the upload URL, and the HTTP status of its error.
func tusJSUpload(t *testing.T, base, token string, total, chunk int) (uploadURL string, errStatus int, errText string) {
	t.Helper()
	root, err := testmedia.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	const script = `
const tus = require('tus-js-client');
const { Readable } = require('stream');
const total = +process.env.TOTAL;
let sent = 0;
const src = new Readable({ read() {
  if (sent >= total) { this.push(null); return; }
  const n = Math.min(1 << 20, total - sent); sent += n; this.push(Buffer.alloc(n, 0x61));
} });
const up = new tus.Upload(src, {
  endpoint: process.env.ENDPOINT, uploadLengthDeferred: true, chunkSize: +process.env.CHUNK,
  retryDelays: [], headers: { Authorization: 'Bearer ' + process.env.TOKEN }, metadata: { filename: 'stream.mp4' },
  onError(err) { console.log(JSON.stringify({ url: up.url, status: err.originalResponse ? err.originalResponse.getStatus() : 0, error: String(err) })); },
  onSuccess() { console.log(JSON.stringify({ url: up.url, status: 0 })); },
});
up.start();
`
	cmd := exec.Command("node", "-e", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(root, "web", "node_modules"),
		"ENDPOINT="+base+"/api/v1/uploads/", "TOKEN="+token, "TOTAL="+strconv.Itoa(total), "CHUNK="+strconv.Itoa(chunk))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node with tus-js-client (web/node_modules; make web installs it): %v\n%s", err, out)
	}
	var res struct {
		URL    string
		Status int
		Error  string
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(out))), &res); err != nil {
		t.Errorf("tus-js-client reported %q, want its outcome as JSON", out)
	}
	return res.URL, res.Status, res.Error
}

// TestTusDeferredLengthMaxUpload streams 24 MB with tus-js-client, length
// deferred, to a server with --max-upload 10MB: the upload must be refused
// with 413, and the server must never hold more than 10 MB of it.
func TestTusDeferredLengthMaxUpload(t *testing.T) {
	data := t.TempDir()
	const token = "tus-limit-token-0123456789"
	r := startServe(t, map[string]string{"HLSD_API_TOKEN": token}, "--data", data, "--max-upload", "10MB")
	const limit = 10_000_000
	uploadURL, status, text := tusJSUpload(t, r.base, token, 24<<20, 4<<20)
	if status != 413 {
		t.Errorf("tus-js-client ended with status %d (%s), want 413", status, text)
	}
	if u, err := url.Parse(uploadURL); err == nil && uploadURL != "" {
		c := apiClient{base: r.base, token: token}
		st, h, _ := c.call(t, "HEAD", u.Path, nil, map[string]string{"Tus-Resumable": "1.0.0"})
		if off, _ := strconv.Atoi(h.Get("Upload-Offset")); st != 200 || off > limit {
			t.Errorf("HEAD: status %d, Upload-Offset %s; want 200 and at most %d", st, h.Get("Upload-Offset"), limit)
		}
	}
	entries, err := os.ReadDir(filepath.Join(data, "tmp", "uploads"))
	if err != nil || len(entries) == 0 {
		t.Fatalf("uploads folder: %v %v", entries, err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Size() > limit {
			t.Errorf("the server holds %d bytes of the upload in %s, over the limit of %d", info.Size(), e.Name(), limit)
		}
	}
}
