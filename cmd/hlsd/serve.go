package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/docs"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/watch"
)

// serveConfig is everything `hlsd serve` is configured with, after flags
// and HLSD_* variables.
type serveConfig struct {
	Addr            string
	DataDir         string
	DB              string // --db: the catalog and job queue's database (db.go)
	StaticDir       string
	CORSOrigins     []string
	LogFormat       string
	TLSCert         string
	TLSKey          string
	ShutdownTimeout time.Duration
	PlaylistMaxAge  time.Duration
	PlaylistRecheck time.Duration

	// Library and API (api.go of internal/server, token.go here).
	APIToken      string
	Workers       int
	MaxUpload     int64
	WatchDir      string
	WebhookURL    string
	WebhookSecret string
	// MetricsAddr, when set, serves /metrics there instead of on Addr.
	MetricsAddr string
	// KeepSource keeps the source rendition in a finished presentation
	// when it is taller than the ladder's top rung.
	KeepSource bool

	// Uploads and the watch folder: --watch-quiet, --upload-expiry.
	WatchQuiet   time.Duration
	UploadExpiry time.Duration

	// Security: signing, visibility, encryption, limits (security.go).
	Security securityConfig

	// Ops: config file, log level, ffmpeg, transcode settings (serveops.go);
	// flags and sources are what `hlsd config` prints.
	Ops     opsConfig
	flags   *flag.FlagSet
	sources map[string]string
}

func runServe(ctx context.Context, m *Main, args []string) error {
	cfg, err := m.parseServeFlags(args)
	if err != nil {
		return err
	}
	return m.serve(ctx, cfg)
}

