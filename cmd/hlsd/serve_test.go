package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/browsertest"
	"github.com/hlsd/hlsd/internal/openapitest"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// lockedBuffer is the stderr of an in-process hlsd: the server logs to it
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// listeningRE finds the address in the "listening" line, text or JSON.
var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)|"msg":"listening","addr":"([^"]+)"`)

// running is an in-process `hlsd serve`.
type running struct {
	base   string // http://127.0.0.1:PORT
	stderr *lockedBuffer
	stop   context.CancelFunc
	done   chan error
}

// startServe runs `hlsd serve ARGS --addr 127.0.0.1:0` in-process and waits
// for its "listening" log line.
func startServe(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	r := &running{stderr: &lockedBuffer{}, done: make(chan error, 1)}
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: r.stderr,
		Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- m.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	guard := time.After(2 * time.Minute) // hang guard, not a performance bound
	for {
		if m := listeningRE.FindStringSubmatch(r.stderr.String()); m != nil {
			r.base = "http://" + m[1] + m[2]
			return r
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("hlsd serve exited before listening: %v\n%s", err, r.stderr.String())
		case <-guard:
			t.Fatalf("hlsd serve logged no listening line:\n%s", r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// shutdown cancels the server's context (what SIGINT/SIGTERM do in main)
// and returns its exit code.
func (r *running) shutdown(t *testing.T) int {
	t.Helper()
	r.stop()
	err := <-r.done
	r.done <- err // for Cleanup
	return (&Main{Stderr: r.stderr}).exitCode(err)
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// API and operator paths are checked against docs/openapi.yaml.
	resp, err := (&openapitest.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"bad log format", nil, []string{"--log-format", "xml"}, 1, `hlsd: --log-format "xml": want text, json or off`},
		{"bad log format from env", map[string]string{"HLSD_LOG_FORMAT": "yaml"}, nil, 1, `hlsd: --log-format "yaml"`},
		{"cert without key", nil, []string{"--tls-cert", "c.pem"}, 1, "hlsd: --tls-cert and --tls-key must be given together"},
		{"bad origin", nil, []string{"--cors-origins", "https://ok.example,example.com"}, 1, `hlsd: --cors-origins: invalid CORS origin "example.com"`},
		{"empty origins", nil, []string{"--cors-origins", " , "}, 1, "hlsd: --cors-origins is empty"},
		{"bad duration from env", map[string]string{"HLSD_SHUTDOWN_TIMEOUT": "soon"}, nil, 1, `hlsd: invalid HLSD_SHUTDOWN_TIMEOUT="soon"`},
		{"negative shutdown timeout", nil, []string{"--shutdown-timeout", "-1s"}, 1, "hlsd: --shutdown-timeout must be positive"},
		{"extra argument", nil, []string{"movie.mp4"}, 2, `hlsd serve: unexpected argument "movie.mp4"`},
		{"unknown flag", nil, []string{"--port", "80"}, 2, "hlsd serve: unknown flag --port (see 'hlsd serve -h')"},
		{"missing static dir", nil, []string{"--static", filepath.Join(dir, "nope")}, 1, "hlsd: --static " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"static is a file", nil, []string{"--static", notDir}, 1, "hlsd: --static " + notDir + " is not a directory"},
		{"data dir under a file", nil, []string{"--data", filepath.Join(notDir, "data")}, 1, "hlsd: cannot create data dir"},
		{"address in use", nil, []string{"--addr", busy.Addr().String()}, 1, "hlsd: cannot listen on " + busy.Addr().String() + ": address already in use"},
		{"missing certificate", nil, []string{"--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem")}, 1, "hlsd: TLS file " + filepath.Join(dir, "c.pem") + ": no such file or directory"},
		{"zero watch quiet", nil, []string{"--watch-quiet", "0s"}, 1, "hlsd: --watch-quiet must be positive"},
		{"short upload expiry", map[string]string{"HLSD_UPLOAD_EXPIRY": "10ms"}, nil, 1, "hlsd: --upload-expiry must be at least 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr,
				Getenv: func(k string) string { return tt.env[k] }}
			args := append([]string{"serve", "--data", filepath.Join(t.TempDir(), "data")}, tt.args...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			code := m.exitCode(m.Run(ctx, args))
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", stderr.String(), tt.want)
			}
			if tt.code == 1 {
				var lines []string
				for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
					if strings.HasPrefix(l, "hlsd: ") {
						lines = append(lines, l)
					}
				}
				if len(lines) != 1 {
					t.Errorf("want exactly one error line, got %q", lines)
				}
			}
		})
	}
}

