// Package server is hlsd's HTTP edge: delivery of HLS presentations (library
// media at /hls/{id}/..., a read-only folder at /static/...), health and
// metrics endpoints, and the middleware every route shares (access log,
// Prometheus metrics, CORS). It is built on net/http's ServeMux with method
// patterns; every route is listed in one place, (*Server).routes, so that
// the REST API and the web UI can be added as more files of this package.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/signing"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Timeouts and limits of the http.Server made by Serve. There is no
// ReadTimeout (uploads stream for long) and no WriteTimeout (a large segment
// to a slow client legitimately takes long); slow-header and idle clients are
// cut by ReadHeaderTimeout and IdleTimeout, which is what pins connections.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// Defaults used when the corresponding Config field is zero.
const (
	DefaultPlaylistMaxAge = 60 * time.Second
	// DefaultPlaylistRecheck is hlsd serve's --playlist-recheck.
	DefaultPlaylistRecheck = time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultCORSMaxAge      = 2 * time.Hour
)

// Config is what New needs. Zero values give a working server with library
// delivery only; DataDir is required.
type Config struct {
	// DataDir holds the library; presentations live in DataDir/media/{id}/.
	// The media folder must exist (hlsd serve creates it).
	DataDir string
	// StaticDir, when set, is served read-only at /static/ with the same
	// delivery rules as library media.
	StaticDir string
	// MP4IndexCacheBytes bounds the memory of the parsed indexes kept for
	// serving StaticDir's MP4 files as HLS on the fly (otf.go); 0 means
	// mp4.DefaultCacheBytes.
	MP4IndexCacheBytes int64
	// MP4SegmentCacheBytes bounds the memory of the small generated
	// segments kept (0: mp4.DefaultSegmentCacheBytes; negative: none).
	MP4SegmentCacheBytes int64
	// CORSOrigins lists the origins allowed to read responses from a browser,
	// e.g. "https://example.com"; "*" (the default when empty) allows any.
	CORSOrigins []string
	// Logger receives lifecycle messages and, when AccessLog is set, one
	// line per request. Nil discards everything.
	Logger    *slog.Logger
	AccessLog bool
	// Registry receives hlsd's metrics and is served at /metrics; nil makes
	// one with NewRegistry.
	Registry *prometheus.Registry
	// SeparateMetrics leaves /metrics off this server's routes: hlsd serve
	// --metrics-addr serves MetricsHandler on a listener of its own, for
	// operators who do not want metrics public.
	SeparateMetrics bool
	// PlaylistMaxAge is the Cache-Control max-age of finished (VOD,
	// #EXT-X-ENDLIST) and multivariant playlists; growing playlists are
	// always sent with no-cache.
	PlaylistMaxAge time.Duration
	// PlaylistRecheck is how long a cached finished media playlist (one
	// with #EXT-X-ENDLIST) is served without checking its file again, like
	// nginx's open_file_cache_valid: such a playlist only changes when its
	// media is reprocessed or deleted, and the stat through os.Root is most
	// of a cached playlist's cost. Growing and multivariant playlists are
	// checked on every request whatever this says. Zero checks every time.
	PlaylistRecheck time.Duration
	// CORSMaxAge is how long browsers may cache a preflight answer.
	CORSMaxAge time.Duration
	// TLSCertFile and TLSKeyFile, when both set, make Serve speak HTTPS and
	// HTTP/2.
	TLSCertFile, TLSKeyFile string
	// ShutdownTimeout bounds how long Serve waits for in-flight responses
	// once its context is cancelled; then remaining connections are closed.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout and IdleTimeout override the package defaults of
	// the same names (tests shorten them).
	ReadHeaderTimeout, IdleTimeout time.Duration

	// Library, when set, enables the REST API and tus uploads under
	// /api/v1 (api.go); its data directory must be DataDir.
	Library *library.Library
	// APIToken is the bearer token of every /api/v1 route (required with
	// Library); it also keys web UI session cookies (auth.go).
	APIToken string
	// MaxUpload is the largest accepted upload in bytes (0: no limit).
	MaxUpload int64
	// UploadExpiry is how long an unfinished tus upload is kept after its
	// last write (DefaultUploadExpiry when zero); uploadSweep, how often
	// expired ones are removed (tests shorten it; tus_expiry.go).
	UploadExpiry time.Duration
	uploadSweep  time.Duration
	// OpenAPI, when set with Library, is served without a token at
	// /api/v1/openapi.json: the API's OpenAPI document as JSON
	// (docs.OpenAPIJSON).
	OpenAPI []byte

	// Security (signed.go, ratelimit.go, headers.go; docs/security.md).

	// Signing issues and verifies playback tokens; nil disables signed
	// playback (signed media then play nowhere).
	Signing *signing.Keyring
	// DefaultVisibility is the visibility of uploads that do not choose
	// one: hlsd.VisibilityPublic (also when empty) or VisibilitySigned.
	DefaultVisibility string
	// EncryptByDefault makes uploads AES-128 encrypted unless they say
	// encrypt=false.
	EncryptByDefault bool
	// MaxTokenTTL bounds the lifetime of playback tokens (default
	// DefaultMaxTokenTTL).
	MaxTokenTTL time.Duration
	// Limits holds the per-client rate limits; zero fields take the
	// defaults of DefaultLimits, negative ones disable that limit.
	Limits Limits
	// MaxConns caps open client connections (0: no cap); further clients
	// wait in the listen backlog.
	MaxConns int
	// BodyReadTimeout is the longest wait for the next bytes of a request
	// body (default DefaultBodyReadTimeout; negative: none).
	BodyReadTimeout time.Duration
	// TrustedProxies lists the networks of reverse proxies whose
	// X-Forwarded-For / X-Forwarded-Proto / Forwarded headers are honoured
	// (proxy.go); from any other peer they are ignored. Empty: none.
	TrustedProxies []netip.Prefix
	// FrameAncestors lists the origins allowed to frame the embed player
	// (CSP frame-ancestors); empty means any ("*"). Other pages are never
	// framed.
	FrameAncestors []string
}

