package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/signing"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// testClock is a settable clock for the server (token expiry, rate limits).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testSigningKey = signing.Key{ID: "k1", Secret: []byte("test-signing-secret-0123456789")}

// newSecEnv is newAPIEnv with signing keys, a settable clock, and any
// other config change; limits are off unless the change sets them.
func newSecEnv(t *testing.T, change func(*Config)) (*apiEnv, *testClock) {
	t.Helper()
	data := t.TempDir()
	lib, err := newLibrary(t, library.Config{DataDir: data})
	if err != nil {
		t.Fatalf("library.New: %v", err)
	}
	t.Cleanup(func() { lib.Stop(context.Background()) })
	kr, err := signing.NewKeyring(testSigningKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{DataDir: data, Library: lib, APIToken: apiTestToken, Signing: kr,
		Limits: Limits{APIRate: -1, AuthRate: -1, UploadsPerHour: -1}}
	if change != nil {
		change(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	clock := &testClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	srv.clock = clock.now
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &apiEnv{srv: srv, lib: lib, ts: ts, data: data}, clock
}

// testKey is the AES-128 key of the hand-made presentations.
var testKey = []byte("0123456789abcdef")

// addPresentation records a ready media with the given visibility and
// encryption, and writes a small presentation for it: a multivariant
// playlist, one rendition whose playlist points at the key with "../key"
// (as ingest writes it), a segment, and the key in DATA/keys.
func addPresentation(t *testing.T, e *apiEnv, visibility string, encrypted bool) string {
	t.Helper()
	m := &hlsd.Media{Title: "private " + visibility, Status: hlsd.StatusReady, Kind: hlsd.KindVideo,
		Visibility: visibility, Encrypted: encrypted}
	if err := e.lib.Catalog().CreateMedia(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(e.data, "media", m.ID)
	key := ""
	if encrypted {
		key = "#EXT-X-KEY:METHOD=AES-128,URI=\"../key\",IV=0x00000000000000000000000000000001\n"
		if err := os.WriteFile(e.lib.Layout().KeyFile(m.ID), testKey, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{
		"master.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000,CODECS=\"avc1.64000d\"\n144p/index.m3u8\n",
		"144p/index.m3u8": "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n" + key +
			"#EXTINF:2,\nseg_00001.ts\n#EXT-X-ENDLIST\n",
		"144p/seg_00001.ts": strings.Repeat("\x47segment-bytes", 100),
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return m.ID
}

// issue asks for a playback token and returns the decoded answer.
func issue(t *testing.T, e *apiEnv, id, body string) TokenObject {
	t.Helper()
	r := e.do(t, apiReq{method: "POST", path: "/api/v1/media/" + id + "/playback-tokens", body: strings.NewReader(body),
		header: map[string]string{"Content-Type": "application/json"}})
	if r.status != 201 {
		t.Fatalf("issue token: %d %s", r.status, r.body)
	}
	var tok TokenObject
	if err := json.Unmarshal(r.body, &tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

// get fetches path without credentials, as a player does.
func get(t *testing.T, e *apiEnv, path string) apiResp {
	t.Helper()
	return e.do(t, apiReq{method: "GET", path: path, noAuth: true})
}

// resolve returns ref resolved against the path base, as a player
// resolves a playlist's relative URIs.
func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).Path
}

func TestSignedPlayback(t *testing.T) {
	e, clock := newSecEnv(t, nil)
	id := addPresentation(t, e, hlsd.VisibilitySigned, true)
	other := addPresentation(t, e, hlsd.VisibilitySigned, true)

	// The plain URLs of a signed media answer 403, key included.
	for _, p := range []string{"master.m3u8", "144p/index.m3u8", "144p/seg_00001.ts", "key"} {
		if r := get(t, e, "/hls/"+id+"/"+p); r.status != 403 || bytes.Contains(r.body, testKey) || bytes.Contains(r.body, []byte("EXTM3U")) {
			t.Errorf("plain %s: %d %q, want 403 without content", p, r.status, r.body)
		}
	}

	tok := issue(t, e, id, `{"ttl_seconds": 600}`)
	if want := "/hls/t/" + tok.Token + "/" + id + "/master.m3u8"; tok.PlaybackURL != want {
		t.Errorf("playback_url = %q, want %q", tok.PlaybackURL, want)
	}
	if want := clock.now().Add(600 * time.Second); !tok.ExpiresAt.Equal(want) {
		t.Errorf("expires_at = %v, want %v", tok.ExpiresAt, want)
	}

	// A player follows the relative URIs: they all keep the token.
	master := get(t, e, tok.PlaybackURL)
	if master.status != 200 || !bytes.HasPrefix(master.body, []byte("#EXTM3U")) {
		t.Fatalf("master: %d %s", master.status, master.body)
	}
	if cc := master.header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
		t.Errorf("signed playlist Cache-Control = %q, want private", cc)
	}
	variant := resolve(t, tok.PlaybackURL, "144p/index.m3u8")
	media := get(t, e, variant)
	if media.status != 200 || !bytes.Contains(media.body, []byte(`URI="../key"`)) {
		t.Fatalf("variant %s: %d %s", variant, media.status, media.body)
	}
	keyPath := resolve(t, variant, "../key")
	if want := "/hls/t/" + tok.Token + "/" + id + "/key"; keyPath != want {
		t.Fatalf("key resolves to %s, want %s", keyPath, want)
	}
	key := get(t, e, keyPath)
	if key.status != 200 || !bytes.Equal(key.body, testKey) || key.header.Get("Cache-Control") != "no-store" {
		t.Errorf("key: %d %q cache %q, want 200, the key, no-store", key.status, key.body, key.header.Get("Cache-Control"))
	}
	seg := get(t, e, resolve(t, variant, "seg_00001.ts"))
	if seg.status != 200 || seg.header.Get("Cache-Control") != "private, max-age=31536000, immutable" {
		t.Errorf("segment: %d cache %q, want 200 private immutable", seg.status, seg.header.Get("Cache-Control"))
	}

	// Refusals: all 403, same body, nothing of the media.
	otherTok := issue(t, e, other, ``)
	tampered := []byte(tok.Token)
	tampered[len(tampered)/3] ^= 1 // inside the payload
	if tampered[len(tampered)/3] == '.' {
		t.Fatal("flipped the separator")
	}
	sigFlip := []byte(tok.Token)
	if sigFlip[len(sigFlip)-2] == 'A' {
		sigFlip[len(sigFlip)-2] = 'B'
	} else {
		sigFlip[len(sigFlip)-2] = 'A'
	}
	otherKeyring, _ := signing.NewKeyring(signing.Key{ID: "k2", Secret: []byte("another-secret-0123456789")})
	unknownKid, _ := otherKeyring.Sign(signing.Claims{MediaID: id, Expiry: clock.now().Add(time.Hour)})
	sameKidWrongSecret, _ := signing.NewKeyring(signing.Key{ID: "k1", Secret: []byte("another-secret-0123456789")})
	forged, _ := sameKidWrongSecret.Sign(signing.Claims{MediaID: id, Expiry: clock.now().Add(time.Hour)})
	for name, token := range map[string]string{
		"other media's token":  otherTok.Token,
		"tampered payload":     string(tampered),
		"tampered signature":   string(sigFlip),
		"unknown key id":       unknownKid,
		"forged with a guess":  forged,
		"garbage":              "not-a-token",
		"payload only":         strings.Split(tok.Token, ".")[0],
		"signature swapped in": strings.Split(otherTok.Token, ".")[0] + "." + strings.Split(tok.Token, ".")[1],
	} {
		t.Run(name, func(t *testing.T) {
			for _, p := range []string{"master.m3u8", "144p/seg_00001.ts", "key"} {
				r := get(t, e, "/hls/t/"+token+"/"+id+"/"+p)
				if r.status != 403 || bytes.Contains(r.body, testKey) || bytes.Contains(r.body, []byte("segment-bytes")) {
					t.Errorf("%s: %d %q, want 403 without content", p, r.status, r.body)
				}
			}
		})
	}
	// The other media's own token plays the other media only.
	if r := get(t, e, otherTok.PlaybackURL); r.status != 200 {
		t.Errorf("other media with its token: %d", r.status)
	}

	// Expiry, by the server's clock.
	clock.add(599 * time.Second)
	if r := get(t, e, tok.PlaybackURL); r.status != 200 {
		t.Errorf("one second before expiry: %d, want 200", r.status)
	}
	clock.add(time.Second)
	if r := get(t, e, tok.PlaybackURL); r.status != 403 {
		t.Errorf("at expiry: %d, want 403", r.status)
	}
}

func TestPlaybackTokenBinding(t *testing.T) {
	e, _ := newSecEnv(t, nil)
	id := addPresentation(t, e, hlsd.VisibilitySigned, false)
	elsewhere := issue(t, e, id, `{"client_ip": "192.0.2.1"}`)
	if r := get(t, e, elsewhere.PlaybackURL); r.status != 403 {
		t.Errorf("token bound to 192.0.2.1 used from 127.0.0.1: %d, want 403", r.status)
	}
	here := issue(t, e, id, `{"client_ip": "127.0.0.1"}`)
	if r := get(t, e, here.PlaybackURL); r.status != 200 {
		t.Errorf("token bound to 127.0.0.1 used from it: %d, want 200", r.status)
	}
}

func TestPlaybackTokenRequests(t *testing.T) {
	e, clock := newSecEnv(t, func(c *Config) { c.MaxTokenTTL = time.Hour })
	id := addPresentation(t, e, hlsd.VisibilitySigned, false)
	tests := []struct {
		name, id, body string
		status         int
		code, msg      string
	}{
		{"negative ttl", id, `{"ttl_seconds": -5}`, 400, hlsd.EINVALID, "ttl_seconds must be from 1 to 3600"},
		{"ttl over the maximum", id, `{"ttl_seconds": 3601}`, 400, hlsd.EINVALID, "from 1 to 3600"},
		{"ttl as a string", id, `{"ttl_seconds": "60"}`, 400, hlsd.EINVALID, "ttl_seconds"},
		{"unknown field", id, `{"ttl": 60}`, 400, hlsd.EINVALID, `unknown field "ttl"`},
		{"bad client ip", id, `{"client_ip": "localhost"}`, 400, hlsd.EINVALID, "not an IP address"},
		{"unknown media", "zzzzzzzzzzzz", `{}`, 404, hlsd.ENOTFOUND, "not found"},
		{"malformed id", "..", `{}`, 404, hlsd.ENOTFOUND, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, apiReq{method: "POST", path: "/api/v1/media/" + tt.id + "/playback-tokens", body: strings.NewReader(tt.body),
				header: map[string]string{"Content-Type": "application/json"}})
			if tt.id == ".." {
				if r.status != 400 && r.status != 404 {
					t.Errorf("status %d, want 400 or 404", r.status)
				}
				return
			}
			r.wantError(t, tt.status, tt.code, tt.msg)
		})
	}
	t.Run("default ttl is capped by the maximum", func(t *testing.T) {
		e2, clock2 := newSecEnv(t, func(c *Config) { c.MaxTokenTTL = 10 * time.Minute })
		id2 := addPresentation(t, e2, hlsd.VisibilitySigned, false)
		tok := issue(t, e2, id2, ``)
		if want := clock2.now().Add(10 * time.Minute); !tok.ExpiresAt.Equal(want) {
			t.Errorf("expires_at = %v, want %v", tok.ExpiresAt, want)
		}
	})
	t.Run("empty body takes the default", func(t *testing.T) {
		tok := issue(t, e, id, ``)
		if want := clock.now().Add(DefaultTokenTTL); !tok.ExpiresAt.Equal(want) {
			t.Errorf("expires_at = %v, want %v", tok.ExpiresAt, want)
		}
	})
	t.Run("unauthenticated", func(t *testing.T) {
		r := e.do(t, apiReq{method: "POST", path: "/api/v1/media/" + id + "/playback-tokens", noAuth: true})
		r.wantError(t, 401, hlsd.EUNAUTHORIZED, "missing API token")
	})
}

func TestVisibilityChanges(t *testing.T) {
	e, _ := newSecEnv(t, nil)
	id := addPresentation(t, e, hlsd.VisibilityPublic, true)
	plain := "/hls/" + id + "/master.m3u8"
	if r := get(t, e, plain); r.status != 200 {
		t.Fatalf("public media: %d", r.status)
	}
	// The key of an encrypted public media is public too.
	if r := get(t, e, "/hls/"+id+"/key"); r.status != 200 || !bytes.Equal(r.body, testKey) {
		t.Errorf("public key: %d %q", r.status, r.body)
	}
	patch := func(body string) apiResp {
		return e.do(t, apiReq{method: "PATCH", path: "/api/v1/media/" + id, body: strings.NewReader(body),
			header: map[string]string{"Content-Type": "application/json"}})
	}
	r := patch(`{"visibility": "signed"}`)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"visibility":"signed"`)) {
		t.Fatalf("PATCH signed: %d %s", r.status, r.body)
	}
	// Delivery sees the change at once (the cache entry was dropped).
	if r := get(t, e, plain); r.status != 403 {
		t.Errorf("after PATCH signed: %d, want 403", r.status)
	}
	if r := get(t, e, "/hls/"+id+"/key"); r.status != 403 {
		t.Errorf("key after PATCH signed: %d, want 403", r.status)
	}
	patch(`{"visibility": "public", "title": "open again"}`)
	if r := get(t, e, plain); r.status != 200 {
		t.Errorf("after PATCH public: %d, want 200", r.status)
	}
	if m, _ := e.lib.Get(context.Background(), id); m.Title != "open again" {
		t.Errorf("title = %q, want both fields applied", m.Title)
	}
	patch(`{"visibility": "private"}`).wantError(t, 400, hlsd.EINVALID, "public or signed")
	patch(`{"visibility": "signed", "owner": "me"}`).wantError(t, 400, hlsd.EINVALID, `unknown field "owner"`)
	if r := get(t, e, plain); r.status != 200 {
		t.Errorf("refused PATCHes changed visibility: %d", r.status)
	}
	// Deleting forgets the cached visibility: the id is unknown at once.
	e.do(t, apiReq{method: "DELETE", path: "/api/v1/media/" + id})
	if r := get(t, e, plain); r.status != 404 {
		t.Errorf("after DELETE: %d, want 404", r.status)
	}
	if _, err := os.Stat(e.lib.Layout().KeyFile(id)); !os.IsNotExist(err) {
		t.Errorf("key file after DELETE: %v, want removed", err)
	}
	// A media that is not encrypted has no key.
	plainID := addPresentation(t, e, hlsd.VisibilityPublic, false)
	if r := get(t, e, "/hls/"+plainID+"/key"); r.status != 404 {
		t.Errorf("key of an unencrypted media: %d, want 404", r.status)
	}
}

func TestUploadVisibility(t *testing.T) {
	src, err := os.ReadFile(testmedia.Path(t, "short.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	upload := func(e *apiEnv, query string) apiResp {
		return e.do(t, apiReq{method: "POST", path: "/api/v1/media?filename=a.mp4" + query, body: bytes.NewReader(src)})
	}
	decode := func(r apiResp) MediaObject {
		var m MediaObject
		if r.status != 201 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		json.Unmarshal(r.body, &m)
		return m
	}
	e, _ := newSecEnv(t, nil)
	tests := []struct {
		query      string
		visibility string
		encrypted  bool
	}{
		{"", "public", false},
		{"&visibility=signed", "signed", false},
		{"&visibility=public&encrypt=true", "public", true},
		{"&encrypt=1&visibility=signed", "signed", true},
	}
	for _, tt := range tests {
		t.Run("query"+tt.query, func(t *testing.T) {
			m := decode(upload(e, tt.query))
			if m.Visibility != tt.visibility || m.Encrypted != tt.encrypted {
				t.Errorf("visibility %q encrypted %v, want %q %v", m.Visibility, m.Encrypted, tt.visibility, tt.encrypted)
			}
		})
	}
	upload(e, "&visibility=hidden").wantError(t, 400, hlsd.EINVALID, "visibility must be public or signed")
	upload(e, "&encrypt=maybe").wantError(t, 400, hlsd.EINVALID, "encrypt must be true or false")

	t.Run("server defaults", func(t *testing.T) {
		e, _ := newSecEnv(t, func(c *Config) { c.DefaultVisibility = hlsd.VisibilitySigned; c.EncryptByDefault = true })
		m := decode(upload(e, ""))
		if m.Visibility != "signed" || !m.Encrypted {
			t.Errorf("default upload: %q %v, want signed and encrypted", m.Visibility, m.Encrypted)
		}
		m = decode(upload(e, "&visibility=public&encrypt=false"))
		if m.Visibility != "public" || m.Encrypted {
			t.Errorf("upload overriding defaults: %q %v, want public, clear", m.Visibility, m.Encrypted)
		}
	})
	t.Run("tus metadata", func(t *testing.T) {
		r, path := e.tusCreate(t, len(src), map[string]string{"filename": "a.mp4", "visibility": "signed", "encrypt": "true"})
		if r.status != 201 {
			t.Fatalf("tus create: %d %s", r.status, r.body)
		}
		done := e.tusPatch(t, path, 0, string(src))
		id := done.header.Get(HeaderMediaID)
		m, err := e.lib.Get(context.Background(), id)
		if err != nil || m.Visibility != "signed" || !m.Encrypted {
			t.Fatalf("tus media %q: %+v %v, want signed and encrypted", id, m, err)
		}
		r, _ = e.tusCreate(t, 10, map[string]string{"visibility": "everyone"})
		r.wantError(t, 400, hlsd.EINVALID, "visibility must be public or signed")
	})
}

// BenchmarkSegmentWithLibrary is a public media's segment request with a
// library, so with the visibility check (one cached map read), up to the
// body copy; compare with BenchmarkSegment (no library, no check).
func BenchmarkSegmentWithLibrary(b *testing.B) {
	data := b.TempDir()
	lib, err := newLibrary(b, library.Config{DataDir: data})
	if err != nil {
		b.Fatal(err)
	}
	defer lib.Stop(context.Background())
	srv, err := New(Config{DataDir: data, Library: lib, APIToken: apiTestToken})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	m := &hlsd.Media{Title: "bench", Status: hlsd.StatusReady}
	if err := lib.Catalog().CreateMedia(context.Background(), m); err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(data, "media", m.ID, "360p")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "seg_00001.m4s"), bytes.Repeat([]byte("x"), 1<<16), 0o644)
	req := httptest.NewRequest("GET", "/hls/"+m.ID+"/360p/seg_00001.m4s", nil)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		srv.ServeHTTP(w, req)
	}
	if w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
}

type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(c int)           { w.code = c }
