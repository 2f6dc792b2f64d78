package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/web"
)

// The web UI: server-rendered page shells (web/templates) whose JavaScript
// modules (web/static) talk to the REST API with the session cookie, and
// the third-party libraries the web build copies to web/dist/vendor. It is
// served when the server has a library (and so an API and sessions):
//
//	GET  /                 library (grid, search, upload)
//	GET  /watch/{id}       player, share, delete
//	GET  /embed/{id}       minimal player for <iframe>s; public like /hls/
//	GET  /login, POST /login, POST /logout
//	GET  /assets/{version}/{path...}
//
// Asset URLs carry a version, a hash of every asset, so they are cached for
// a year (immutable) and a new binary is picked up at the next page load;
// pages themselves are never cached without revalidation.

// uiCSP allows only hlsd's own origin, plus blob: for what hls.js needs:
// Media Source object URLs (media-src) and its transmuxing worker
// (worker-src). No inline script or style is used anywhere.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; font-src 'self'; " +
	"manifest-src 'self'; form-action 'self'; base-uri 'none'"

// uiVendor lists the files the web build must have copied; without them
// the player and uploads cannot work, which New logs and the tests check.
var uiVendor = []string{"vendor/hls.min.js", "vendor/tus.min.js"}

// ui is the web interface's state, built once by newUI.
type ui struct {
	pages   *template.Template
	assets  map[string]*asset // by path under the asset prefix
	version string            // hash of all assets, in asset URLs
	prefix  string            // "/assets/" + version
	missing []string          // uiVendor files the build did not produce
}

// asset is one embedded file with its precomputed headers and, for text,
// a gzipped copy made on first request (compressing hls.js takes long
// enough that doing it in New would slow every server start).
type asset struct {
	data        []byte
	contentType []string
	// etag identifies data; gzETag its gzipped form (a representation of
	// its own, so caches never mix them up).
	etag, gzETag []string
	compressible bool

	gzOnce sync.Once
	gz     []byte // nil when compressing does not pay
}

// gzipped returns the gzipped body, or nil.
func (a *asset) gzipped() []byte {
	if !a.compressible {
		return nil
	}
	a.gzOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(a.data)
		zw.Close()
		if b.Len() < len(a.data) {
			a.gz = b.Bytes()
		}
	})
	return a.gz
}

// page is the data of every template.
type page struct {
	Title, Assets, Error, Next string
	// ID, PlaybackURL, Poster, Kind and Status describe the media of the
	// watch and embed pages.
	ID, PlaybackURL, Poster, Kind, Status string
}

// newUI parses the templates and loads the assets of fsys (laid out as
// web.FS: templates/, static/, dist/vendor/).
func newUI(fsys fs.FS) (*ui, error) {
	pages, err := template.ParseFS(fsys, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web ui templates: %w", err)
	}
	u := &ui{pages: pages, assets: map[string]*asset{}}
	add := func(root, under string) error {
		return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			name := path.Join(under, strings.TrimPrefix(p, root+"/"))
			u.assets[name] = newAsset(name, data)
			return nil
		})
	}
	if err := add("static", ""); err != nil {
		return nil, fmt.Errorf("web ui assets: %w", err)
	}
	if err := add("dist/vendor", "vendor"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("web ui assets: %w", err)
	}
	for _, name := range uiVendor {
		if u.assets[name] == nil {
			u.missing = append(u.missing, name)
		}
	}
	names := make([]string, 0, len(u.assets))
	for name := range u.assets {
		names = append(names, name)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", name, u.assets[name].etag[0])
	}
	u.version = hex.EncodeToString(h.Sum(nil))[:12]
	u.prefix = "/assets/" + u.version
	return u, nil
}

func newAsset(name string, data []byte) *asset {
	sum := sha256.Sum256(data)
	a := &asset{data: data, etag: []string{`"` + hex.EncodeToString(sum[:12]) + `"`}}
	// Types are fixed here, never taken from the OS's MIME database.
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".js", ".mjs":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	case ".txt":
		ct = "text/plain; charset=utf-8"
	}
	a.contentType = []string{ct}
	if strings.HasPrefix(ct, "text/") || ct == "image/svg+xml" {
		a.compressible = true
		a.gzETag = []string{strings.TrimSuffix(a.etag[0], `"`) + `-gz"`}
	}
	return a
}

