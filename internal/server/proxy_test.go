package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// proxyEnv is a server behind a (simulated) reverse proxy on loopback:
// requests come from 127.0.0.1 with forwarding headers. trusted is
// --trusted-proxies; loopback is --rate-limit-exempt as by default.
func proxyEnv(t *testing.T, trusted []netip.Prefix) (*apiEnv, *syncBuffer) {
	t.Helper()
	var logs syncBuffer
	e, _ := newSecEnv(t, func(c *Config) {
		c.TrustedProxies = trusted
		c.Limits = Limits{APIRate: 1, APIBurst: 2, AuthRate: -1, UploadsPerHour: -1, Exempt: loopback}
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.AccessLog = true
	})
	return e, &logs
}

func TestTrustedProxies(t *testing.T) {
	list := func(e *apiEnv, xff string) int {
		return e.do(t, apiReq{method: "GET", path: "/api/v1/media", header: map[string]string{"X-Forwarded-For": xff}}).status
	}
	t.Run("untrusted peer: headers ignored", func(t *testing.T) {
		e, logs := proxyEnv(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
		for i := range 5 {
			// The peer is 127.0.0.1 (exempt); a forged header changes nothing.
			if s := list(e, "203.0.113.7"); s != 200 {
				t.Fatalf("request %d: %d, want 200 (loopback exempt, header ignored)", i, s)
			}
		}
		if strings.Contains(logs.String(), "203.0.113.7") || !strings.Contains(logs.String(), "remote=127.0.0.1") {
			t.Errorf("log trusts a header from an untrusted peer:\n%s", logs.String())
		}
	})
	t.Run("trusted proxy on loopback does not exempt its clients", func(t *testing.T) {
		e, logs := proxyEnv(t, loopback)
		for i := range 2 {
			if s := list(e, "203.0.113.7"); s != 200 {
				t.Fatalf("request %d: %d", i, s)
			}
		}
		if s := list(e, "203.0.113.7"); s != 429 {
			t.Errorf("third request of a client behind the proxy: %d, want 429", s)
		}
		// Another client behind the same proxy has its own bucket.
		if s := list(e, "203.0.113.8"); s != 200 {
			t.Errorf("another client: %d, want 200", s)
		}
		// A client cannot claim to be loopback (or another client): the
		// entries left of the proxy's own are the client's, unproven.
		if s := list(e, "127.0.0.1, 203.0.113.7"); s != 429 {
			t.Errorf("client prepending 127.0.0.1: %d, want 429 (still 203.0.113.7)", s)
		}
		// A local tool through the proxy is exempt, as it would be directly.
		for range 3 {
			if s := list(e, "127.0.0.1"); s != 200 {
				t.Errorf("local client through the proxy: %d, want 200 (exempt)", s)
			}
		}
		// Two proxies in a row (both trusted): the client is before them.
		if s := list(e, "203.0.113.9, 127.0.0.2"); s != 200 {
			t.Errorf("client behind two proxies: %d, want 200", s)
		}
		if !strings.Contains(logs.String(), "remote=203.0.113.7") {
			t.Errorf("access log does not show the client address:\n%s", logs.String())
		}
	})
	t.Run("Forwarded", func(t *testing.T) {
		e, logs := proxyEnv(t, loopback)
		fwd := map[string]string{"Forwarded": `for=198.51.100.1, for="[2001:db8::1]:4711";proto=https`}
		for range 2 {
			e.do(t, apiReq{method: "GET", path: "/api/v1/media", header: fwd})
		}
		if r := e.do(t, apiReq{method: "GET", path: "/api/v1/media", header: fwd}); r.status != 429 {
			t.Errorf("third request: %d, want 429", r.status)
		}
		if !strings.Contains(logs.String(), "remote=2001:db8::1") {
			t.Errorf("access log does not show the Forwarded client:\n%s", logs.String())
		}
	})
}

// TestTrustedProxyHTTPS: behind a TLS-terminating trusted proxy the session
// cookie is Secure and tus' absolute upload URLs are https; the same
// headers from anyone else change nothing.
func TestTrustedProxyHTTPS(t *testing.T) {
	login := func(e *apiEnv, h map[string]string) *http.Cookie {
		h["Content-Type"] = "application/json"
		h["Sec-Fetch-Site"] = "same-origin"
		r := e.do(t, apiReq{method: "POST", path: "/login", body: strings.NewReader(`{"token":"` + apiTestToken + `"}`), noAuth: true, header: h})
		res := http.Response{Header: r.header}
		if r.status != 200 || len(res.Cookies()) != 1 {
			t.Fatalf("sign-in: %d %s", r.status, r.body)
		}
		return res.Cookies()[0]
	}
	tusLocation := func(e *apiEnv, h map[string]string) string {
		h["Tus-Resumable"] = "1.0.0"
		h["Upload-Length"] = "10"
		r := e.do(t, apiReq{method: "POST", path: "/api/v1/uploads", header: h})
		if r.status != 201 {
			t.Fatalf("tus create: %d %s", r.status, r.body)
		}
		return r.header.Get("Location")
	}
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		header  map[string]string
		https   bool
	}{
		{"trusted, X-Forwarded-Proto", loopback, map[string]string{"X-Forwarded-Proto": "https"}, true},
		{"trusted, Forwarded", loopback, map[string]string{"Forwarded": "for=203.0.113.7;proto=https"}, true},
		{"trusted, plain http", loopback, map[string]string{"X-Forwarded-Proto": "http"}, false},
		{"untrusted", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, map[string]string{"X-Forwarded-Proto": "https"}, false},
		{"no trusted proxies", nil, map[string]string{"X-Forwarded-Proto": "https"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := proxyEnv(t, tt.trusted)
			h := func() map[string]string {
				m := map[string]string{}
				for k, v := range tt.header {
					m[k] = v
				}
				return m
			}
			if c := login(e, h()); c.Secure != tt.https {
				t.Errorf("session cookie Secure = %v, want %v", c.Secure, tt.https)
			}
			loc := tusLocation(e, h())
			if strings.HasPrefix(loc, "https://") != tt.https {
				t.Errorf("tus Location %q, want https: %v", loc, tt.https)
			}
		})
	}
}

