package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestTusLogAtDebug(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var buf bytes.Buffer
		l := newTusLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level})))
		l.With("id", "abc").Error("UploadInterrupted", "err", "unexpected EOF")
		got := buf.String()
		if level == slog.LevelDebug && !strings.Contains(got, `level=DEBUG msg=UploadInterrupted component=tus id=abc err="unexpected EOF"`) {
			t.Errorf("at debug: %q", got)
		}
		if level == slog.LevelInfo && got != "" {
			t.Errorf("at info, tus lines show: %q", got)
		}
	}
}
