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
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/server"
)

// serveConfig is everything `hlsd serve` is configured with, after flags
// and HLSD_* variables.
type serveConfig struct {
	Addr            string
	DataDir         string
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
	// KeepSource keeps the source rendition in a finished presentation
	// when it is taller than the ladder's top rung.
	KeepSource bool

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
	fs.StringVar(&cfg.WebhookSecret, "webhook-secret", "", "sign webhook requests with HMAC-SHA256 and this `secret` (Hlsd-Signature header)")
	fs.BoolVar(&cfg.KeepSource, "keep-source-rendition", true, "keep the source rendition (an H.264/AAC MP4 upload served as is, playable at once) once the ladder is done, when it is taller than the top rung")
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

	// --- listener first, then the data dir (serveops.go) ---
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return hlsd.Errorf(hlsd.EINVALID, "cannot listen on %s: %v", cfg.Addr, unwrapNet(err))
	}
	defer ln.Close() // on an error before Serve; Serve closes it too
	toolErr := cfg.Ops.checkTools(ctx, logger)
	mediaDir := filepath.Join(cfg.DataDir, "media")
	if err := os.MkdirAll(mediaDir, 0o755); err != nil {
		return hlsd.Errorf(hlsd.EINVALID, "cannot create data dir %s: %v", mediaDir, unwrapPath(err))
	}
	// --- end ---

	token, err := m.apiToken(cfg)
	if err != nil {
		return err
	}
	keyring, err := cfg.Security.keyring(cfg.DataDir, logger)
	if err != nil {
		return err
	}
	lib, err := library.New(ctx, library.Config{
		DataDir:       cfg.DataDir,
		Workers:       cfg.Workers,
		Logger:        logger,
		WebhookURL:    cfg.WebhookURL,
		WebhookSecret: cfg.WebhookSecret,
		WatchDir:      cfg.WatchDir,
		WatchMaxSize:  cfg.MaxUpload,
		// Watched files get the same defaults as uploads (security.go).
		WatchVisibility: cfg.Security.DefaultVisibility,
		WatchEncrypt:    cfg.Security.Encrypt,
		Present:         server.PresentMedia,

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

	srv, err := server.New(server.Config{
		Library:         lib,
		APIToken:        token,
		MaxUpload:       cfg.MaxUpload,
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

		Signing:           keyring,
		DefaultVisibility: cfg.Security.DefaultVisibility,
		EncryptByDefault:  cfg.Security.Encrypt,
		MaxTokenTTL:       cfg.Security.MaxTokenTTL,
		Limits:            cfg.Security.Limits,
		MaxConns:          cfg.Security.MaxConns,
		FrameAncestors:    cfg.Security.FrameAncestors,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

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
