package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/docs"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/openapitest"
)

const apiTestToken = "test-token-0123456789abcdef"

// apiEnv is a server with a library (workers not started: media stay
// queued, which is all these tests need) on a real 127.0.0.1 listener.
type apiEnv struct {
	srv  *Server
	lib  *library.Library
	ts   *httptest.Server
	data string
}

func newAPIEnv(t *testing.T, maxUpload int64) *apiEnv {
	t.Helper()
	data := t.TempDir()
	lib, err := newLibrary(t, library.Config{DataDir: data})
	if err != nil {
		t.Fatalf("library.New: %v", err)
	}
	t.Cleanup(func() { lib.Stop(context.Background()) })
	spec, err := docs.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{DataDir: data, Library: lib, APIToken: apiTestToken, MaxUpload: maxUpload, OpenAPI: spec})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	// Every response of these tests is checked against docs/openapi.yaml.
	client := ts.Client()
	client.Transport = &openapitest.Transport{Base: client.Transport}
	return &apiEnv{srv: srv, lib: lib, ts: ts, data: data}
}

type apiReq struct {
	method, path string
	body         io.Reader
	header       map[string]string
	noAuth       bool
}

type apiResp struct {
	status int
	header http.Header
	body   []byte
}

func (e *apiEnv) do(t *testing.T, q apiReq) apiResp {
	t.Helper()
	req, err := http.NewRequest(q.method, e.ts.URL+q.path, q.body)
	if err != nil {
		t.Fatal(err)
	}
	if !q.noAuth {
		req.Header.Set("Authorization", "Bearer "+apiTestToken)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", q.method, q.path, err)
	}
	return apiResp{status: res.StatusCode, header: res.Header, body: b}
}

// wantError checks an error response: status, JSON content type, code, and
// a message containing msg.
func (r apiResp) wantError(t *testing.T, status int, code, msg string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e apiErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	if e.Error.Code != code {
		t.Errorf("error code = %q, want %q", e.Error.Code, code)
	}
	if !strings.Contains(e.Error.Message, msg) {
		t.Errorf("error message = %q, want it to contain %q", e.Error.Message, msg)
	}
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// leftovers returns the files of DATA/tmp, DATA/sources and DATA/media.
func (e *apiEnv) leftovers(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"tmp", "sources", "media"} {
		for _, f := range files(t, filepath.Join(e.data, d)) {
			out = append(out, filepath.Join(d, f))
		}
	}
	return out
}

