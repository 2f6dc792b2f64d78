package server

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(2, 3) // 2 per second, bursts of 3
	for i := range 3 {
		if ok, _ := l.allow("a", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a", t0)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th request = %v, wait %v; want refused, 500ms", ok, wait)
	}
	if ok, _ := l.allow("b", t0); !ok {
		t.Errorf("another client is limited by the first one's use")
	}
	if ok, _ := l.allow("a", t0.Add(499*time.Millisecond)); ok {
		t.Errorf("allowed before a token was back")
	}
	if ok, _ := l.allow("a", t0.Add(time.Second)); !ok {
		t.Errorf("refused once a token was back")
	}
	// A long idle time refills to the burst, not beyond.
	later := t0.Add(time.Hour)
	for i := range 3 {
		if ok, _ := l.allow("a", later); !ok {
			t.Fatalf("after idling, request %d refused", i+1)
		}
	}
	if ok, _ := l.allow("a", later); ok {
		t.Errorf("idle time gave more than the burst")
	}
}

func TestLimiterPrune(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(1, 1)
	for i := range maxBuckets {
		l.allow(strconv.Itoa(i), t0)
	}
	l.allow("new", t0.Add(time.Hour)) // every old bucket is full again: dropped
	if n := len(l.buckets); n != 1 {
		t.Errorf("after prune %d buckets, want 1", n)
	}
	for i := range maxBuckets {
		l.allow(strconv.Itoa(i), t0.Add(time.Hour))
	}
	l.allow("newer", t0.Add(time.Hour)) // all active: half dropped
	if n := len(l.buckets); n > maxBuckets/2+2 {
		t.Errorf("after prune of active clients %d buckets, want at most %d", n, maxBuckets/2+2)
	}
}

// TestRateLimits drives the limits through the real server: the fixed
// test clock never refills a bucket, so the counts are exact.
func TestRateLimits(t *testing.T) {
	t.Run("api", func(t *testing.T) {
		e, clock := newSecEnv(t, func(c *Config) { c.Limits = Limits{APIRate: 1, APIBurst: 3, AuthRate: -1, UploadsPerHour: -1} })
		for i := range 3 {
			if r := e.do(t, apiReq{method: "GET", path: "/api/v1/media"}); r.status != 200 {
				t.Fatalf("request %d: %d", i+1, r.status)
			}
		}
		r := e.do(t, apiReq{method: "GET", path: "/api/v1/media"})
		r.wantError(t, 429, "rate_limited", "Too many API requests")
		if ra := r.header.Get("Retry-After"); ra != "1" {
			t.Errorf("Retry-After = %q, want 1", ra)
		}
		// Unauthenticated requests count too (guessing the token).
		e.do(t, apiReq{method: "GET", path: "/api/v1/media", noAuth: true}).wantError(t, 429, "rate_limited", "")
		// Preflights and delivery are not limited.
		if r := e.do(t, apiReq{method: "OPTIONS", path: "/api/v1/media", noAuth: true}); r.status != 204 {
			t.Errorf("preflight: %d, want 204", r.status)
		}
		if r := get(t, e, "/healthz"); r.status != 200 {
			t.Errorf("healthz: %d", r.status)
		}
		clock.add(time.Second)
		if r := e.do(t, apiReq{method: "GET", path: "/api/v1/media"}); r.status != 200 {
			t.Errorf("a second later: %d, want 200", r.status)
		}
	})
	t.Run("tokens and sign-in", func(t *testing.T) {
		e, _ := newSecEnv(t, func(c *Config) { c.Limits = Limits{APIRate: -1, AuthRate: 0.5, AuthBurst: 2, UploadsPerHour: -1} })
		id := addPresentation(t, e, hlsd.VisibilitySigned, false)
		issue(t, e, id, ``)
		issue(t, e, id, ``)
		r := e.do(t, apiReq{method: "POST", path: "/api/v1/media/" + id + "/playback-tokens"})
		r.wantError(t, 429, "rate_limited", "token")
		if ra := r.header.Get("Retry-After"); ra != "2" {
			t.Errorf("Retry-After = %q, want 2 (one token every 2 s)", ra)
		}
		// Sign-in shares the bucket: it is the same kind of credential.
		lr := e.do(t, apiReq{method: "POST", path: "/login", body: strings.NewReader(`{"token":"x"}`), noAuth: true,
			header: map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}})
		if lr.status != 429 {
			t.Errorf("sign-in after the token burst: %d, want 429", lr.status)
		}
		// Other API calls are not held back by the auth limit.
		if r := e.do(t, apiReq{method: "GET", path: "/api/v1/media"}); r.status != 200 {
			t.Errorf("listing: %d, want 200", r.status)
		}
	})
	t.Run("uploads per hour", func(t *testing.T) {
		e, clock := newSecEnv(t, func(c *Config) { c.Limits = Limits{APIRate: -1, AuthRate: -1, UploadsPerHour: 2} })
		up := func() apiResp {
			return e.do(t, apiReq{method: "POST", path: "/api/v1/media?filename=a.bin", body: strings.NewReader("not media, but bytes")})
		}
		for i := range 2 {
			if r := up(); r.status != 201 {
				t.Fatalf("upload %d: %d %s", i+1, r.status, r.body)
			}
		}
		r := up()
		r.wantError(t, 429, "rate_limited", "uploads")
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra != 1800 {
			t.Errorf("Retry-After = %d, want 1800 (one upload every 30 min)", ra)
		}
		// tus creation counts too; tus chunks (PATCH) do not.
		tr, _ := e.tusCreate(t, 10, nil)
		tr.wantError(t, 429, "rate_limited", "uploads")
		clock.add(30 * time.Minute)
		if r := up(); r.status != 201 {
			t.Errorf("half an hour later: %d, want 201", r.status)
		}
	})
}