// TestPlaybackTokenBehindProxy: a token bound to a client address plays for
// that client behind a trusted proxy, and for no one else behind it.
func TestPlaybackTokenBehindProxy(t *testing.T) {
	e, _ := proxyEnv(t, loopback)
	id := addPresentation(t, e, hlsd.VisibilitySigned, false)
	tok := issue(t, e, id, `{"client_ip":"203.0.113.7"}`)
	play := func(xff string) int {
		return e.do(t, apiReq{method: "GET", path: tok.PlaybackURL, noAuth: true, header: map[string]string{"X-Forwarded-For": xff}}).status
	}
	if s := play("203.0.113.7"); s != 200 {
		t.Errorf("bound client behind the proxy: %d, want 200", s)
	}
	if s := play("203.0.113.8"); s != 403 {
		t.Errorf("other client behind the proxy: %d, want 403", s)
	}
}

// TestSessionRevocation: signing out ends the session on the server (a
// copy of the cookie no longer works), across a restart; a new API token
// ends every session.
func TestSessionRevocation(t *testing.T) {
	data := t.TempDir()
	lib, err := newLibrary(t, library.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Stop(context.Background()) })
	start := func(token string) *apiEnv {
		srv, err := New(Config{DataDir: data, Library: lib, APIToken: token})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv)
		t.Cleanup(func() { ts.Close(); srv.Close() })
		return &apiEnv{srv: srv, lib: lib, ts: ts, data: data}
	}
	same := map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}
	login := func(e *apiEnv, token string) string {
		r := e.do(t, apiReq{method: "POST", path: "/login", body: strings.NewReader(`{"token":"` + token + `"}`), noAuth: true, header: same})
		c := (&http.Response{Header: r.header}).Cookies()
		if r.status != 200 || len(c) != 1 {
			t.Fatalf("sign-in: %d %s", r.status, r.body)
		}
		return SessionCookie + "=" + c[0].Value
	}
	list := func(e *apiEnv, cookie string) int {
		return e.do(t, apiReq{method: "GET", path: "/api/v1/media", noAuth: true, header: map[string]string{"Cookie": cookie}}).status
	}
	e := start(apiTestToken)
	gone, kept := login(e, apiTestToken), login(e, apiTestToken)
	if s := list(e, gone); s != 200 {
		t.Fatalf("signed in: %d", s)
	}
	r := e.do(t, apiReq{method: "POST", path: "/logout", noAuth: true, header: map[string]string{"Cookie": gone, "Sec-Fetch-Site": "same-origin"}})
	if r.status >= 400 { // 303 to /login, followed by the client
		t.Fatalf("sign out: %d", r.status)
	}
	if s := list(e, gone); s != 401 {
		t.Errorf("a copy of the signed-out cookie: %d, want 401", s)
	}
	if s := list(e, kept); s != 200 {
		t.Errorf("another browser's session after one signed out: %d, want 200", s)
	}

	e = start(apiTestToken) // a restart
	if s := list(e, gone); s != 401 {
		t.Errorf("signed-out cookie after a restart: %d, want 401", s)
	}
	if s := list(e, kept); s != 200 {
		t.Errorf("live session after a restart: %d, want 200", s)
	}

	e = start("another-api-token-0123456789") // the token rotated
	if s := list(e, kept); s != 401 {
		t.Errorf("session after the API token changed: %d, want 401", s)
	}
}

// TestRefusedBearerTokens: wrong bearer tokens count against the sign-in
// limit; once it is used up the address gets 429 even with the right
// token (so guessing is as slow as through the sign-in form), and each
// refusal is logged once with the client's address.
func TestRefusedBearerTokens(t *testing.T) {
	var logs syncBuffer
	e, _ := newSecEnv(t, func(c *Config) {
		c.Limits = Limits{APIRate: -1, AuthRate: 0.5, AuthBurst: 3, UploadsPerHour: -1}
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	wrong := func() apiResp {
		return e.do(t, apiReq{method: "GET", path: "/api/v1/media", noAuth: true, header: map[string]string{"Authorization": "Bearer guess-0123456789"}})
	}
	for i := range 3 {
		if r := wrong(); r.status != 401 {
			t.Fatalf("wrong token %d: %d, want 401", i+1, r.status)
		}
	}
	wrong().wantError(t, 429, "rate_limited", "refused credentials")
	e.do(t, apiReq{method: "GET", path: "/api/v1/media"}).wantError(t, 429, "rate_limited", "")
	lr := e.do(t, apiReq{method: "POST", path: "/login", body: strings.NewReader(`{"token":"` + apiTestToken + `"}`), noAuth: true,
		header: map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}})
	if lr.status != 429 {
		t.Errorf("sign-in after refused bearer tokens: %d, want 429", lr.status)
	}
	if n := strings.Count(logs.String(), "credential refused"); n != 3 {
		t.Errorf("%d refusals logged, want 3 (one per refused credential):\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "remote=127.0.0.1"); n < 3 {
		t.Errorf("refusals logged without the client address:\n%s", logs.String())
	}
}