func TestAPIStatus(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{hlsd.EINVALID, 400}, {hlsd.EUNAUTHORIZED, 401}, {hlsd.EFORBIDDEN, 403}, {hlsd.ENOTFOUND, 404},
		{hlsd.ECONFLICT, 409}, {hlsd.ETOOLARGE, 413}, {hlsd.EUNSUPPORTED, 415}, {hlsd.EUNAVAILABLE, 503}, {hlsd.ENOSPACE, 507},
		{hlsd.EINTERNAL, 500}, {"something-new", 500},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := apiStatus(tt.code); got != tt.want {
				t.Errorf("apiStatus(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

// TestAPIInternalError checks that an error without a code reaches the
// client as a generic sentence, never with its details.
func TestAPIInternalError(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{logger: slog.New(slog.NewTextHandler(&logs, nil))}
	w := httptest.NewRecorder()
	s.apiError(w, httptest.NewRequest("GET", "/api/v1/media", nil), fmt.Errorf("open /secret/path/hlsd.db: disk I/O error"))
	if w.Code != 500 {
		t.Errorf("status = %d, want 500", w.Code)
	}
	if body := w.Body.String(); strings.Contains(body, "secret") || !strings.Contains(body, `"code":"internal"`) {
		t.Errorf("body = %s, want a generic internal error", body)
	}
	if !strings.Contains(logs.String(), "/secret/path") {
		t.Errorf("log = %q, want the real error", logs.String())
	}
}

func TestAuth(t *testing.T) {
	e := newAPIEnv(t, 0)
	tests := []struct {
		name   string
		header map[string]string
		status int
		code   string
		msg    string
	}{
		{"missing token", nil, 401, hlsd.EUNAUTHORIZED, "missing API token"},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, 401, hlsd.EUNAUTHORIZED, "the API token is wrong"},
		{"token prefix", map[string]string{"Authorization": "Bearer " + apiTestToken[:10]}, 401, hlsd.EUNAUTHORIZED, "wrong"},
		{"basic scheme", map[string]string{"Authorization": "Basic " + apiTestToken}, 401, hlsd.EUNAUTHORIZED, "Bearer"},
		{"token in cookie name only", map[string]string{"Cookie": SessionCookie + "=" + apiTestToken}, 401, hlsd.EUNAUTHORIZED, "missing"},
		{"right token", map[string]string{"Authorization": "Bearer " + apiTestToken}, 200, "", ""},
		{"lowercase scheme", map[string]string{"Authorization": "bearer " + apiTestToken}, 200, "", ""},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/v1/media", "/api/v1/uploads/0123abcd"} {
			t.Run(tt.name+path, func(t *testing.T) {
				r := e.do(t, apiReq{method: "GET", path: path, header: tt.header, noAuth: true})
				if tt.status == 200 {
					if r.status == 401 || r.status == 403 {
						t.Fatalf("status = %d (%s), want the request through", r.status, r.body)
					}
					return
				}
				r.wantError(t, tt.status, tt.code, tt.msg)
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want Bearer", got)
				}
			})
		}
	}
	t.Run("playback stays public", func(t *testing.T) {
		r := e.do(t, apiReq{method: "GET", path: "/hls/abcdefghijkl/master.m3u8", noAuth: true})
		if r.status != 404 {
			t.Errorf("status = %d, want 404 (not 401)", r.status)
		}
	})
}

func TestSession(t *testing.T) {
	e := newAPIEnv(t, 0)
	// A session issued by setSession, as the web UI's login does.
	w := httptest.NewRecorder()
	e.srv.setSession(w, httptest.NewRequest("POST", "/", nil))
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("setSession set %d cookies, want 1", len(cookies))
	}
	c := cookies[0]
	if c.Name != SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie = %+v, want hlsd_session, HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", c)
	}
	if d := time.Until(c.Expires); d < SessionLifetime-time.Minute || d > SessionLifetime {
		t.Errorf("cookie expires in %v, want %v", d, SessionLifetime)
	}
	ws := httptest.NewRecorder()
	tlsReq := httptest.NewRequest("POST", "https://example.com/", nil)
	e.srv.setSession(ws, tlsReq)
	if !ws.Result().Cookies()[0].Secure {
		t.Error("cookie over TLS is not Secure")
	}

	other := &Server{cfg: Config{APIToken: "another-token-0123456789"}}
	live, _ := e.srv.sessions.add(time.Now().Add(time.Hour))
	expired := e.srv.sessionValue(live, time.Now().Add(-time.Minute))
	valid := SessionCookie + "=" + c.Value
	tests := []struct {
		name   string
		method string
		header map[string]string
		status int
		code   string
	}{
		{"GET with session", "GET", map[string]string{"Cookie": valid}, 200, ""},
		{"expired session", "GET", map[string]string{"Cookie": SessionCookie + "=" + expired}, 401, hlsd.EUNAUTHORIZED},
		{"session of another token", "GET", map[string]string{"Cookie": SessionCookie + "=" + other.sessionValue(live, time.Now().Add(time.Hour))}, 401, hlsd.EUNAUTHORIZED},
		{"garbage cookie", "GET", map[string]string{"Cookie": SessionCookie + "=abc"}, 401, hlsd.EUNAUTHORIZED},
		{"POST same-origin", "POST", map[string]string{"Cookie": valid, "Sec-Fetch-Site": "same-origin"}, 400, hlsd.EINVALID},
		{"POST cross-site", "POST", map[string]string{"Cookie": valid, "Sec-Fetch-Site": "cross-site"}, 403, hlsd.EFORBIDDEN},
		{"POST same-site", "POST", map[string]string{"Cookie": valid, "Sec-Fetch-Site": "same-site"}, 403, hlsd.EFORBIDDEN},
		{"POST origin matches host", "POST", map[string]string{"Cookie": valid, "Origin": e.ts.URL}, 400, hlsd.EINVALID},
		{"POST other origin", "POST", map[string]string{"Cookie": valid, "Origin": "http://evil.example"}, 403, hlsd.EFORBIDDEN},
		{"POST no origin headers", "POST", map[string]string{"Cookie": valid}, 403, hlsd.EFORBIDDEN},
		{"POST bearer needs no CSRF check", "POST", map[string]string{"Authorization": "Bearer " + apiTestToken, "Origin": "http://evil.example"}, 400, hlsd.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// POST with an empty body: past auth, the library refuses it (400).
			r := e.do(t, apiReq{method: tt.method, path: "/api/v1/media", header: tt.header, noAuth: true, body: strings.NewReader("")})
			if tt.status == 200 {
				if r.status != 200 {
					t.Fatalf("status = %d (%s), want 200", r.status, r.body)
				}
				return
			}
			var e apiErrorBody
			json.Unmarshal(r.body, &e)
			if r.status != tt.status || e.Error.Code != tt.code {
				t.Errorf("got %d %q (%s), want %d %q", r.status, e.Error.Code, r.body, tt.status, tt.code)
			}
		})
	}

	t.Run("endSession", func(t *testing.T) {
		w := httptest.NewRecorder()
		e.srv.endSession(w, httptest.NewRequest("POST", "/logout", nil))
		c := w.Result().Cookies()
		if len(c) != 1 || c[0].Name != SessionCookie || c[0].MaxAge >= 0 {
			t.Errorf("cookies = %+v, want %s expired", c, SessionCookie)
		}
	})
}

