package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/signing"
)

// Attack tests: hostile requests against every route of a server with a
// library, served by Serve on a real 127.0.0.1 listener (so the http.Server
// limits are the ones hlsd runs with), each with the status it must get and
// a check that the answer leaks nothing: no planted secret, no key, no
// source bytes, no server path, no stack trace.

const (
	attackSecret = "ATTACK-SECRET-OUTSIDE-THE-MEDIA-ROOT"
	attackSource = "ATTACK-SOURCE-BYTES"
)

var attackKey = []byte("attack-key-16byt")

type attackEnv struct {
	addr   string // host:port
	data   string
	lib    *library.Library
	srv    *Server
	pub    string // a public, encrypted media
	sig    string // a signed, encrypted media
	other  string // another signed media
	token  string // a valid token for sig
	tokenO string // a valid token for other
}

func newAttackEnv(t *testing.T) *attackEnv {
	t.Helper()
	data := t.TempDir()
	lib, err := newLibrary(t, library.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Stop(context.Background()) })
	kr, _ := signing.NewKeyring(testSigningKey)
	srv, err := New(Config{
		DataDir: data, Library: lib, APIToken: apiTestToken, Signing: kr, MaxUpload: 1 << 20,
		ReadHeaderTimeout: 200 * time.Millisecond, BodyReadTimeout: 200 * time.Millisecond,
		Limits: Limits{APIRate: -1, AuthRate: -1, UploadsPerHour: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })

	e := &attackEnv{addr: ln.Addr().String(), data: data, lib: lib, srv: srv}
	mk := func(vis string) string {
		m := &hlsd.Media{Title: vis, Status: hlsd.StatusReady, Kind: hlsd.KindVideo, Visibility: vis, Encrypted: true}
		if err := lib.Catalog().CreateMedia(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(data, "media", m.ID)
		os.MkdirAll(filepath.Join(dir, "360p"), 0o755)
		os.WriteFile(filepath.Join(dir, "master.m3u8"), []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "360p", "index.m3u8"), []byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg_00001.ts\n#EXT-X-ENDLIST\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "360p", "seg_00001.ts"), []byte("segment"), 0o644)
		os.WriteFile(filepath.Join(dir, ".hidden.m3u8"), []byte(attackSecret), 0o644)
		os.Symlink(filepath.Join(data, "secret.m3u8"), filepath.Join(dir, "link.m3u8"))
		os.WriteFile(lib.Layout().KeyFile(m.ID), attackKey, 0o600)
		os.MkdirAll(lib.Layout().SourceDir(m.ID), 0o750)
		os.WriteFile(filepath.Join(lib.Layout().SourceDir(m.ID), "source.m3u8"), []byte(attackSource), 0o640)
		return m.ID
	}
	os.WriteFile(filepath.Join(data, "secret.m3u8"), []byte(attackSecret), 0o644)
	os.WriteFile(filepath.Join(data, "media", "secret.m3u8"), []byte(attackSecret), 0o644)
	e.pub, e.sig, e.other = mk(hlsd.VisibilityPublic), mk(hlsd.VisibilitySigned), mk(hlsd.VisibilitySigned)
	sign := func(id string) string {
		tok, err := kr.Sign(signing.Claims{MediaID: id, Expiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	e.token, e.tokenO = sign(e.sig), sign(e.other)
	return e
}

// rawResp is a response read off the wire.
type rawResp struct {
	status int
	header http.Header
	body   []byte
	closed bool // the server closed the connection without a response
}

// raw sends req (a complete request, headers and body as bytes) on a new
// connection and reads one response, or notes that the connection was
// closed without one. A minute is a hang guard, not a threshold.
func (e *attackEnv) raw(t *testing.T, req string) rawResp {
	t.Helper()
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, req); err != nil {
		// The server may close while a huge request is still being sent;
		// its answer (431, 413) is still there to read.
		t.Logf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF || strings.Contains(err.Error(), "connection reset") {
			return rawResp{closed: true}
		}
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rawResp{status: resp.StatusCode, header: resp.Header, body: body}
}

// request builds a request text: method, target, extra header lines, body.
func (e *attackEnv) request(method, target string, headers []string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, e.addr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" || method == "POST" || method == "PATCH" || method == "PUT" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

var authHeader = "Authorization: Bearer " + apiTestToken

// noLeak fails t if r carries anything it must not.
func (e *attackEnv) noLeak(t *testing.T, what string, r rawResp) {
	t.Helper()
	for _, s := range [][]byte{[]byte(attackSecret), []byte(attackSource), attackKey, []byte(e.data), []byte(apiTestToken),
		[]byte("goroutine "), []byte("panic"), []byte(".go:"), []byte("runtime."), []byte("/tmp/"), []byte("hlsd.db")} {
		if bytes.Contains(r.body, s) {
			t.Errorf("%s: body leaks %q: %q", what, s, r.body)
		}
		for k, v := range r.header {
			if strings.Contains(strings.Join(v, " "), string(s)) {
				t.Errorf("%s: header %s leaks %q", what, k, s)
			}
		}
	}
}

// routes lists one request per route of the server, with the credentials
// it needs; placeholders are filled from the env.
type route struct {
	method, path string
	api          bool // needs the API token
}

func (e *attackEnv) routes() []route {
	return []route{
		{"GET", "/healthz", false},
		{"GET", "/metrics", false},
		{"GET", "/hls/" + e.pub + "/master.m3u8", false},
		{"GET", "/hls/" + e.pub + "/key", false},
		{"OPTIONS", "/hls/" + e.pub + "/master.m3u8", false},
		{"GET", "/hls/t/" + e.token + "/" + e.sig + "/master.m3u8", false},
		{"GET", "/hls/t/" + e.token + "/" + e.sig + "/key", false},
		{"OPTIONS", "/hls/t/" + e.token + "/" + e.sig + "/master.m3u8", false},
		{"GET", "/", false},
		{"GET", "/login", false},
		{"POST", "/login", false},
		{"POST", "/logout", false},
		{"GET", "/watch/" + e.pub, false},
		{"GET", "/embed/" + e.pub, false},
		{"GET", "/assets/v/app.css", false},
		{"GET", "/api/v1/media", true},
		{"POST", "/api/v1/media", true},
		{"GET", "/api/v1/media/" + e.pub, true},
		{"PATCH", "/api/v1/media/" + e.pub, true},
		{"DELETE", "/api/v1/media/" + e.other + "x", true},
		{"POST", "/api/v1/media/" + e.pub + "/reprocess", true},
		{"POST", "/api/v1/media/" + e.pub + "/playback-tokens", true},
		{"POST", "/api/v1/uploads", true},
		{"GET", "/api/v1/uploads/0123abcd", true},
		{"PATCH", "/api/v1/uploads/0123abcd", true},
		{"DELETE", "/api/v1/uploads/0123abcd", true},
		{"OPTIONS", "/api/v1/uploads", false},
	}
}

// TestAttackUnauthenticated: every API route answers 401 without a token,
// with a wrong one, and with a token in the wrong place.
func TestAttackUnauthenticated(t *testing.T) {
	e := newAttackEnv(t)
	creds := map[string][]string{
		"none":             nil,
		"wrong token":      {"Authorization: Bearer not-the-token-0123456789"},
		"token as basic":   {"Authorization: Basic " + apiTestToken},
		"token in a query": nil, // below: ?token=
		"forged cookie":    {"Cookie: " + SessionCookie + "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	}
	for _, rt := range e.routes() {
		if !rt.api || rt.method == "OPTIONS" {
			continue
		}
		for name, h := range creds {
			target := rt.path
			if name == "token in a query" {
				target += "?token=" + apiTestToken + "&api_token=" + apiTestToken
			}
			t.Run(rt.method+" "+rt.path+" "+name, func(t *testing.T) {
				r := e.raw(t, e.request(rt.method, target, h, ""))
				if r.status != 401 || !strings.Contains(string(r.body), `"code":"unauthorized"`) || r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("status %d %q, want 401 JSON with WWW-Authenticate", r.status, r.body)
				}
				e.noLeak(t, rt.path, r)
			})
		}
	}
}

// TestAttackTraversal: the traversal corpus after every route prefix that
// takes a path or an id. Nothing outside the served folders, no dotfile,
// no symlink target, no source, no key.
func TestAttackTraversal(t *testing.T) {
	e := newAttackEnv(t)
	corpus := []string{
		"../secret.m3u8", "../../secret.m3u8", "../../../secret.m3u8", "360p/../../secret.m3u8",
		"%2e%2e/secret.m3u8", "%2E%2E/%2e%2e/secret.m3u8", ".%2e/secret.m3u8", "%2e%2e%2fsecret.m3u8",
		"..%2fsecret.m3u8", "..%2f..%2fsecret.m3u8", "%2f..%2f..%2fsecret.m3u8", "..%5c..%5csecret.m3u8",
		`..\..\secret.m3u8`, "secret.m3u8%00.m3u8", "%00../secret.m3u8", "//etc/passwd", "%2fetc%2fpasswd",
		"/" + strings.TrimPrefix(e.data, "/") + "/secret.m3u8", "link.m3u8", ".hidden.m3u8", "%2ehidden.m3u8",
		"..", "%2e%2e", "....//secret.m3u8", "%c0%ae%c0%ae/secret.m3u8", "..%252f..%252fsecret.m3u8",
		"../../keys/" + e.sig + ".key", "../../sources/" + e.pub + "/source.m3u8", "../../hlsd.db",
		"..;/secret.m3u8", "360p/%2e%2e/%2e%2e/secret.m3u8", "key/../../secret.m3u8", "key%2f..%2fsecret.m3u8",
	}
	prefixes := []string{
		"/hls/" + e.pub + "/",
		"/hls/t/" + e.token + "/" + e.sig + "/",
		"/hls/",
		"/hls/t/" + e.token + "/",
		"/assets/v/",
		"/embed/",
		"/watch/",
		"/api/v1/media/",
		"/api/v1/uploads/",
		"/",
	}
	for _, p := range prefixes {
		for _, c := range corpus {
			target := p + c
			t.Run(target, func(t *testing.T) {
				r := e.raw(t, e.request("GET", target, []string{authHeader}, ""))
				switch {
				case r.status == 400, r.status == 401, r.status == 403, r.status == 404, r.status == 405:
				case r.status == 303 && strings.HasPrefix(r.header.Get("Location"), "/login?"):
					// Pages that need a session send the browser to sign in.
				default:
					t.Errorf("GET %q = %d, want 400, 401, 403, 404 or 405", target, r.status)
				}
				e.noLeak(t, target, r)
			})
		}
	}
	// Controls: the same server does serve what it should.
	for _, target := range []string{"/hls/" + e.pub + "/master.m3u8", "/hls/t/" + e.token + "/" + e.sig + "/360p/seg_00001.ts"} {
		if r := e.raw(t, e.request("GET", target, nil, "")); r.status != 200 {
			t.Errorf("control GET %s = %d, want 200", target, r.status)
		}
	}
}

// TestAttackTokens: cross-media, tampered, expired and misplaced tokens on
// every file kind of a signed media: 403, and never the key or a segment.
func TestAttackTokens(t *testing.T) {
	e := newAttackEnv(t)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	expired, _ := e.srv.cfg.Signing.Sign(signing.Claims{MediaID: e.sig, Expiry: time.Now().Add(-time.Second)})
	cases := map[string]string{
		"other media's token":      e.tokenO,
		"payload byte changed":     flip(e.token, 3),
		"signature byte changed":   flip(e.token, len(e.token)-3),
		"expired":                  expired,
		"truncated":                e.token[:len(e.token)-4],
		"doubled":                  e.token + e.token,
		"payload of sig, sig of o": strings.Split(e.token, ".")[0] + "." + strings.Split(e.tokenO, ".")[1],
		"api token as playback":    apiTestToken,
	}
	for name, tok := range cases {
		for _, p := range []string{"master.m3u8", "360p/index.m3u8", "360p/seg_00001.ts", "key"} {
			t.Run(name+" "+p, func(t *testing.T) {
				r := e.raw(t, e.request("GET", "/hls/t/"+tok+"/"+e.sig+"/"+p, nil, ""))
				if r.status != 403 {
					t.Errorf("status %d, want 403", r.status)
				}
				e.noLeak(t, p, r)
				if bytes.Contains(r.body, []byte("segment")) || bytes.Contains(r.body, []byte("#EXTM3U")) {
					t.Errorf("body %q has media content", r.body)
				}
			})
		}
	}
	// Plain URLs of the signed media, and its token in a query or header
	// instead of the path: 403 too.
	for _, req := range []string{
		e.request("GET", "/hls/"+e.sig+"/key", nil, ""),
		e.request("GET", "/hls/"+e.sig+"/master.m3u8?token="+e.token, nil, ""),
		e.request("GET", "/hls/"+e.sig+"/360p/seg_00001.ts", []string{"Authorization: Bearer " + e.token}, ""),
		e.request("GET", "/hls/"+e.sig+"/360p/seg_00001.ts", []string{authHeader}, ""),
	} {
		r := e.raw(t, req)
		if r.status != 403 {
			t.Errorf("%q: status %d, want 403", strings.SplitN(req, "\r\n", 2)[0], r.status)
		}
		e.noLeak(t, "plain", r)
	}
}

// TestAttackMethodConfusion: wrong methods get 405 with an Allow header
// naming the right ones (401 first on the API without a token).
func TestAttackMethodConfusion(t *testing.T) {
	e := newAttackEnv(t)
	tests := []struct {
		method, path string
		auth         bool
		status       int
		allow        string
	}{
		{"POST", "/hls/" + e.pub + "/master.m3u8", false, 405, "GET"},
		{"PUT", "/hls/" + e.pub + "/360p/seg_00001.ts", false, 405, "GET"},
		{"DELETE", "/hls/t/" + e.token + "/" + e.sig + "/master.m3u8", false, 405, "GET"},
		{"POST", "/hls/t/" + e.token + "/" + e.sig + "/key", false, 405, "GET"},
		{"PUT", "/healthz", false, 405, "GET"},
		{"POST", "/metrics", false, 405, "GET"},
		{"TRACE", "/", false, 405, "GET"},
		{"PUT", "/login", false, 405, "GET"},
		{"GET", "/logout", false, 405, "POST"},
		{"DELETE", "/embed/" + e.pub, false, 405, "GET"},
		{"GET", "/api/v1/media/" + e.pub + "/playback-tokens", true, 405, "POST"},
		{"PUT", "/api/v1/media/" + e.pub + "/playback-tokens", true, 405, "POST"},
		{"GET", "/api/v1/media/" + e.pub + "/reprocess", true, 405, "POST"},
		{"PUT", "/api/v1/media", true, 405, "GET, POST"},
		{"DELETE", "/api/v1/media", true, 405, "GET, POST"},
		{"POST", "/api/v1/media/" + e.pub, true, 405, "GET, PATCH, DELETE"},
		{"GET", "/api/v1/media/" + e.pub + "/playback-tokens", false, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var h []string
			if tt.auth {
				h = []string{authHeader}
			}
			r := e.raw(t, e.request(tt.method, tt.path, h, ""))
			if r.status != tt.status {
				t.Fatalf("status %d %q, want %d", r.status, r.body, tt.status)
			}
			if tt.allow != "" && !strings.Contains(r.header.Get("Allow"), tt.allow) {
				t.Errorf("Allow %q, want it to contain %q", r.header.Get("Allow"), tt.allow)
			}
			e.noLeak(t, tt.path, r)
		})
	}
}

// TestAttackOversized: headers over MaxHeaderBytes get 431 on every route;
// bodies over their limits get 413.
func TestAttackOversized(t *testing.T) {
	e := newAttackEnv(t)
	big := "X-Big: " + strings.Repeat("a", MaxHeaderBytes+8192)
	for _, rt := range e.routes() {
		t.Run("header "+rt.method+" "+rt.path, func(t *testing.T) {
			r := e.raw(t, e.request(rt.method, rt.path, []string{authHeader, big}, ""))
			if r.status != 431 {
				t.Errorf("status %d, want 431", r.status)
			}
			e.noLeak(t, rt.path, r)
		})
	}
	// Many small headers add up the same way.
	var many []string
	for i := range 3000 {
		many = append(many, "X-H"+strconv.Itoa(i)+": "+strings.Repeat("b", 20))
	}
	if r := e.raw(t, e.request("GET", "/hls/"+e.pub+"/master.m3u8", many, "")); r.status != 431 {
		t.Errorf("3000 headers: status %d, want 431", r.status)
	}

	json := []string{authHeader, "Content-Type: application/json"}
	hugeJSON := `{"title":"` + strings.Repeat("a", 100<<10) + `"}`
	bodies := []struct {
		name, method, path string
		headers            []string
		body               string
	}{
		{"PATCH json", "PATCH", "/api/v1/media/" + e.pub, json, hugeJSON},
		{"token json", "POST", "/api/v1/media/" + e.pub + "/playback-tokens", json, `{"ttl_seconds":1,"client_ip":"` + strings.Repeat("1", 100<<10) + `"}`},
		{"login json", "POST", "/login", []string{"Content-Type: application/json", "Sec-Fetch-Site: same-origin"}, `{"token":"` + strings.Repeat("a", 100<<10) + `"}`},
		{"upload over --max-upload", "POST", "/api/v1/media?filename=a.mp4", []string{authHeader}, strings.Repeat("\x00", 1<<20+1)},
	}
	for _, b := range bodies {
		t.Run("body "+b.name, func(t *testing.T) {
			r := e.raw(t, e.request(b.method, b.path, b.headers, b.body))
			if r.status != 413 {
				t.Errorf("status %d %q, want 413", r.status, r.body)
			}
			e.noLeak(t, b.path, r)
		})
	}
	t.Run("chunked upload over --max-upload", func(t *testing.T) {
		chunk := strings.Repeat("\x01", 64<<10)
		var body strings.Builder
		for range 17 {
			fmt.Fprintf(&body, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		body.WriteString("0\r\n\r\n")
		req := fmt.Sprintf("POST /api/v1/media?filename=a.mp4 HTTP/1.1\r\nHost: %s\r\n%s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n%s",
			e.addr, authHeader, body.String())
		r := e.raw(t, req)
		if r.status != 413 {
			t.Errorf("status %d %q, want 413", r.status, r.body)
		}
		e.noLeak(t, "chunked", r)
	})
	t.Run("tus upload length over --max-upload", func(t *testing.T) {
		r := e.raw(t, e.request("POST", "/api/v1/uploads", []string{authHeader, "Tus-Resumable: 1.0.0", "Upload-Length: " + strconv.Itoa(1<<20+1)}, ""))
		if r.status != 413 {
			t.Errorf("status %d %q, want 413", r.status, r.body)
		}
	})
	if left := files(t, filepath.Join(e.data, "tmp")); len(left) > 0 {
		for _, f := range left {
			if !strings.HasPrefix(f, "uploads") {
				t.Errorf("refused uploads left %s in DATA/tmp", f)
			}
		}
	}
}

// TestAttackSlowClients: a client that never finishes its headers is cut
// by ReadHeaderTimeout, and one that stalls in the middle of a body by
// BodyReadTimeout, on every kind of route that takes a body.
func TestAttackSlowClients(t *testing.T) {
	e := newAttackEnv(t)
	t.Run("headers", func(t *testing.T) {
		for _, rt := range e.routes() {
			partial := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\nX-Slow: ", rt.method, rt.path, e.addr, authHeader)
			r := e.raw(t, partial) // never ends: the server must hang up
			if !r.closed && r.status != 408 {
				t.Errorf("%s %s: got %d, want the connection closed (or 408)", rt.method, rt.path, r.status)
			}
		}
	})
	bodies := []struct {
		name, method, path string
		headers            []string
	}{
		{"raw upload", "POST", "/api/v1/media?filename=a.mp4", nil},
		{"multipart upload", "POST", "/api/v1/media", []string{"Content-Type: multipart/form-data; boundary=xyz"}},
		{"json", "PATCH", "/api/v1/media/" + e.pub, []string{"Content-Type: application/json"}},
		{"token", "POST", "/api/v1/media/" + e.pub + "/playback-tokens", []string{"Content-Type: application/json"}},
		{"login", "POST", "/login", []string{"Content-Type: application/x-www-form-urlencoded", "Sec-Fetch-Site: same-origin"}},
	}
	for _, b := range bodies {
		t.Run("body "+b.name, func(t *testing.T) {
			var req strings.Builder
			fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\nContent-Length: 100000\r\n", b.method, b.path, e.addr, authHeader)
			for _, h := range b.headers {
				req.WriteString(h + "\r\n")
			}
			req.WriteString("\r\n--xyz\r\n{\"ti") // a start, then silence
			r := e.raw(t, req.String())
			if !r.closed && r.status < 400 {
				t.Errorf("got %d %q, want an error status or the connection closed", r.status, r.body)
			}
			e.noLeak(t, b.path, r)
		})
	}
	t.Run("tus chunk", func(t *testing.T) {
		r := e.raw(t, e.request("POST", "/api/v1/uploads", []string{authHeader, "Tus-Resumable: 1.0.0", "Upload-Length: 100000"}, ""))
		loc := r.header.Get("Location")
		if r.status != 201 || loc == "" {
			t.Fatalf("tus create: %d", r.status)
		}
		path := loc[strings.Index(loc, "/api/v1/"):]
		req := fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: %s\r\n%s\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"+
			"Content-Type: application/offset+octet-stream\r\nContent-Length: 100000\r\n\r\nsome bytes", path, e.addr, authHeader)
		r = e.raw(t, req)
		if !r.closed && r.status < 400 && r.status != 204 {
			t.Errorf("got %d, want the stalled chunk cut", r.status)
		}
	})
	// Nothing of the stalled uploads stays in DATA/tmp (tus keeps its
	// partial upload under DATA/tmp/uploads for a resume, by design).
	waitFor(t, "stalled uploads to be removed", func() bool {
		for _, f := range files(t, filepath.Join(e.data, "tmp")) {
			if !strings.HasPrefix(f, "uploads") {
				return false
			}
		}
		return true
	})
	// The server still serves after all that.
	if r := e.raw(t, e.request("GET", "/healthz", nil, "")); r.status != 200 {
		t.Errorf("healthz after the attacks: %d", r.status)
	}
}