// Server is hlsd's HTTP handler. Create it with New, serve it with Serve (or
// mount it in any http.Server), and Close it to release its open folders.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	cors    *cors

	media  *tree // DataDir/media, opened once
	static *tree // StaticDir, or nil
	otf    *otf  // MP4 files of StaticDir, and library sources, as HLS (otf.go), or nil
	// sources is DataDir/sources with a Library: never delivered as files,
	// only packaged on the fly at /hls/{id}/source/... (source.go).
	sources *tree

	tus     http.Handler // tus uploads (api_tus.go), with Library only
	uploads *tusUploads  // their expiry (tus_expiry.go), with Library only
	openAPI *openAPIDoc  // the OpenAPI document (openapi.go), or nil

	access   *accessCache     // visibility of media, for delivery (signed.go)
	sessions *sessionStore    // live web UI sessions (session.go)
	keys     *os.Root         // DATA/keys, with Library only (signed.go)
	limits   *rateLimits      // per-client limits (ratelimit.go)
	clock    func() time.Time // nil: time.Now (tests set it)
	headers  pageHeaderValues // security headers of UI pages (headers.go)

	// handler is mux wrapped in the shared middleware.
	handler http.Handler
}

// New opens the served folders (once, as os.Root, so no request can leave
// them) and registers every route.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data dir")
	}
	if cfg.PlaylistMaxAge == 0 {
		cfg.PlaylistMaxAge = DefaultPlaylistMaxAge
	}
	if cfg.CORSMaxAge == 0 {
		cfg.CORSMaxAge = DefaultCORSMaxAge
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = ReadHeaderTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = IdleTimeout
	}
	if len(cfg.CORSOrigins) == 0 {
		cfg.CORSOrigins = []string{"*"}
	}
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cors, err := newCORS(cfg.CORSOrigins, cfg.CORSMaxAge)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, logger: logger, mux: http.NewServeMux(), metrics: m, cors: cors}

	s.media, err = openTree(filepath.Join(cfg.DataDir, "media"), "media", cfg.PlaylistMaxAge, cfg.PlaylistRecheck)
	if err != nil {
		return nil, err
	}
	if cfg.StaticDir != "" {
		s.static, err = openTree(cfg.StaticDir, "static", cfg.PlaylistMaxAge, cfg.PlaylistRecheck)
		if err != nil {
			s.media.close()
			return nil, err
		}
		s.otf = newOTF(cfg)
	}
	if cfg.BodyReadTimeout == 0 {
		s.cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.MaxTokenTTL <= 0 {
		cfg.MaxTokenTTL = DefaultMaxTokenTTL
		s.cfg.MaxTokenTTL = cfg.MaxTokenTTL
	}
	s.access = newAccessCache()
	s.limits = newRateLimits(cfg.Limits)
	if s.headers, err = newPageHeaders(cfg.FrameAncestors); err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Library != nil {
		if err := cfg.Registry.Register(newLibraryCollector(cfg.Library, logger)); err != nil {
			s.Close()
			return nil, fmt.Errorf("register metrics: %w", err)
		}
		if cfg.APIToken == "" {
			s.Close()
			return nil, errors.New("server: the API needs a token")
		}
		if s.sessions, err = openSessions(filepath.Join(cfg.DataDir, SessionsFile)); err != nil {
			s.Close()
			return nil, err
		}
		if s.keys, err = os.OpenRoot(cfg.Library.Layout().KeysDir()); err != nil {
			s.Close()
			return nil, fmt.Errorf("open keys dir: %w", err)
		}
		if s.sources, err = openTree(cfg.Library.Layout().SourcesDir(), "sources", cfg.PlaylistMaxAge, cfg.PlaylistRecheck); err != nil {
			s.Close()
			return nil, err
		}
		if s.otf == nil {
			s.otf = newOTF(cfg)
		}
		if s.tus, err = s.newTus(); err != nil {
			s.Close()
			return nil, err
		}
		if cfg.OpenAPI != nil {
			s.openAPI = newOpenAPIDoc(cfg.OpenAPI)
		}
	}
	s.routes()
	s.handler = s.bodyTimeout(s.instrument(rejectBadPaths(s.delivery(s.limit(s.mux)))))
	if len(cfg.TrustedProxies) > 0 {
		s.handler = s.fromProxies(s.handler) // first: logs and limits see the client
	}
	return s, nil
}

