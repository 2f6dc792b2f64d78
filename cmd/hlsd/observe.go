package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/webhook"
)

// serveMetrics serves h at /metrics on its own listener at addr
// (--metrics-addr), until the returned stop is called. The main listener
// then has no /metrics (server.Config.SeparateMetrics).
func serveMetrics(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "cannot listen on --metrics-addr %s: %v", addr, unwrapNet(err))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: server.ReadHeaderTimeout,
		IdleTimeout:       server.IdleTimeout,
		MaxHeaderBytes:    server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "err", err)
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if hs.Shutdown(sctx) != nil {
			hs.Close()
		}
		<-done
	}, nil
}

// printWebhookSecret prints the Standard Webhooks form (whsec_<base64>) of
// a --webhook-secret given as a plain string, which is what receivers'
// verifier libraries take.
func (m *Main) printWebhookSecret(secret string) {
	if secret == "" || strings.HasPrefix(secret, webhook.SecretPrefix) {
		return
	}
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		return // checked with the flags
	}
	fmt.Fprintf(m.Stderr, "Webhook secret for Standard Webhooks verifiers: %s\n", webhook.FormatSecret(key))
}
