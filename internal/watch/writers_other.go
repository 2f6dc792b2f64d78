//go:build !linux

package watch

import (
	"errors"
	"io/fs"
	"log/slog"
)

// writeEvents needs inotify (Linux); elsewhere the quiet period and the
// container check decide alone.
type writeEvents struct{}

func watchWrites(string) (*writeEvents, error) {
	return nil, errors.New("inotify is Linux only")
}

func (*writeEvents) drain(*slog.Logger) map[string]bool { return nil }

func (*writeEvents) close() {}

// lazyWriters needs /proc (Linux); elsewhere no writer can be seen.
type lazyWriters struct{}

func (*lazyWriters) holder(fs.FileInfo, *slog.Logger) int { return 0 }