// TestServeCommand runs `hlsd serve` in-process: it creates the media
// folder, serves /static and /healthz with the configured CORS origin (set
// through the environment), logs access lines as JSON, and exits 0 when
// its context is cancelled (SIGTERM).
func TestServeCommand(t *testing.T) {
	dir := t.TempDir()
	static := filepath.Join(dir, "songs")
	os.MkdirAll(filepath.Join(static, "a"), 0o755)
	playlist := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg.ts\n#EXT-X-ENDLIST\n"
	os.WriteFile(filepath.Join(static, "a", "index.m3u8"), []byte(playlist), 0o644)
	data := filepath.Join(dir, "data")

	env := map[string]string{"HLSD_CORS_ORIGINS": "https://site.example", "HLSD_DATA": data}
	r := startServe(t, env, "--static", static, "--log-format", "json", "--playlist-max-age", "15s")
	if _, err := os.Stat(filepath.Join(data, "media")); err != nil {
		t.Errorf("media folder not created: %v", err)
	}

	resp, body := get(t, r.base+"/healthz", nil)
	if resp.StatusCode != 200 || string(body) != "{\"status\":\"ok\"}\n" {
		t.Errorf("GET /healthz = %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, r.base+"/static/a/index.m3u8", map[string]string{"Origin": "https://site.example"})
	if resp.StatusCode != 200 || string(body) != playlist {
		t.Fatalf("GET playlist = %d %q", resp.StatusCode, body)
	}
	for k, want := range map[string]string{
		"Content-Type":                "application/vnd.apple.mpegurl",
		"Access-Control-Allow-Origin": "https://site.example",
		"Cache-Control":               "public, max-age=15",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(r.stderr.String(), `"msg":"request","method":"GET","path":"/static/a/index.m3u8","status":200`) {
		t.Errorf("no JSON access log line in:\n%s", r.stderr.String())
	}

	if code := r.shutdown(t); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\n%s", code, r.stderr.String())
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(r.base, "http://")); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

// TestServeLogOff checks --log-format off: no access log, but the
// listening line is still printed so the address is known.
func TestServeLogOff(t *testing.T) {
	r := startServe(t, nil, "--data", t.TempDir(), "--log-format", "off")
	get(t, r.base+"/healthz", nil)
	if strings.Contains(r.stderr.String(), "msg=request") {
		t.Errorf("access log written with --log-format off:\n%s", r.stderr.String())
	}
}

// TestPlaybackEndToEnd is the end-to-end check: presentations made
// by `hlsd ingest`, served by `hlsd serve`, played by hls.js in headless
// Chromium from a page on another origin. The presentations are served from
// --static: /hls/{id}/ only serves media the library's catalog knows
// (uploads), which the API tests cover.
func TestPlaybackEndToEnd(t *testing.T) {
	b := browsertest.New(t) // skips under -short
	static := t.TempDir()
	ingest := func(t *testing.T, name, fixture string, extra ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		args := append([]string{"ingest", "-o", filepath.Join(static, name), "--segment-duration", "2s"}, extra...)
		args = append(args, testmedia.Path(t, fixture))
		if code := m.exitCode(m.Run(context.Background(), args)); code != 0 {
			t.Fatalf("hlsd %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
		}
	}
	ingest(t, "clip", "video-1080p.mp4", "--ladder", "360p,240p")
	ingest(t, "tone", "tone.m4a")

	tests := []struct {
		name     string
		cors     string
		playlist string
		audio    bool
	}{
		{"video, CORS *", "*", "/static/clip/master.m3u8", false},
		{"video, CORS list with the page origin", "https://other.example," + b.PageOrigin(), "/static/clip/master.m3u8", false},
		{"audio only", b.PageOrigin(), "/static/tone/master.m3u8", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startServe(t, nil, "--data", t.TempDir(), "--static", static, "--cors-origins", tt.cors)
			if r.base == b.PageOrigin() {
				t.Fatal("page and media share an origin")
			}
			shot := filepath.Join(t.TempDir(), "playing.png")
			pb, err := b.Play(t, r.base+tt.playlist, browsertest.PlayOptions{MinTime: 2, Audio: tt.audio, Screenshot: shot})
			if err != nil {
				t.Fatalf("%v\nserver log:\n%s", err, r.stderr.String())
			}
			t.Logf("played %s to %.2fs of %.2fs, %d levels, %dx%d, warnings %q", tt.playlist, pb.CurrentTime, pb.Duration, pb.Levels, pb.VideoWidth, pb.VideoHeight, pb.Warnings)
			if !tt.audio && (pb.VideoWidth == 0 || pb.Levels != 2) {
				t.Errorf("video %dx%d with %d levels, want a picture and the 2 ladder rungs", pb.VideoWidth, pb.VideoHeight, pb.Levels)
			}
			if pb.Duration < 5 {
				t.Errorf("duration %.2fs, want the source's (6-8 s)", pb.Duration)
			}
			// The player really went through hlsd: segments were logged.
			if !strings.Contains(r.stderr.String(), ".m4s status=200") {
				t.Errorf("no segment request in the server log:\n%s", r.stderr.String())
			}
		})
	}

	t.Run("CORS list without the page origin is refused", func(t *testing.T) {
		r := startServe(t, nil, "--data", t.TempDir(), "--static", static, "--cors-origins", "https://other.example")
		_, err := b.PlayHLS(t, r.base+"/static/clip/master.m3u8", 2)
		if err == nil || !strings.Contains(err.Error(), "CORS") {
			t.Errorf("playback from an origin not listed = %v, want a CORS failure", err)
		}
	})
}
