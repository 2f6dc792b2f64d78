package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/webhook"
)

// tokenFile is where the generated API token is kept, inside the data dir.
const tokenFile = "api-token"

// libraryStopTimeout bounds the wait for running transcodes to hand their
// jobs back at shutdown.
const libraryStopTimeout = 30 * time.Second

// checkLibraryFlags validates the library and API flags of serve.
func (cfg *serveConfig) checkLibraryFlags(maxUpload string) error {
	if cfg.Workers < 1 {
		return hlsd.Errorf(hlsd.EINVALID, "--workers must be at least 1")
	}
	n, err := library.ParseSize(maxUpload)
	if err != nil {
		return hlsd.Errorf(hlsd.EINVALID, "--max-upload: %v", err)
	}
	if n <= 0 {
		return hlsd.Errorf(hlsd.EINVALID, "--max-upload must be positive")
	}
	cfg.MaxUpload = n
	if cfg.WebhookURL != "" {
		u, err := url.Parse(cfg.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return hlsd.Errorf(hlsd.EINVALID, "--webhook %q: want an http:// or https:// URL", cfg.WebhookURL)
		}
	} else if cfg.WebhookSecret != "" {
		return hlsd.Errorf(hlsd.EINVALID, "--webhook-secret needs --webhook")
	}
	if cfg.WebhookSecret != "" {
		if _, err := webhook.ParseSecret(cfg.WebhookSecret); err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "--webhook-secret: %v", err)
		}
	}
	if t := cfg.APIToken; t != "" && (strings.TrimSpace(t) != t || len(t) < 16) {
		return hlsd.Errorf(hlsd.EINVALID, "--api-token must be at least 16 characters, without surrounding spaces")
	}
	return nil
}

// apiToken returns the API token: --api-token (or HLSD_API_TOKEN), else
// the one saved in DATA/api-token, else a new random one that is saved there
// (mode 0600) and printed once on stderr.
func (m *Main) apiToken(cfg serveConfig) (string, error) {
	if cfg.APIToken != "" {
		return cfg.APIToken, nil
	}
	path := filepath.Join(cfg.DataDir, tokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", hlsd.Errorf(hlsd.EINVALID, "%s is empty: delete it to generate a new API token", path)
		}
		return t, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", hlsd.Errorf(hlsd.EINVALID, "cannot read the API token: %v", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	t := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return "", hlsd.Errorf(hlsd.EINVALID, "cannot create data dir %s: %v", cfg.DataDir, unwrapPath(err))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", hlsd.Errorf(hlsd.EINVALID, "cannot save the API token: %v", err)
	}
	_, werr := f.WriteString(t + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("save api token: %w", err)
	}
	fmt.Fprintf(m.Stderr, "API token (saved in %s): %s\n", path, t)
	return t, nil
}

// stopLibrary stops the workers (running transcodes are handed back to the
// queue for the next start) and releases the data dir.
func (m *Main) stopLibrary(lib *library.Library, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), libraryStopTimeout)
	defer cancel()
	if err := lib.Stop(ctx); err != nil {
		logger.Error("stop library", "err", err)
	}
}
