package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/library"
)

// uiClient does not follow redirects, so tests see them.
func uiClient(e *apiEnv) *http.Client {
	c := *e.ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// uiDo sends a request as a browser on hlsd's own page would (Sec-Fetch-Site
// same-origin) unless header overrides it, with the session cookie when
// cookie is set.
func uiDo(t *testing.T, e *apiEnv, method, path, contentType, body string, cookie *http.Cookie, header map[string]string) apiResp {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	res, err := uiClient(e).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResp{status: res.StatusCode, header: res.Header, body: b}
}

// signIn posts the sign-in form with the right token and returns the
// session cookie.
func signIn(t *testing.T, e *apiEnv) *http.Cookie {
	t.Helper()
	r := uiDo(t, e, "POST", "/login", "application/x-www-form-urlencoded", url.Values{"token": {apiTestToken}}.Encode(), nil, nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign in: status %d, want 303\n%s", r.status, r.body)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == SessionCookie && c.Value != "" {
			return c
		}
	}
	t.Fatalf("sign in set no session cookie: %q", r.header["Set-Cookie"])
	return nil
}

// wantPageHeaders checks the security and caching headers of a UI page.
func wantPageHeaders(t *testing.T, r apiResp, embed bool) {
	t.Helper()
	want := map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "media-src 'self' blob:", "worker-src 'self' blob:", "connect-src 'self'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "http:") || strings.Contains(csp, "https:") {
		t.Errorf("Content-Security-Policy %q allows more than 'self' and blob:", csp)
	}
	if embed {
		if !strings.Contains(csp, "frame-ancestors *") || r.header.Get("X-Frame-Options") != "" {
			t.Errorf("embed page: CSP %q, X-Frame-Options %q; want it framable by any site", csp, r.header.Get("X-Frame-Options"))
		}
	} else if !strings.Contains(csp, "frame-ancestors 'none'") || r.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("page: CSP %q, X-Frame-Options %q; want it never framed", csp, r.header.Get("X-Frame-Options"))
	}
}

var assetRE = regexp.MustCompile(`(?:href|src)="(/assets/[^"#]+)`)

// wantAssets checks that every asset a page references is served, with the
// right type, a validator and a year of immutable caching.
func wantAssets(t *testing.T, e *apiEnv, page []byte) {
	t.Helper()
	refs := assetRE.FindAllSubmatch(page, -1)
	if len(refs) == 0 {
		t.Fatalf("page references no assets:\n%s", page)
	}
	for _, m := range refs {
		p := string(m[1])
		r := uiDo(t, e, "GET", p, "", "", nil, nil)
		if r.status != http.StatusOK {
			hint := ""
			if strings.Contains(p, "/vendor/") {
				hint = " (third-party library: run `make web`, i.e. npm ci && npm run build in web/)"
			}
			t.Errorf("GET %s: status %d%s", p, r.status, hint)
			continue
		}
		if cc := r.header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q, want a year, immutable", p, cc)
		}
		if r.header.Get("Etag") == "" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: ETag %q, X-Content-Type-Options %q", p, r.header.Get("Etag"), r.header.Get("X-Content-Type-Options"))
		}
		ct := r.header.Get("Content-Type")
		switch {
		case strings.HasSuffix(p, ".js") && ct != "text/javascript; charset=utf-8",
			strings.HasSuffix(p, ".css") && ct != "text/css; charset=utf-8",
			strings.HasSuffix(p, ".svg") && ct != "image/svg+xml":
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
	}
}