// uiRoutes registers the web UI; routes() calls it when the server has a
// library.
func (s *Server) uiRoutes() {
	u, err := newUI(web.FS())
	if err != nil {
		// The templates are compiled in: a parse error is a bug every test
		// catches, not a runtime condition.
		panic(err)
	}
	if len(u.missing) > 0 {
		// A binary built without the web build (go install, a plain go
		// build): every page says so instead of a player that breaks at
		// play time; the API and delivery work as usual.
		s.logger.Warn("web UI libraries missing: run `make web` (npm ci && npm run build in web/) before go build",
			"missing", strings.Join(u.missing, ", "))
		h := uiMissingHandler(u.missing)
		for _, p := range []string{"GET /{$}", "GET /watch/{id}", "GET /embed/{id}", "GET /login"} {
			s.mux.Handle(p, h)
		}
		return
	}
	s.mux.HandleFunc("GET /{$}", s.uiPage(u, "library.html", func(r *http.Request) (page, error) {
		return page{Title: "Library"}, nil
	}))
	s.mux.HandleFunc("GET /watch/{id}", s.uiPage(u, "watch.html", func(r *http.Request) (page, error) {
		m, err := s.uiMedia(r)
		if err != nil {
			return page{}, err
		}
		return page{Title: m.Title, ID: m.ID}, nil
	}))
	s.mux.HandleFunc("GET /embed/{id}", func(w http.ResponseWriter, r *http.Request) {
		m, err := s.uiMedia(r)
		if err != nil {
			s.uiError(w, r, u, err)
			return
		}
		p := page{
			Title: m.Title, ID: m.ID, Kind: string(m.Kind), Status: string(m.Status),
			PlaybackURL: library.PlaybackURL(m.ID), Poster: library.PosterURL(m),
		}
		if m.Visibility == hlsd.VisibilitySigned {
			// Signed media embeds only with the token of a signed link
			// (/embed/{id}?token=...), which the player then uses.
			tok := r.URL.Query().Get("token")
			if tok == "" {
				s.uiError(w, r, u, hlsd.Errorf(hlsd.EFORBIDDEN, "This media is private: its embed code needs a signed link (?token=...)."))
				return
			}
			if err := s.verifyToken(tok, m.ID, r); err != nil {
				s.uiError(w, r, u, hlsd.Errorf(hlsd.EFORBIDDEN, "This link has expired or is not valid for this media."))
				return
			}
			p.PlaybackURL = SignedPlaybackURL(tok, m.ID)
			if p.Poster != "" {
				p.Poster = strings.TrimSuffix(p.PlaybackURL, "master.m3u8") + "poster.jpg"
			}
		}
		s.uiRender(w, r, u, http.StatusOK, "embed.html", p)
	})
	s.mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		next := safeNext(r.URL.Query().Get("next"))
		if s.hasSession(r) {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		s.uiRender(w, r, u, http.StatusOK, "login.html", page{Title: "Sign in", Next: next})
	})
	s.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) { s.handleLogin(w, r, u) })
	s.mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			s.uiError(w, r, u, hlsd.Errorf(hlsd.EFORBIDDEN, "Sign out refused: the request did not come from hlsd's own pages."))
			return
		}
		if err := s.endSession(w, r); err != nil {
			s.logger.LogAttrs(r.Context(), slog.LevelError, "sign out", slog.Any("err", err))
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	s.mux.HandleFunc("GET /assets/{version}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		u.serveAsset(w, r)
	})
}

// uiMedia returns the media named by the {id} of r's path.
func (s *Server) uiMedia(r *http.Request) (*hlsd.Media, error) {
	id := r.PathValue("id")
	if !hlsd.ValidMediaID(id) {
		return nil, hlsd.Errorf(hlsd.ENOTFOUND, "There is no media %q.", id)
	}
	m, err := s.cfg.Library.Get(r.Context(), id)
	if hlsd.ErrorCode(err) == hlsd.ENOTFOUND {
		return nil, hlsd.Errorf(hlsd.ENOTFOUND, "There is no media %q: it may have been deleted.", id)
	}
	return m, err
}