func (m *Main) parseServeFlags(args []string) (serveConfig, error) {
	var cfg serveConfig
	var cors string
	fs := m.newFlagSet("serve", "[flags]")
	fs.StringVar(&cfg.Addr, "addr", ":8080", "`address` to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&cfg.DataDir, "data", "./data", "data `dir`: the library lives in DIR/media/{id}/, served at /hls/{id}/")
	fs.StringVar(&cfg.DB, "db", "", "catalog and job queue database: an SQLite file `path` (default DATA/hlsd.db) or a postgres://user:pass@host:port/db URL")
	fs.StringVar(&cfg.StaticDir, "static", "", "serve an existing folder of HLS content read-only at /static/")
	fs.StringVar(&cors, "cors-origins", "*", "comma-separated `origins` browsers may play from (scheme://host[:port]), or *")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "log `format`: text, json, or off (off: no access log; start/stop lines still go to stderr as text)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate `file` (PEM); with --tls-key, serve HTTPS and HTTP/2")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key `file` (PEM)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "on SIGINT/SIGTERM, how long in-flight responses may finish")
	fs.DurationVar(&cfg.PlaylistMaxAge, "playlist-max-age", server.DefaultPlaylistMaxAge, "Cache-Control max-age of finished (VOD) and multivariant playlists")
	fs.DurationVar(&cfg.PlaylistRecheck, "playlist-recheck", server.DefaultPlaylistRecheck, "how long a finished (VOD) media playlist is served from memory before its file is checked again (0: every request)")
	var maxUpload string
	fs.StringVar(&cfg.APIToken, "api-token", "", "bearer `token` of the /api/v1 routes; default: DATA/api-token, generated on first start")
	fs.IntVar(&cfg.Workers, "workers", 1, "how many transcodes run at once")
	fs.StringVar(&maxUpload, "max-upload", "20GiB", "largest accepted upload (`size` with unit: 100MB, 20GiB)")
	fs.StringVar(&cfg.WatchDir, "watch", "", "import media files dropped in `dir` once their size stops changing")
	fs.StringVar(&cfg.WebhookURL, "webhook", "", "POST media.ready, media.failed and media.deleted events to `url`")
	fs.StringVar(&cfg.WebhookSecret, "webhook-secret", "", "sign webhook requests (Standard Webhooks) with this `secret`: whsec_<base64>, or any string used as the key bytes")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve /metrics on this separate `address` (host:port) instead of on --addr")
	fs.BoolVar(&cfg.KeepSource, "keep-source-rendition", true, "keep the source rendition (an H.264/AAC MP4 upload served as is, playable at once) once the ladder is done, when it is taller than the top rung")
	// Watch folder and resumable uploads.
	fs.DurationVar(&cfg.WatchQuiet, "watch-quiet", watch.DefaultQuiet, "how long a file in the --watch folder must stay unchanged (and no writer hold it open) before it is imported")
	fs.DurationVar(&cfg.UploadExpiry, "upload-expiry", server.DefaultUploadExpiry, "how long an unfinished tus upload is kept after its last write (advertised in Upload-Expires)")
	cfg.Security.register(fs)
	cfg.Ops.register(fs)
	sources, err := m.parseFlagsFrom(fs, args, true)
	if err != nil {
		return cfg, err
	}
	cfg.flags, cfg.sources = fs, sources
	if err := cfg.Security.check(); err != nil {
		return cfg, err
	}
	if err := cfg.Ops.check(); err != nil {
		return cfg, err
	}
	if err := cfg.checkLibraryFlags(maxUpload); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(m.Stderr, "hlsd serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return cfg, errUsage
	}
	for _, o := range strings.Split(cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			if o != "*" {
				if err := server.ValidOrigin(o); err != nil {
					return cfg, hlsd.Errorf(hlsd.EINVALID, "--cors-origins: %v", err)
				}
			}
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	if len(cfg.CORSOrigins) == 0 {
		return cfg, hlsd.Errorf(hlsd.EINVALID, "--cors-origins is empty; use * to allow every origin")
	}
	switch cfg.LogFormat {
	case "text", "json", "off":
	default:
		return cfg, hlsd.Errorf(hlsd.EINVALID, "--log-format %q: want text, json or off", cfg.LogFormat)
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return cfg, hlsd.Errorf(hlsd.EINVALID, "--tls-cert and --tls-key must be given together")
	}
	if cfg.ShutdownTimeout <= 0 {
		return cfg, hlsd.Errorf(hlsd.EINVALID, "--shutdown-timeout must be positive")
	}
	if cfg.PlaylistMaxAge < time.Second {
		return cfg, hlsd.Errorf(hlsd.EINVALID, "--playlist-max-age must be at least 1s")
	}
	if cfg.WatchQuiet <= 0 {
		return cfg, hlsd.Errorf(hlsd.EINVALID, "--watch-quiet must be positive")
	}
	if cfg.UploadExpiry < time.Second {
		return cfg, hlsd.Errorf(hlsd.EINVALID, "--upload-expiry must be at least 1s")
	}
	if cfg.PlaylistRecheck < 0 || cfg.PlaylistRecheck > time.Minute {
		return cfg, hlsd.Errorf(hlsd.EINVALID, "--playlist-recheck must be between 0 and 1m")
	}
	return cfg, nil
}