// TestBadInputs sends each bad request and checks the status, the error
// code and message, and that nothing was left on disk.
func TestBadInputs(t *testing.T) {
	const max = 1 << 20
	e := newAPIEnv(t, max)
	big := bytes.Repeat([]byte{'x'}, max+1)
	multipartBody := func(field, filename string, content []byte) (io.Reader, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile(field, filename)
		fw.Write(content)
		mw.Close()
		return &b, mw.FormDataContentType()
	}
	mpBig, mpBigType := multipartBody("file", "big.mp4", big)
	mpWrong, mpWrongType := multipartBody("upload", "a.mp4", []byte("data"))
	mpEmpty, mpEmptyType := multipartBody("file", "a.mp4", nil)
	tests := []struct {
		name   string
		req    apiReq
		status int
		code   string
		msg    string
	}{
		{"empty body", apiReq{method: "POST", path: "/api/v1/media", body: strings.NewReader("")}, 400, hlsd.EINVALID, "upload is empty"},
		{"empty multipart file", apiReq{method: "POST", path: "/api/v1/media", body: mpEmpty, header: map[string]string{"Content-Type": mpEmptyType}}, 400, hlsd.EINVALID, "upload is empty"},
		{"multipart without file", apiReq{method: "POST", path: "/api/v1/media", body: mpWrong, header: map[string]string{"Content-Type": mpWrongType}}, 400, hlsd.EINVALID, `unknown multipart field "upload"`},
		{"multipart without boundary", apiReq{method: "POST", path: "/api/v1/media", body: strings.NewReader("x"), header: map[string]string{"Content-Type": "multipart/form-data"}}, 400, hlsd.EINVALID, "boundary"},
		{"oversize by Content-Length", apiReq{method: "POST", path: "/api/v1/media", body: bytes.NewReader(big)}, 413, hlsd.ETOOLARGE, "larger than the limit of 1 MiB"},
		{"oversize streamed", apiReq{method: "POST", path: "/api/v1/media", body: io.MultiReader(bytes.NewReader(big))}, 413, hlsd.ETOOLARGE, "larger than the limit of 1 MiB"},
		{"oversize multipart", apiReq{method: "POST", path: "/api/v1/media", body: io.MultiReader(mpBig), header: map[string]string{"Content-Type": mpBigType}}, 413, hlsd.ETOOLARGE, "larger than the limit"},
		{"title too long", apiReq{method: "POST", path: "/api/v1/media?title=" + strings.Repeat("a", library.MaxTitleLength+1), body: strings.NewReader("x")}, 400, hlsd.EINVALID, "title is longer"},
		{"unknown id", apiReq{method: "GET", path: "/api/v1/media/abcdefghijkl"}, 404, hlsd.ENOTFOUND, `media "abcdefghijkl" not found`},
		{"malformed id", apiReq{method: "GET", path: "/api/v1/media/..%2fetc"}, 400, "", ""},
		{"delete unknown id", apiReq{method: "DELETE", path: "/api/v1/media/abcdefghijkl"}, 404, hlsd.ENOTFOUND, "not found"},
		{"reprocess unknown id", apiReq{method: "POST", path: "/api/v1/media/abcdefghijkl/reprocess"}, 404, hlsd.ENOTFOUND, "not found"},
		{"patch unknown id", apiReq{method: "PATCH", path: "/api/v1/media/abcdefghijkl", body: strings.NewReader(`{"title":"x"}`)}, 404, hlsd.ENOTFOUND, "not found"},
		{"bad JSON", apiReq{method: "PATCH", path: "/api/v1/media/abcdefghijkl", body: strings.NewReader(`{"title":`)}, 400, hlsd.EINVALID, "not valid JSON"},
		{"JSON syntax", apiReq{method: "PATCH", path: "/api/v1/media/abcdefghijkl", body: strings.NewReader(`{title: "x"}`)}, 400, hlsd.EINVALID, "not valid JSON"},
		{"JSON unknown field", apiReq{method: "PATCH", path: "/api/v1/media/abcdefghijkl", body: strings.NewReader(`{"name":"x"}`)}, 400, hlsd.EINVALID, `unknown field "name"`},
		{"JSON wrong type", apiReq{method: "PATCH", path: "/api/v1/media/abcdefghijkl", body: strings.NewReader(`{"title":3}`)}, 400, hlsd.EINVALID, `field "title" must be a JSON string`},
		{"JSON array", apiReq{method: "PATCH", path: "/api/v1/media/abcdefghijkl", body: strings.NewReader(`["x"]`)}, 400, hlsd.EINVALID, "must be a JSON object"},
		{"JSON trailing data", apiReq{method: "PATCH", path: "/api/v1/media/abcdefghijkl", body: strings.NewReader(`{"title":"x"} {}`)}, 400, hlsd.EINVALID, "after its JSON object"},
		{"JSON empty", apiReq{method: "PATCH", path: "/api/v1/media/abcdefghijkl", body: strings.NewReader(``)}, 400, hlsd.EINVALID, "body is empty"},
		{"JSON wrong content type", apiReq{method: "PATCH", path: "/api/v1/media/abcdefghijkl", body: strings.NewReader(`title=x`), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, hlsd.EUNSUPPORTED, "must be JSON"},
		{"bad limit", apiReq{method: "GET", path: "/api/v1/media?limit=0"}, 400, hlsd.EINVALID, "limit must be"},
		{"bad status filter", apiReq{method: "GET", path: "/api/v1/media?status=done"}, 400, hlsd.EINVALID, "status must be"},
		{"bad cursor", apiReq{method: "GET", path: "/api/v1/media?cursor=zzz"}, 400, hlsd.EINVALID, ""},
		{"unknown route", apiReq{method: "GET", path: "/api/v1/nothing"}, 404, hlsd.ENOTFOUND, "no API route"},
		{"missing token", apiReq{method: "POST", path: "/api/v1/media", body: strings.NewReader("data"), noAuth: true}, 401, hlsd.EUNAUTHORIZED, "missing API token"},
		{"wrong token", apiReq{method: "POST", path: "/api/v1/media", body: strings.NewReader("data"), noAuth: true, header: map[string]string{"Authorization": "Bearer wrong"}}, 401, hlsd.EUNAUTHORIZED, "wrong"},
		{"tus too large", apiReq{method: "POST", path: "/api/v1/uploads", header: map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": fmt.Sprint(max + 1)}}, 413, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.req)
			if tt.code == "" {
				if r.status != tt.status {
					t.Errorf("status = %d (%s), want %d", r.status, r.body, tt.status)
				}
			} else {
				r.wantError(t, tt.status, tt.code, tt.msg)
			}
			if left := e.leftovers(t); len(left) > 0 {
				t.Errorf("left on disk: %v", left)
			}
		})
	}
	page, err := e.lib.List(context.Background(), hlsd.MediaFilter{})
	if err != nil || len(page.Media) != 0 {
		t.Errorf("catalog has %d media (%v), want none", len(page.Media), err)
	}
}

// TestTruncatedUpload announces more bytes than it sends, then closes the
// connection: no media is made and nothing is left in DATA/tmp.
func TestTruncatedUpload(t *testing.T) {
	e := newAPIEnv(t, 0)
	for _, ct := range []string{"", "multipart/form-data; boundary=XYZ"} {
		t.Run("content-type "+ct, func(t *testing.T) {
			conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			body := strings.Repeat("x", 100000)
			if ct != "" {
				body = "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n" + body
			}
			hdr := fmt.Sprintf("POST /api/v1/media?filename=a.mp4 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000\r\n", apiTestToken)
			if ct != "" {
				hdr += "Content-Type: " + ct + "\r\n"
			}
			fmt.Fprint(conn, hdr+"\r\n"+body)
			conn.(*net.TCPConn).CloseWrite()
			// Only the sending half is closed, so the answer can be read.
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, _ := io.ReadAll(conn)
			conn.Close()
			if !bytes.HasPrefix(resp, []byte("HTTP/1.1 400")) || !bytes.Contains(resp, []byte("interrupted")) {
				t.Errorf("response = %q, want 400 saying the upload was interrupted", resp)
			}
			waitFor(t, "upload file removed", func() bool { return len(e.leftovers(t)) == 0 })
			page, err := e.lib.List(context.Background(), hlsd.MediaFilter{})
			if err != nil || len(page.Media) != 0 {
				t.Errorf("catalog has %d media (%v), want none", len(page.Media), err)
			}
		})
	}
}

// waitFor polls cond until it holds (a hang guard of a minute, not a
// performance threshold).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCreateListGetUpdateDelete(t *testing.T) {
	e := newAPIEnv(t, 0)
	// Raw upload, file name from Content-Disposition.
	r := e.do(t, apiReq{method: "POST", path: "/api/v1/media", body: strings.NewReader("not really media"),
		header: map[string]string{"Content-Disposition": `attachment; filename="My Song.flac"`}})
	if r.status != 201 {
		t.Fatalf("raw upload: %d %s", r.status, r.body)
	}
	var m MediaObject
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Title != "My Song" || m.Status != hlsd.StatusQueued || r.header.Get("Location") != "/api/v1/media/"+m.ID ||
		m.PlaybackURL != "/hls/"+m.ID+"/master.m3u8" || m.Kind != nil || m.Error != nil || m.Renditions == nil {
		t.Errorf("created media = %s (Location %q)", r.body, r.header.Get("Location"))
	}
	for _, key := range []string{"id", "title", "kind", "status", "progress", "error", "duration", "renditions", "playback_url", "poster_url", "created_at", "updated_at"} {
		if !bytes.Contains(r.body, []byte(`"`+key+`":`)) {
			t.Errorf("media object has no %q: %s", key, r.body)
		}
	}
	src := files(t, filepath.Join(e.data, "sources", m.ID))
	if len(src) != 1 || src[0] != "source.flac" {
		t.Errorf("source files = %v, want [source.flac]", src)
	}

	// Multipart with a title field, and a raw upload with ?title=.
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("title", "Holiday")
	fw, _ := mw.CreateFormFile("file", "clip.mp4")
	fw.Write([]byte("data"))
	mw.Close()
	r = e.do(t, apiReq{method: "POST", path: "/api/v1/media", body: &b, header: map[string]string{"Content-Type": mw.FormDataContentType()}})
	var m2 MediaObject
	json.Unmarshal(r.body, &m2)
	if r.status != 201 || m2.Title != "Holiday" {
		t.Errorf("multipart: %d %s", r.status, r.body)
	}
	r = e.do(t, apiReq{method: "POST", path: "/api/v1/media?title=Third&filename=x.wav", body: strings.NewReader("data")})
	var m3 MediaObject
	json.Unmarshal(r.body, &m3)
	if r.status != 201 || m3.Title != "Third" {
		t.Errorf("raw with title: %d %s", r.status, r.body)
	}

	// List: newest first, paginated, searchable.
	var list mediaList
	r = e.do(t, apiReq{method: "GET", path: "/api/v1/media?limit=2"})
	json.Unmarshal(r.body, &list)
	if len(list.Data) != 2 || list.Data[0].ID != m3.ID || list.Data[1].ID != m2.ID || list.NextCursor == nil {
		t.Fatalf("first page = %s", r.body)
	}
	r = e.do(t, apiReq{method: "GET", path: "/api/v1/media?limit=2&cursor=" + *list.NextCursor})
	list = mediaList{}
	json.Unmarshal(r.body, &list)
	if len(list.Data) != 1 || list.Data[0].ID != m.ID || list.NextCursor != nil {
		t.Errorf("second page = %s", r.body)
	}
	r = e.do(t, apiReq{method: "GET", path: "/api/v1/media?q=holi"})
	list = mediaList{}
	json.Unmarshal(r.body, &list)
	if len(list.Data) != 1 || list.Data[0].ID != m2.ID {
		t.Errorf("search = %s", r.body)
	}

	// Get, rename, reprocess while queued (409), delete.
	r = e.do(t, apiReq{method: "GET", path: "/api/v1/media/" + m.ID})
	if r.status != 200 || !bytes.Contains(r.body, []byte(m.ID)) {
		t.Errorf("get: %d %s", r.status, r.body)
	}
	r = e.do(t, apiReq{method: "PATCH", path: "/api/v1/media/" + m.ID, body: strings.NewReader(`{"title":"  Renamed "}`),
		header: map[string]string{"Content-Type": "application/json"}})
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"title":"Renamed"`)) {
		t.Errorf("patch: %d %s", r.status, r.body)
	}
	e.do(t, apiReq{method: "POST", path: "/api/v1/media/" + m.ID + "/reprocess"}).wantError(t, 409, hlsd.ECONFLICT, "already queued")
	r = e.do(t, apiReq{method: "DELETE", path: "/api/v1/media/" + m.ID})
	if r.status != 204 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	e.do(t, apiReq{method: "GET", path: "/api/v1/media/" + m.ID}).wantError(t, 404, hlsd.ENOTFOUND, "not found")
	if _, err := os.Stat(filepath.Join(e.data, "sources", m.ID)); !os.IsNotExist(err) {
		t.Errorf("source dir after delete: %v", err)
	}
}

func TestAPICORS(t *testing.T) {
	e := newAPIEnv(t, 0)
	r := e.do(t, apiReq{method: "OPTIONS", path: "/api/v1/media", noAuth: true, header: map[string]string{
		"Origin": "http://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}})
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	r = e.do(t, apiReq{method: "OPTIONS", path: "/api/v1/uploads", noAuth: true, header: map[string]string{
		"Origin": "http://app.example", "Access-Control-Request-Method": "POST"}})
	if r.status != 200 || r.header.Get("Tus-Version") != "1.0.0" || r.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Upload-Metadata") {
		t.Errorf("tus preflight: %d %v", r.status, r.header)
	}
	r = e.do(t, apiReq{method: "GET", path: "/api/v1/media", header: map[string]string{"Origin": "http://app.example"}})
	if r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), HeaderMediaID) {
		t.Errorf("actual response: %v", r.header)
	}
}
