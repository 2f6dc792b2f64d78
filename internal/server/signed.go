package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ingest"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/signing"
)

// Signed playback (docs/security.md). A media is public (its plain
// /hls/{id}/... URLs play) or signed (they answer 403, and it plays only at
// /hls/t/{token}/{id}/..., with a token from POST
// /api/v1/media/{id}/playback-tokens). The token rides in the path, so the
// relative URIs of every playlist (renditions, segments, the AES-128 key at
// "../key") keep it, and stock players need no change.

// Token lifetimes: DefaultTokenTTL when the request does not say,
// DefaultMaxTokenTTL as the largest a request may ask (Config.MaxTokenTTL).
const (
	DefaultTokenTTL    = time.Hour
	DefaultMaxTokenTTL = 7 * 24 * time.Hour
)

// SignedPrefix starts the path of signed playback URLs.
const SignedPrefix = "/hls/t/"

// keyName is the last path element of a media's AES-128 key URL: the
// playlists say "../key" from the rendition folders (ingest.DefaultKeyURI).
const keyName = "key"

// Access cache lifetimes: visibility rarely changes and every change made
// through this server invalidates its entry, so found entries live long;
// unknown ids are kept briefly (a media may be created meanwhile); the map
// is emptied when it grows past maxAccessEntries (random ids cannot grow it
// without bound).
const (
	accessTTL        = time.Minute
	accessMissTTL    = 2 * time.Second
	maxAccessEntries = 50_000
)

// access is what delivery needs to know about a media: whether it exists,
// who may play it, and whether it has a key.
type access struct {
	exists    bool
	signed    bool
	encrypted bool
	at        time.Time
}

// accessCache keeps the catalog out of the segment hot path: one map read
// under a read lock per request for a known media.
type accessCache struct {
	mu      sync.RWMutex
	entries map[string]access
}

func newAccessCache() *accessCache { return &accessCache{entries: map[string]access{}} }

func (c *accessCache) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

// mediaAccess returns what delivery needs to know about media id, from the
// cache or the catalog. Without a library every media is public.
func (s *Server) mediaAccess(ctx context.Context, id string) (access, error) {
	if s.cfg.Library == nil {
		return access{exists: true}, nil
	}
	now := s.now()
	c := s.access
	c.mu.RLock()
	a, ok := c.entries[id]
	c.mu.RUnlock()
	if ok && (a.exists && now.Sub(a.at) < accessTTL || !a.exists && now.Sub(a.at) < accessMissTTL) {
		return a, nil
	}
	m, err := s.cfg.Library.Get(ctx, id)
	switch {
	case err == nil:
		a = access{exists: true, signed: m.Visibility == hlsd.VisibilitySigned, encrypted: m.Encrypted, at: now}
	case hlsd.ErrorCode(err) == hlsd.ENOTFOUND:
		a = access{at: now}
	default:
		return access{}, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxAccessEntries {
		clear(c.entries)
	}
	c.entries[id] = a
	c.mu.Unlock()
	return a, nil
}

// now is the server's clock (tests move it).
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// checkPublic decides a plain /hls/{id}/... request before any file is
// opened: unknown media 404, signed media 403. It reports whether to go on.
func (s *Server) checkPublic(w http.ResponseWriter, r *http.Request, id string) (access, bool) {
	a, err := s.mediaAccess(r.Context(), id)
	if err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "media lookup", slog.String("media", id), slog.Any("err", err))
		unavailable(w)
		return a, false
	}
	if !a.exists {
		notFound(w)
		return a, false
	}
	if a.signed {
		forbidden(w)
		return a, false
	}
	return a, true
}