// newLogger builds the process logger on w for a --log-format value,
// showing records at level and above.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve checks what it can without side effects, opens the listener (so a
// busy port fails before anything is created), then builds the server's
// dependencies (data dir, token, keys, catalog, job workers) and serves
// until ctx is cancelled; they are closed after the listener stops.
func (m *Main) serve(ctx context.Context, cfg serveConfig) error {
	logger := newLogger(m.Stderr, cfg.LogFormat, cfg.Ops.LogLevel)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(server.DefaultGCPercent)
	}
	if m.Umask != nil {
		// Everything hlsd and its ffmpeg children create in the data dir is
		// private to hlsd's user, unless --umask shares it (security.go).
		m.Umask(cfg.Security.Umask)
	}

	if cfg.StaticDir != "" {
		fi, err := os.Stat(cfg.StaticDir)
		if err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "--static %s: %v", cfg.StaticDir, unwrapPath(err))
		} else if !fi.IsDir() {
			return hlsd.Errorf(hlsd.EINVALID, "--static %s is not a directory", cfg.StaticDir)
		}
	}
	if cfg.TLSCert != "" {
		for _, f := range []string{cfg.TLSCert, cfg.TLSKey} {
			if _, err := os.Stat(f); err != nil {
				return hlsd.Errorf(hlsd.EINVALID, "TLS file %s: %v", f, unwrapPath(err))
			}
		}
	}

	// The listener first: a busy port fails before anything is created.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return hlsd.Errorf(hlsd.EINVALID, "cannot listen on %s: %v", cfg.Addr, unwrapNet(err))
	}
	defer ln.Close() // on an error before Serve; Serve closes it too
	toolErr := cfg.Ops.checkTools(ctx, logger)
	mediaDir := filepath.Join(cfg.DataDir, "media")
	if err := os.MkdirAll(mediaDir, 0o750); err != nil {
		return hlsd.Errorf(hlsd.EINVALID, "cannot create data dir %s: %v", mediaDir, unwrapPath(err))
	}
	// Then the database: when it is unreachable, no key or token is made.
	db, err := openDB(ctx, cfg.DB, cfg.DataDir, logger)
	if err != nil {
		return err
	}
	// Closed after the library has stopped (deferred calls run last-in
	// first-out).
	defer db.Close()

	token, err := m.apiToken(cfg)
	if err != nil {
		return err
	}
	keyring, err := cfg.Security.keyring(cfg.DataDir, logger)
	if err != nil {
		return err
	}
	m.printWebhookSecret(cfg.WebhookSecret)
	registry := server.NewRegistry()
	libMetrics, err := server.NewLibraryMetrics(registry)
	if err != nil {
		return err
	}
	lib, err := library.New(ctx, library.Config{
		DataDir:       cfg.DataDir,
		DB:            db,
		Workers:       cfg.Workers,
		Logger:        logger,
		WebhookURL:    cfg.WebhookURL,
		WebhookSecret: cfg.WebhookSecret,
		WatchDir:      cfg.WatchDir,
		WatchQuiet:    cfg.WatchQuiet,
		WatchMaxSize:  cfg.MaxUpload,
		// Watched files get the same defaults as uploads (security.go).
		WatchVisibility: cfg.Security.DefaultVisibility,
		WatchEncrypt:    cfg.Security.Encrypt,
		Present:         server.PresentMedia,
		Metrics:         libMetrics,

		DropSourceRendition: !cfg.KeepSource,

		FFmpeg:    cfg.Ops.FFmpeg,
		FFprobe:   cfg.Ops.FFprobe,
		Transcode: cfg.Ops.Transcode,
		ToolError: toolErr,
	})
	if err != nil {
		return err
	}
	// The library stops after the HTTP server has drained (deferred calls
	// run last-in first-out): running transcodes go back to the queue.
	defer m.stopLibrary(lib, logger)
	if err := lib.Start(ctx); err != nil {
		return err
	}

	spec, err := docs.OpenAPIJSON()
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Library:         lib,
		OpenAPI:         spec,
		APIToken:        token,
		MaxUpload:       cfg.MaxUpload,
		UploadExpiry:    cfg.UploadExpiry,
		DataDir:         cfg.DataDir,
		StaticDir:       cfg.StaticDir,
		CORSOrigins:     cfg.CORSOrigins,
		Logger:          logger,
		AccessLog:       cfg.LogFormat != "off",
		PlaylistMaxAge:  cfg.PlaylistMaxAge,
		PlaylistRecheck: cfg.PlaylistRecheck,
		TLSCertFile:     cfg.TLSCert,
		TLSKeyFile:      cfg.TLSKey,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Registry:        registry,
		SeparateMetrics: cfg.MetricsAddr != "",

		Signing:           keyring,
		DefaultVisibility: cfg.Security.DefaultVisibility,
		EncryptByDefault:  cfg.Security.Encrypt,
		MaxTokenTTL:       cfg.Security.MaxTokenTTL,
		Limits:            cfg.Security.Limits,
		MaxConns:          cfg.Security.MaxConns,
		FrameAncestors:    cfg.Security.FrameAncestors,
		TrustedProxies:    cfg.Security.TrustedProxies,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(ctx, cfg.MetricsAddr, srv.MetricsHandler(), logger)
		if err != nil {
			return err
		}
		defer stop()
	}

	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	logger.Info("listening", "addr", ln.Addr().String(), "open", openURL(scheme, ln.Addr()), "api_token", tokenSource(cfg),
		"data", cfg.DataDir, "static", cfg.StaticDir)
	return srv.Serve(ctx, ln)
}

// unwrapPath drops the path an *fs.PathError repeats, for one-line messages.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// unwrapNet keeps the cause of a listen error ("address already in use").
func unwrapNet(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Err
		}
		return oe.Err
	}
	return err
}