func TestUISignedOutRedirects(t *testing.T) {
	e := newAPIEnv(t, 0)
	tests := []struct{ name, path, want string }{
		{"library", "/", "/login?next=%2F"},
		{"watch", "/watch/abcdefghijkl", "/login?next=%2Fwatch%2Fabcdefghijkl"},
		{"library with a search", "/?q=cat", "/login?next=%2F%3Fq%3Dcat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := uiDo(t, e, "GET", tt.path, "", "", nil, nil)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != tt.want {
				t.Errorf("GET %s signed out: %d to %q, want 303 to %q", tt.path, r.status, r.header.Get("Location"), tt.want)
			}
		})
	}
	t.Run("a forged cookie is no session", func(t *testing.T) {
		r := uiDo(t, e, "GET", "/", "", "", &http.Cookie{Name: SessionCookie, Value: "AAAAAGsO7MpI4BWHl9QPpVP6fxAwSTK6rfTjM0Rr45OdTXerHm9XUw"}, nil)
		if r.status != http.StatusSeeOther {
			t.Errorf("GET / with a forged cookie: %d, want 303 to sign in", r.status)
		}
	})
}

func TestUILogin(t *testing.T) {
	e := newAPIEnv(t, 0)
	form := func(token, next string) string { return url.Values{"token": {token}, "next": {next}}.Encode() }
	const formType = "application/x-www-form-urlencoded"

	t.Run("page", func(t *testing.T) {
		r := uiDo(t, e, "GET", "/login?next=%2Fwatch%2Fabcdefghijkl", "", "", nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET /login: %d", r.status)
		}
		wantPageHeaders(t, r, false)
		for _, s := range []string{`<label for="token">API token</label>`, `type="password"`, `name="next" value="/watch/abcdefghijkl"`} {
			if !bytes.Contains(r.body, []byte(s)) {
				t.Errorf("sign-in page lacks %s", s)
			}
		}
		wantAssets(t, e, r.body)
	})

	failures := []struct {
		name, contentType, body string
		header                  map[string]string
		status                  int
		msg                     string
	}{
		{"wrong token", formType, form("nope", "/"), nil, 401, "That token is not right"},
		{"empty token", formType, form("", "/"), nil, 401, "Enter the API token"},
		{"from another site", formType, form(apiTestToken, "/"), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "not sent from this server"},
		{"no origin at all", formType, form(apiTestToken, "/"), map[string]string{"Sec-Fetch-Site": ""}, 403, "not sent from this server"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			r := uiDo(t, e, "POST", "/login", tt.contentType, tt.body, nil, tt.header)
			if r.status != tt.status {
				t.Errorf("status %d, want %d", r.status, tt.status)
			}
			if !bytes.Contains(r.body, []byte(tt.msg)) || !bytes.Contains(r.body, []byte(`role="alert"`)) {
				t.Errorf("page does not show %q as an alert:\n%s", tt.msg, r.body)
			}
			if sc := r.header.Get("Set-Cookie"); sc != "" {
				t.Errorf("failed sign-in set a cookie: %s", sc)
			}
			wantPageHeaders(t, r, false)
		})
	}

	t.Run("json, wrong token", func(t *testing.T) {
		r := uiDo(t, e, "POST", "/login", "application/json", `{"token":"nope"}`, nil, nil)
		r.wantError(t, 401, "unauthorized", "not right")
	})
	t.Run("json, right token", func(t *testing.T) {
		r := uiDo(t, e, "POST", "/login", "application/json", `{"token":"`+apiTestToken+`"}`, nil, nil)
		if r.status != 200 || !strings.Contains(r.header.Get("Set-Cookie"), SessionCookie+"=") {
			t.Errorf("status %d, Set-Cookie %q; want 200 with the session", r.status, r.header.Get("Set-Cookie"))
		}
	})

	nexts := []struct{ name, next, want string }{
		{"back to the page asked for", "/watch/abcdefghijkl?t=3", "/watch/abcdefghijkl?t=3"},
		{"no next", "", "/"},
		{"another site", "//evil.example/x", "/"},
		{"another site, backslash", "/\\evil.example", "/"},
		{"absolute URL", "https://evil.example/", "/"},
	}
	for _, tt := range nexts {
		t.Run("right token, "+tt.name, func(t *testing.T) {
			r := uiDo(t, e, "POST", "/login", formType, form(apiTestToken, tt.next), nil, nil)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != tt.want {
				t.Fatalf("sign in: %d to %q, want 303 to %q", r.status, r.header.Get("Location"), tt.want)
			}
			cookies := (&http.Response{Header: r.header}).Cookies()
			if len(cookies) != 1 || cookies[0].Name != SessionCookie || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
				t.Errorf("cookie %+v, want one HttpOnly SameSite=Strict %s", cookies, SessionCookie)
			}
		})
	}

	t.Run("signed in, the page goes on", func(t *testing.T) {
		c := signIn(t, e)
		r := uiDo(t, e, "GET", "/login?next=%2Fwatch%2Fabcdefghijkl", "", "", c, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/watch/abcdefghijkl" {
			t.Errorf("GET /login signed in: %d to %q", r.status, r.header.Get("Location"))
		}
	})
}