// handleSignedMedia serves GET /hls/t/{token}/{id}/{path...}: the same
// files as /hls/{id}/, once the token is verified for this media (and this
// client, when bound), with private caching so that no shared cache keeps
// serving them after the token expires.
func (s *Server) handleSignedMedia(w http.ResponseWriter, r *http.Request) {
	s.cors.simple(w.Header(), r)
	id, name, tok := r.PathValue("id"), r.PathValue("path"), r.PathValue("token")
	if !validID(id) || !validName(name) {
		notFound(w)
		return
	}
	if err := s.verifyToken(tok, id, r); err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelDebug, "playback token refused",
			slog.String("media", id), slog.String("reason", err.Error()), slog.String("remote", r.RemoteAddr))
		forbidden(w)
		return
	}
	a, err := s.mediaAccess(r.Context(), id)
	if err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "media lookup", slog.String("media", id), slog.Any("err", err))
		unavailable(w)
		return
	}
	if !a.exists {
		notFound(w)
		return
	}
	if name == keyName {
		s.serveKey(w, r, id, a)
		return
	}
	if rest, ok := strings.CutPrefix(name, library.SourcePrefix); ok {
		s.serveSource(&privateWriter{ResponseWriter: w}, r, id, rest, a)
		return
	}
	s.deliver(&privateWriter{ResponseWriter: w}, r, s.media, id+"/"+name)
}

// verifyToken checks tok for media id and the client of r.
func (s *Server) verifyToken(tok, id string, r *http.Request) error {
	if s.cfg.Signing == nil {
		return errors.New("signed playback is not configured")
	}
	_, err := s.cfg.Signing.Verify(tok, id, s.now(), clientAddr(r))
	return err
}

// clientAddr is the address of r's client (the zero Addr if unparsable):
// its peer, or behind a trusted proxy the address the proxy forwarded
// (proxy.go rewrites RemoteAddr, without a port).
func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// serveKey sends the AES-128 key of an encrypted media. The caller has
// decided that r may play it. The key lives in DATA/keys, outside every
// served folder, and is never cached by anyone.
func (s *Server) serveKey(w http.ResponseWriter, r *http.Request, id string, a access) {
	if !a.encrypted || s.keys == nil {
		notFound(w)
		return
	}
	f, err := openServed(s.keys, id+".key")
	if err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelDebug, "open key", slog.String("media", id), slog.Any("err", err))
		notFound(w) // still processing, or the media failed
		return
	}
	defer f.Close()
	key, err := io.ReadAll(io.LimitReader(f, ingest.KeyLen+1))
	if err != nil || len(key) != ingest.KeyLen {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "read key", slog.String("media", id), slog.Int("bytes", len(key)), slog.Any("err", err))
		notFound(w)
		return
	}
	h := w.Header()
	h["Content-Type"] = hdrKey
	h["Cache-Control"] = hdrNoStore
	h["X-Content-Type-Options"] = hdrNosniff
	h["Content-Length"] = hdrKeyLength
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(key)
	}
}

var (
	hdrKey       = []string{"application/octet-stream"}
	hdrKeyLength = []string{"16"}
	forbiddenMsg = []byte("403 forbidden: this media plays only with a valid playback token\n")
	unavailMsg   = []byte("503 service unavailable\n")
)

func forbidden(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = hdrPlainText
	h["X-Content-Type-Options"] = hdrNosniff
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(http.StatusForbidden)
	w.Write(forbiddenMsg)
}

func unavailable(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = hdrPlainText
	h["X-Content-Type-Options"] = hdrNosniff
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(unavailMsg)
}

// privateWriter turns "public" Cache-Control into "private" as the response
// starts: files of signed playback may be kept by the player's browser, not
// by a CDN or proxy that would serve them without a token check. It keeps
// the sendfile path (ReadFrom) of the writer it wraps.
type privateWriter struct {
	http.ResponseWriter
	done bool
}

func (w *privateWriter) fix() {
	if w.done {
		return
	}
	w.done = true
	h := w.ResponseWriter.Header()
	if cc := h.Get("Cache-Control"); strings.HasPrefix(cc, "public") {
		h["Cache-Control"] = []string{"private" + strings.TrimPrefix(cc, "public")}
	}
}

