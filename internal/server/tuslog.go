package server

import (
	"context"
	"log/slog"

	expslog "golang.org/x/exp/slog"
)

// tusLogHandler passes tusd's log lines (written with golang.org/x/exp/slog)
// to hlsd's logger at debug level, with component=tus: quiet by default,
// and with --log-level debug a failed resumable upload leaves a trace.
type tusLogHandler struct {
	h     slog.Handler
	attrs []slog.Attr
}

func newTusLogger(l *slog.Logger) *expslog.Logger {
	return expslog.New(tusLogHandler{h: l.Handler().WithAttrs([]slog.Attr{slog.String("component", "tus")})})
}

func (t tusLogHandler) Enabled(ctx context.Context, _ expslog.Level) bool {
	return t.h.Enabled(ctx, slog.LevelDebug)
}

func (t tusLogHandler) Handle(ctx context.Context, r expslog.Record) error {
	rec := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
	rec.AddAttrs(t.attrs...)
	r.Attrs(func(a expslog.Attr) bool {
		rec.AddAttrs(slog.Any(a.Key, a.Value.Any()))
		return true
	})
	return t.h.Handle(ctx, rec)
}

func (t tusLogHandler) WithAttrs(as []expslog.Attr) expslog.Handler {
	out := t
	out.attrs = append(append([]slog.Attr(nil), t.attrs...), make([]slog.Attr, 0, len(as))...)
	for _, a := range as {
		out.attrs = append(out.attrs, slog.Any(a.Key, a.Value.Any()))
	}
	return out
}

func (t tusLogHandler) WithGroup(name string) expslog.Handler {
	return tusLogHandler{h: t.h.WithAttrs(t.attrs).WithGroup(name)}
}