// uiPage returns the handler of a page that needs a session: without one
// the browser is sent to the sign-in page, and back here after.
func (s *Server) uiPage(u *ui, name string, data func(*http.Request) (page, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hasSession(r) {
			w.Header()["Cache-Control"] = hdrNoStore
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		p, err := data(r)
		if err != nil {
			s.uiError(w, r, u, err)
			return
		}
		s.uiRender(w, r, u, http.StatusOK, name, p)
	}
}

// maxLoginBody bounds the sign-in form or JSON body.
const maxLoginBody = 16 << 10

// handleLogin is POST /login with a form (token, next) or a JSON body
// {"token": "..."}. The right token sets the session cookie; a wrong one
// is 401 with a message saying so. Like every cookie-changing request it
// must come from hlsd's own pages (login CSRF).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, u *ui) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := mt == "application/json"
	fail := func(err error) {
		if isJSON {
			s.apiError(w, r, err)
			return
		}
		status := apiStatus(hlsd.ErrorCode(err))
		s.uiRender(w, r, u, status, "login.html", page{
			Title: "Sign in", Error: hlsd.ErrorMessage(err), Next: safeNext(r.FormValue("next")),
		})
	}
	if !sameOrigin(r) {
		fail(hlsd.Errorf(hlsd.EFORBIDDEN, "Sign-in refused: the form was not sent from this server's own page."))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	var token string
	if isJSON {
		var body struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
				fail(hlsd.Errorf(hlsd.ETOOLARGE, "The sign-in body is larger than %d bytes.", maxLoginBody))
				return
			}
			fail(hlsd.Errorf(hlsd.EINVALID, `The body must be JSON like {"token": "..."}.`))
			return
		}
		token = body.Token
	} else {
		if err := r.ParseForm(); err != nil {
			if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
				fail(hlsd.Errorf(hlsd.ETOOLARGE, "The sign-in form is larger than %d bytes.", maxLoginBody))
				return
			}
			fail(hlsd.Errorf(hlsd.EINVALID, "The sign-in form could not be read."))
			return
		}
		token = r.PostForm.Get("token")
	}
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		fail(hlsd.Errorf(hlsd.EUNAUTHORIZED, "Enter the API token."))
		return
	case !s.tokenMatches(token):
		if s.limits.refused != nil && !s.limits.exempted(clientAddr(r)) {
			s.limits.refused.allow(clientKey(r), s.now())
		}
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "credential refused",
			slog.String("remote", r.RemoteAddr), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("reason", "sign-in with a wrong token"))
		fail(hlsd.Errorf(hlsd.EUNAUTHORIZED, "That token is not right. Use the API token the server was started with."))
		return
	}
	if err := s.setSession(w, r); err != nil {
		fail(hlsd.Errorf(hlsd.EINTERNAL, "sign in: %v", err))
		return
	}
	w.Header()["Cache-Control"] = hdrNoStore
	if isJSON {
		s.writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

// safeNext keeps a post-sign-in destination only when it is a path of this
// server ("/watch/x"), never another site ("//evil.example", "/\evil").
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\t\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// uiError answers with an HTML error page whose status comes from the
// error's code, like the API's.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, u *ui, err error) {
	status := apiStatus(hlsd.ErrorCode(err))
	msg := hlsd.ErrorMessage(err)
	title := http.StatusText(status)
	if status == http.StatusInternalServerError {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "ui error",
			slog.String("path", r.URL.Path), slog.Any("err", err))
		msg = "Something went wrong on the server; the log says what."
	}
	s.uiRender(w, r, u, status, "error.html", page{Title: title, Error: msg})
}

// uiRender executes a page template into a buffer (so a failure is a clean
// 500, not half a page) and sends it with the UI's security headers. The
// embed page may be framed by any site; the others by none.
func (s *Server) uiRender(w http.ResponseWriter, r *http.Request, u *ui, status int, name string, p page) {
	p.Assets = u.prefix
	var b bytes.Buffer
	if err := u.pages.ExecuteTemplate(&b, name, p); err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "render page", slog.String("page", name), slog.Any("err", err))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h["Cache-Control"] = hdrNoCache
	// CSP, nosniff, Referrer-Policy, framing (headers.go: --frame-ancestors).
	s.SetPageHeaders(h, name == "embed.html")
	h.Set("Content-Length", fmt.Sprint(b.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b.Bytes())
	}
}

// serveAsset is GET /assets/{version}/{path...}. The current version is
// cached for a year; an older version (a page loaded before an upgrade)
// still gets the current file, revalidated every time.
func (u *ui) serveAsset(w http.ResponseWriter, r *http.Request) {
	a := u.assets[r.PathValue("path")]
	if a == nil {
		notFound(w)
		return
	}
	h := w.Header()
	h["Content-Type"] = a.contentType
	h["X-Content-Type-Options"] = hdrNosniff
	h["Etag"] = a.etag
	if r.PathValue("version") == u.version {
		h["Cache-Control"] = hdrImmutable
	} else {
		h["Cache-Control"] = hdrNoCache
	}
	if a.compressible {
		h.Set("Vary", "Accept-Encoding")
	}
	var gz []byte
	if r.Header.Get("Range") == "" && acceptsGzip(r.Header["Accept-Encoding"]) {
		gz = a.gzipped()
	}
	if gz != nil {
		h["Etag"] = a.gzETag
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListMatches(inm, h["Etag"][0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz != nil {
		h["Content-Encoding"] = hdrGzip
		h.Set("Content-Length", fmt.Sprint(len(gz)))
		if r.Method != http.MethodHead {
			w.Write(gz)
		}
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}

// uiMissingHandler answers every UI page of a binary built without the web
// build's libraries with a 503 page saying how to build one that has them.
func uiMissingHandler(missing []string) http.Handler {
	body := "<!doctype html><meta charset=utf-8><title>hlsd: web UI not built</title>\n" +
		"<h1>This hlsd was built without its web UI</h1>\n" +
		"<p>The player and upload libraries (" + html.EscapeString(strings.Join(missing, ", ")) + ") are copied in by the web build, " +
		"which this binary skipped (go install or a plain go build). Build it with <code>make build</code> " +
		"(which runs <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code> first), or use the API and the /hls/ URLs directly.</p>\n"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, body)
	})
}