// routes lists every route of the server. Routes of other files of this
// package (REST API, web UI) are added here too, so the whole URL space
// reads in one place.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /readyz", s.handleReady) // health.go
	if !s.cfg.SeparateMetrics {
		s.mux.Handle("GET /metrics", s.MetricsHandler())
	}

	// Delivery. GET also answers HEAD; OPTIONS is the CORS preflight; any
	// other method gets the mux's 405 with an Allow header.
	// They are prefix patterns ("/hls/" is /hls/{id}/{path...}) split by
	// the handlers themselves: wildcard matching allocates per request.
	s.mux.HandleFunc("GET "+mediaPrefix, s.handleMedia)
	s.mux.HandleFunc("OPTIONS "+mediaPrefix, s.handleOptions)
	if s.static != nil {
		s.mux.HandleFunc("GET "+staticPrefix, s.handleStaticTree) // MP4 files as HLS too (otf.go)
		s.mux.HandleFunc("OPTIONS "+staticPrefix, s.handleOptions)
		// Folders are never listed, not even by a redirect to "folder/".
		s.mux.HandleFunc("GET /static", s.handleNotFound)
	}
	if s.cfg.Library != nil {
		s.apiRoutes()    // REST API and tus uploads, api.go
		s.signedRoutes() // signed playback and playback tokens, signed.go
		s.uiRoutes()     // web UI: pages, sign-in, assets (ui.go)
	}
}

// MetricsHandler serves the registry's metrics in Prometheus' formats; it
// is mounted at /metrics unless Config.SeparateMetrics is set.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelError),
	})
}

// Handle registers an extra route on the server's mux (pattern as for
// http.ServeMux, e.g. "GET /ui/"). It exists for handlers built outside this
// package, such as an embedded web UI; it must be called before serving.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP runs the shared middleware and the matching route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Close releases the served folders.
func (s *Server) Close() error {
	if s.uploads != nil {
		s.uploads.close()
	}
	if s.keys != nil {
		s.keys.Close()
	}
	s.media.close()
	if s.sources != nil {
		s.sources.close()
	}
	if s.static != nil {
		s.static.close()
	}
	return nil
}

// Serve answers HTTP (or HTTPS and HTTP/2 when the config names a
// certificate) on ln until ctx is cancelled, then shuts down gracefully: it
// stops accepting, lets in-flight responses finish for up to
// ShutdownTimeout, closes what remains, and returns nil. Any other failure
// of the listener is returned.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	useTLS := s.cfg.TLSCertFile != "" || s.cfg.TLSKeyFile != ""
	if useTLS {
		if s.cfg.TLSCertFile == "" || s.cfg.TLSKeyFile == "" {
			return errors.New("server: TLS needs both a certificate and a key")
		}
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("load tls certificate: %w", err)
		}
		// NextProtos h2 first: http.Server then serves HTTP/2 over TLS.
		hs.TLSConfig = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
		}
	}

	if s.cfg.MaxConns > 0 {
		ln = newLimitListener(ln, s.cfg.MaxConns)
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if useTLS {
			err = hs.ServeTLS(ln, "", "")
		} else {
			err = hs.Serve(ln)
		}
		errc <- err
	}()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.logger.Info("shutting down", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// The deadline passed with responses still running: cut them.
		s.logger.Warn("shutdown deadline passed, closing remaining connections", "err", err)
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	s.logger.Info("stopped")
	return nil
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) { notFound(w) }

// handleHealth answers load balancers and orchestrators: the process is up
// and serving. It does no I/O so that it stays cheap under load.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(http.StatusOK)
	w.Write(healthBody)
}

var healthBody = []byte(`{"status":"ok"}` + "\n")

// Precomputed header values, assigned straight into the header map so the
// hot path allocates no []string per request. They must never be modified.
var (
	hdrJSON      = []string{"application/json"}
	hdrNoStore   = []string{"no-store"}
	hdrNoCache   = []string{"no-cache"}
	hdrImmutable = []string{"public, max-age=31536000, immutable"}
	hdrGzip      = []string{"gzip"}
	hdrNosniff   = []string{"nosniff"}
)