func TestUILogout(t *testing.T) {
	e := newAPIEnv(t, 0)
	c := signIn(t, e)
	t.Run("from another site", func(t *testing.T) {
		r := uiDo(t, e, "POST", "/logout", "", "", c, map[string]string{"Sec-Fetch-Site": "cross-site"})
		if r.status != http.StatusForbidden || r.header.Get("Set-Cookie") != "" {
			t.Errorf("cross-site sign out: %d, Set-Cookie %q; want 403 and the session kept", r.status, r.header.Get("Set-Cookie"))
		}
	})
	t.Run("from the page", func(t *testing.T) {
		r := uiDo(t, e, "POST", "/logout", "", "", c, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Errorf("sign out: %d to %q, want 303 to /login", r.status, r.header.Get("Location"))
		}
		sc := r.header.Get("Set-Cookie")
		if !strings.HasPrefix(sc, SessionCookie+"=;") || !strings.Contains(sc, "Max-Age=0") {
			t.Errorf("sign out Set-Cookie %q, want the session expired", sc)
		}
	})
}

func TestUIPages(t *testing.T) {
	e := newAPIEnv(t, 0)
	c := signIn(t, e)
	m, err := e.lib.Create(context.Background(), strings.NewReader("not really media"), library.Upload{Filename: "Holiday <2024>.mp4"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, path string
		cookie     *http.Cookie
		status     int
		embed      bool
		contains   []string
	}{
		{"library", "/", c, 200, false, []string{`id="file"`, `multiple`, `<label for="q"`, `id="empty"`, `action="/logout"`}},
		{"watch", "/watch/" + m.ID, c, 200, false, []string{`data-id="` + m.ID + `"`, `<title>Holiday &lt;2024&gt; · hlsd</title>`, `id="confirm-delete"`}},
		{"watch, unknown id", "/watch/abcdefghijkl", c, 404, false, []string{"There is no media"}},
		{"watch, malformed id", "/watch/..%2e", c, 404, false, nil},
		{"embed, no session needed", "/embed/" + m.ID, nil, 200, true, []string{`data-src="/hls/` + m.ID + `/master.m3u8"`, `data-status="queued"`}},
		{"embed, unknown id", "/embed/abcdefghijkl", nil, 404, true, []string{"There is no media"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := uiDo(t, e, "GET", tt.path, "", "", tt.cookie, nil)
			if r.status != tt.status {
				t.Fatalf("GET %s: %d, want %d\n%s", tt.path, r.status, tt.status, r.body)
			}
			if tt.status != 404 || tt.contains != nil {
				wantPageHeaders(t, r, tt.embed && tt.status == 200)
			}
			for _, s := range tt.contains {
				if !bytes.Contains(r.body, []byte(s)) {
					t.Errorf("GET %s lacks %s", tt.path, s)
				}
			}
			if tt.status == 200 {
				wantAssets(t, e, r.body)
			}
		})
	}
}

func TestUIAssets(t *testing.T) {
	e := newAPIEnv(t, 0)
	login := uiDo(t, e, "GET", "/login", "", "", nil, nil)
	m := regexp.MustCompile(`href="(/assets/[0-9a-f]+)/app\.css"`).FindSubmatch(login.body)
	if m == nil {
		t.Fatalf("no stylesheet in the sign-in page:\n%s", login.body)
	}
	prefix := string(m[1])
	plain := uiDo(t, e, "GET", prefix+"/library.js", "", "", nil, map[string]string{"Accept-Encoding": "identity"})
	if plain.status != 200 || len(plain.body) == 0 {
		t.Fatalf("GET library.js: %d", plain.status)
	}

	t.Run("revalidation", func(t *testing.T) {
		r := uiDo(t, e, "GET", prefix+"/library.js", "", "", nil, map[string]string{"Accept-Encoding": "identity", "If-None-Match": plain.header.Get("Etag")})
		if r.status != http.StatusNotModified || len(r.body) != 0 {
			t.Errorf("If-None-Match with the ETag: %d with %d bytes, want 304 and no body", r.status, len(r.body))
		}
	})
	t.Run("gzip", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.ts.URL+prefix+"/library.js", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("Content-Encoding %q, Vary %q; want gzip varying on Accept-Encoding", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
		}
		if res.Header.Get("Etag") == plain.header.Get("Etag") {
			t.Errorf("gzipped and plain bodies share the ETag %s", res.Header.Get("Etag"))
		}
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, plain.body) {
			t.Errorf("gunzipped body (%d bytes, %v) differs from the plain one (%d bytes)", len(got), err, len(plain.body))
		}
	})
	t.Run("older version", func(t *testing.T) {
		r := uiDo(t, e, "GET", "/assets/000000000000/library.js", "", "", nil, map[string]string{"Accept-Encoding": "identity"})
		if r.status != 200 || r.header.Get("Cache-Control") != "no-cache" || !bytes.Equal(r.body, plain.body) {
			t.Errorf("old asset version: %d, Cache-Control %q; want the current file, revalidated", r.status, r.header.Get("Cache-Control"))
		}
	})
	t.Run("unknown file", func(t *testing.T) {
		if r := uiDo(t, e, "GET", prefix+"/nope.js", "", "", nil, nil); r.status != 404 {
			t.Errorf("unknown asset: %d, want 404", r.status)
		}
	})
	t.Run("third-party libraries built in", func(t *testing.T) {
		for _, name := range uiVendor {
			r := uiDo(t, e, "GET", prefix+"/"+name, "", "", nil, nil)
			if r.status != 200 {
				t.Errorf("GET %s: %d: the web build did not run (make web: npm ci && npm run build in web/)", name, r.status)
			}
		}
	})
	t.Run("API session works for the pages' calls", func(t *testing.T) {
		c := signIn(t, e)
		r := uiDo(t, e, "GET", "/api/v1/media?limit=5", "", "", c, nil)
		var list struct {
			Data []json.RawMessage `json:"data"`
		}
		if r.status != 200 || json.Unmarshal(r.body, &list) != nil {
			t.Errorf("GET /api/v1/media with the session cookie: %d %s", r.status, r.body)
		}
	})
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/watch/abc?x=1#t", "/watch/abc?x=1#t"},
		{"", "/"},
		{"watch/abc", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/\tevil", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := safeNext(tt.in); got != tt.want {
				t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestUIEmbedSigned(t *testing.T) {
	e, _ := newSecEnv(t, nil)
	id := addPresentation(t, e, "signed", false)
	tok := issue(t, e, id, "")
	tests := []struct {
		name, query string
		status      int
		contains    string
	}{
		{"no token", "", 403, "needs a signed link"},
		{"forged token", "?token=abc", 403, "expired or is not valid"},
		{"signed link", "?token=" + url.QueryEscape(tok.Token), 200, `data-src="` + tok.PlaybackURL + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := uiDo(t, e, "GET", "/embed/"+id+tt.query, "", "", nil, nil)
			if r.status != tt.status || !bytes.Contains(r.body, []byte(tt.contains)) {
				t.Errorf("GET /embed/%s%s: %d, want %d with %s\n%s", id, tt.query, r.status, tt.status, tt.contains, r.body)
			}
			wantPageHeaders(t, r, tt.status == 200)
		})
	}
}