func (w *privateWriter) WriteHeader(code int) { w.fix(); w.ResponseWriter.WriteHeader(code) }

func (w *privateWriter) Write(p []byte) (int, error) { w.fix(); return w.ResponseWriter.Write(p) }

func (w *privateWriter) ReadFrom(src io.Reader) (int64, error) {
	w.fix()
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

func (w *privateWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// tokenRequest is the body of POST /api/v1/media/{id}/playback-tokens; an
// empty body takes the defaults.
type tokenRequest struct {
	// TTLSeconds is the token's lifetime; 0 means DefaultTokenTTL.
	TTLSeconds int64 `json:"ttl_seconds"`
	// ClientIP, when set, binds the token to that viewer address.
	ClientIP string `json:"client_ip"`
}

// TokenObject is the answer of POST /api/v1/media/{id}/playback-tokens.
type TokenObject struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	// PlaybackURL is the multivariant playlist's path with the token in it.
	PlaybackURL string `json:"playback_url"`
}

// SignedPlaybackURL is the path of media id's multivariant playlist with
// token in it.
func SignedPlaybackURL(token, id string) string {
	return SignedPrefix + token + "/" + id + "/master.m3u8"
}

// handleIssueToken is POST /api/v1/media/{id}/playback-tokens.
func (s *Server) handleIssueToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			s.apiError(w, r, err)
			return
		}
	}
	tok, err := s.issueToken(r.Context(), r.PathValue("id"), req)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, tok)
}

// issueToken checks req and signs a token for media id. The web UI's watch
// page calls it too, for signed media.
func (s *Server) issueToken(ctx context.Context, id string, req tokenRequest) (*TokenObject, error) {
	if s.cfg.Signing == nil {
		return nil, hlsd.Errorf(hlsd.EUNAVAILABLE, "signed playback is not configured on this server")
	}
	maxTTL := s.cfg.MaxTokenTTL
	ttl := DefaultTokenTTL
	if req.TTLSeconds != 0 {
		if req.TTLSeconds < 1 || req.TTLSeconds > int64(maxTTL/time.Second) {
			return nil, hlsd.Errorf(hlsd.EINVALID, "ttl_seconds must be from 1 to %d", int64(maxTTL/time.Second))
		}
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	ttl = min(ttl, maxTTL)
	var ip netip.Addr
	if req.ClientIP != "" {
		var err error
		if ip, err = netip.ParseAddr(req.ClientIP); err != nil || ip.Zone() != "" {
			return nil, hlsd.Errorf(hlsd.EINVALID, "client_ip %q is not an IP address", req.ClientIP)
		}
	}
	if _, err := s.cfg.Library.Get(ctx, id); err != nil {
		return nil, err
	}
	exp := s.now().Add(ttl).Truncate(time.Second)
	tok, err := s.cfg.Signing.Sign(signing.Claims{MediaID: id, Expiry: exp, IP: ip})
	if err != nil {
		return nil, err
	}
	return &TokenObject{Token: tok, ExpiresAt: exp.UTC(), PlaybackURL: SignedPlaybackURL(tok, id)}, nil
}

// signedRoutes registers signed playback and token issuing; routes() calls
// it when the server has a library.
func (s *Server) signedRoutes() {
	s.mux.HandleFunc("GET "+SignedPrefix+"{token}/{id}/{path...}", s.handleSignedMedia)
	s.mux.HandleFunc("OPTIONS "+SignedPrefix+"{token}/{id}/{path...}", s.handleOptions)
	s.mux.HandleFunc("GET "+SignedPrefix+"{token}/{id}", s.handleNotFound)
	s.mux.Handle("POST "+APIPrefix+"/media/{id}/playback-tokens", s.apiCORS(s.requireAuth(http.HandlerFunc(s.handleIssueToken))))
}
