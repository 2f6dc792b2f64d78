package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hlsd/hlsd/internal/server"
)

// Playlists of the test tree. vodPlaylist is long enough for gzip to pay.
var (
	multivariant = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=700000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=30.000\n" +
		"360p/index.m3u8\n"
	vodPlaylist   = mediaPlaylist(40, true)
	eventPlaylist = mediaPlaylist(3, false)
)

func mediaPlaylist(segments int, endList bool) string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n")
	if endList {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:VOD\n")
	} else {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:EVENT\n")
	}
	b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n")
	for i := 1; i <= segments; i++ {
		fmt.Fprintf(&b, "#EXTINF:2.000000,\nseg_%05d.m4s\n", i)
	}
	if endList {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.String()
}

// secret is planted just outside every served root and in hidden files
// inside them; no response may ever contain it.
const secret = "TOP-SECRET-7f3a9c"

// tree is a data dir and a static dir filled with one file of every
// delivered type, plus files that must never be delivered.
type tree struct {
	dir, data, static string
	files             map[string][]byte // relative to a presentation root
}

func newTree(t testing.TB) *tree {
	t.Helper()
	dir := t.TempDir()
	tr := &tree{dir: dir, data: filepath.Join(dir, "data"), static: filepath.Join(dir, "static"), files: map[string][]byte{}}
	seg := make([]byte, 100_000)
	rand.Read(seg)
	tr.files = map[string][]byte{
		"master.m3u8":            []byte(multivariant),
		"360p/index.m3u8":        []byte(vodPlaylist),
		"360p/init.mp4":          seg[:2000],
		"360p/seg_00001.m4s":     seg,
		"live/index.m3u8":        []byte(eventPlaylist),
		"ts/seg_00001.ts":        seg[:5000],
		"audio/seg_00001.aac":    seg[:3000],
		"audio/seg_00001.mp3":    seg[:3000],
		"audio/track.m4a":        seg[:3000],
		"subs/en.vtt":            []byte("WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n"),
		"poster.jpg":             seg[:4000],
		"thumbs/sprite.png":      seg[:4000],
		"thumbs/sprite.webp":     seg[:4000],
		"keys/k1.key":            seg[:16],
		"notes.txt":              []byte(secret + " in a file of an unknown type"),
		"source.json":            []byte(secret + " in a json file"),
		".hidden.m3u8":           []byte(secret + " in a dotfile"),
		".git/config.m3u8":       []byte(secret + " in a dot-dir"),
		"dir.m3u8/placeholder":   []byte("x"),
		"sub/deeper/index.m3u8":  []byte(vodPlaylist),
		"UPPER/INDEX.M3U8":       []byte(vodPlaylist),
		"UPPER/SEG_00001.M4S":    seg[:1000],
		"space name/index.m3u8":  []byte(vodPlaylist),
		"unicode-é/index.m3u8":   []byte(vodPlaylist),
		"360p/seg_00002.m4s.bak": []byte(secret + " in a backup"),
	}
	for _, root := range []string{filepath.Join(tr.data, "media", "abc"), tr.static} {
		for name, data := range tr.files {
			write(t, filepath.Join(root, name), data)
		}
	}
	// The secret just outside each root, with delivered extensions, and
	// symlinks inside the roots pointing at it.
	for _, p := range []string{filepath.Join(dir, "secret.m3u8"), filepath.Join(dir, "secret.ts"),
		filepath.Join(tr.data, "secret.m3u8"), filepath.Join(tr.data, "secret.ts"),
		filepath.Join(tr.data, "media", "secret.m3u8")} {
		write(t, p, []byte(secret+"\n"))
	}
	links := map[string]string{
		filepath.Join(tr.static, "link.m3u8"):                  "../secret.m3u8",
		filepath.Join(tr.static, "abs.ts"):                     filepath.Join(dir, "secret.ts"),
		filepath.Join(tr.static, "up"):                         "..",
		filepath.Join(tr.data, "media", "abc", "link.m3u8"):    "../../secret.m3u8",
		filepath.Join(tr.data, "media", "abc", "abs.ts"):       filepath.Join(dir, "secret.ts"),
		filepath.Join(tr.data, "media", "abc", "up"):           "../..",
		filepath.Join(tr.data, "media", "linked"):              dir,
		filepath.Join(tr.data, "media", "abc", "inside.m3u8"):  "master.m3u8", // inside the root: allowed
		filepath.Join(tr.static, "inside.m3u8"):                "master.m3u8",
		filepath.Join(tr.data, "media", "abc", "self-loop.ts"): "self-loop.ts",
	}
	for name, target := range links {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// newServer builds a Server on tr with cfg's other fields, served by an
// httptest server on 127.0.0.1.
func newServer(t *testing.T, tr *tree, cfg server.Config) (*server.Server, string) {
	t.Helper()
	cfg.DataDir, cfg.StaticDir = tr.data, tr.static
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.AccessLog = true
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs.URL
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// client never follows redirects and never adds Accept-Encoding, so the
// test sees exactly what the server sent.
var client = &http.Client{
	Transport: &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

// rawRequest sends exactly target as the request-target (no client-side
// cleaning or escaping) and returns the response.
func rawRequest(t *testing.T, base, method, target string) response {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %q: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, body}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("body is not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"no data dir", server.Config{}, "no data dir"},
		{"media folder missing", server.Config{DataDir: filepath.Join(dir, "nope")}, "open media dir"},
		{"static folder missing", server.Config{DataDir: dir, StaticDir: filepath.Join(dir, "nope")}, "open static dir"},
		{"bad origin", server.Config{DataDir: dir, CORSOrigins: []string{"example.com"}}, "invalid CORS origin"},
		{"origin with path", server.Config{DataDir: dir, CORSOrigins: []string{"https://example.com/app"}}, "invalid CORS origin"},
	}
	if err := os.Mkdir(filepath.Join(dir, "media"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := server.New(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("New succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	_, base := newServer(t, newTree(t), server.Config{})
	r := do(t, "GET", base+"/healthz", nil)
	if r.status != 200 || string(r.body) != "{\"status\":\"ok\"}\n" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /healthz = %d %q %q, want 200 application/json {\"status\":\"ok\"}", r.status, r.header.Get("Content-Type"), r.body)
	}
}

// TestSharedRegistry checks that metrics go to the given registry, not
// the global one, so two servers in one process do not collide.
func TestSharedRegistry(t *testing.T) {
	tr := newTree(t)
	reg := prometheus.NewRegistry()
	newServer(t, tr, server.Config{Registry: reg})
	if _, err := server.New(server.Config{DataDir: tr.data, Registry: reg}); err == nil {
		t.Error("a second server on the same registry registered its metrics twice")
	}
	newServer(t, tr, server.Config{}) // a fresh registry each: no conflict
	newServer(t, tr, server.Config{})
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func slogJSON(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