func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	first, second := <-accepted, <-accepted
	// Two connections hold both slots: the third waits in the backlog
	// until one of them closes (white-box: the semaphore is full).
	if n := len(ln.sem); n != 2 {
		t.Fatalf("%d slots taken, want 2", n)
	}
	first.Close()
	first.Close() // a second Close must not free a second slot
	third := <-accepted
	if len(ln.sem) != 2 {
		t.Errorf("after one close and one accept, %d slots taken, want 2", len(ln.sem))
	}
	second.Close()
	third.Close()
	ln.Close()
	if _, ok := <-accepted; ok {
		t.Errorf("Accept returned a connection after Close")
	}
	if len(ln.sem) != 0 {
		t.Errorf("%d slots still taken after every connection closed", len(ln.sem))
	}
}

func TestPageHeaders(t *testing.T) {
	e, _ := newSecEnv(t, func(c *Config) { c.FrameAncestors = []string{"https://blog.example", "https://*.example.org"} })
	id := addPresentation(t, e, hlsd.VisibilityPublic, false)
	tests := []struct {
		path, frameAncestors string
	}{
		{"/login", "frame-ancestors 'none'"},
		{"/embed/" + id, "frame-ancestors https://blog.example https://*.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := get(t, e, tt.path)
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			csp := r.header.Get("Content-Security-Policy")
			if !strings.HasSuffix(csp, tt.frameAncestors) || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("CSP = %q, want the UI policy ending %q", csp, tt.frameAncestors)
			}
			if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Referrer-Policy") == "" {
				t.Errorf("headers %v, want nosniff and a Referrer-Policy", r.header)
			}
		})
	}
	if _, err := newPageHeaders([]string{"javascript:alert(1)"}); err == nil {
		t.Errorf("a frame ancestor that is not an origin was accepted")
	}
	if _, err := newPageHeaders([]string{"https://a.example; script-src *"}); err == nil {
		t.Errorf("a frame ancestor smuggling a directive was accepted")
	}
}

func TestRateLimitExempt(t *testing.T) {
	for _, tt := range []struct {
		name   string
		exempt []netip.Prefix
		want   int
	}{
		{"loopback exempt", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, 200},
		{"other network exempt", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, 429},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newSecEnv(t, func(c *Config) {
				c.Limits = Limits{APIRate: 1, APIBurst: 1, AuthRate: -1, UploadsPerHour: -1, Exempt: tt.exempt}
			})
			e.do(t, apiReq{method: "GET", path: "/api/v1/media"})
			if r := e.do(t, apiReq{method: "GET", path: "/api/v1/media"}); r.status != tt.want {
				t.Errorf("second request from 127.0.0.1: %d, want %d", r.status, tt.want)
			}
		})
	}
}
