// Package watch ingests files dropped into a folder (--watch DIR).
//
// It polls rather than using inotify: polling works the same on network
// shares, bind mounts and every OS, and a file must be watched over time
// anyway, because a copy in progress looks like any other file. A file is
// taken once its size and modification time have stayed the same over two
// consecutive polls after it was first seen (so at least two intervals
// without a write); then Import moves it out of the folder into the library.
//
// Skipped: folders, symlinks and other non-regular files, dotfiles (editors'
// and rsync's temporaries, and the .failed folder), names ending in .part,
// .partial, .tmp, .crdownload or .download (browsers' and downloaders'
// partial files), and empty files (a copy that has not started writing).
//
// A file that fails to import is moved to DIR/.failed/ with NAME.error.txt
// beside it saying why, so it is neither lost nor retried forever; moving it
// back into DIR tries again.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
)

// DefaultInterval is the polling interval when Config.Interval is zero.
const DefaultInterval = time.Second

// FailedDir is the folder, inside the watched one, of files that failed.
const FailedDir = ".failed"

// StablePolls is how many consecutive polls must see a file unchanged after
// the poll that first saw it before it is imported.
const StablePolls = 2

// partialSuffixes mark files still being downloaded or copied.
var partialSuffixes = []string{".part", ".partial", ".tmp", ".crdownload", ".download"}

// Config is what New needs.
type Config struct {
	// Dir is the watched folder; New creates it when missing.
	Dir string
	// Interval is the time between polls (DefaultInterval when zero).
	Interval time.Duration
	// Import takes a file that stopped changing. On success the file must no
	// longer be in Dir (the library moves it into the data directory); on
	// failure it must still be there, and is moved to FailedDir.
	Import func(ctx context.Context, path string) error
	Logger *slog.Logger
}

// Watcher polls one folder. Its methods must not be called concurrently.
type Watcher struct {
	cfg    Config
	logger *slog.Logger
	seen   map[string]observation
	// failed remembers files that failed and could not be moved away
	// either, so they are not retried on every poll.
	failed map[string]observation
}

type observation struct {
	size   int64
	mod    time.Time
	stable int
}

// New checks cfg and creates the watched folder if needed.
func New(cfg Config) (*Watcher, error) {
	if cfg.Dir == "" || cfg.Import == nil {
		return nil, errors.New("watch: Dir and Import are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "cannot use watch folder %s: %v", cfg.Dir, err)
	}
	if info, err := os.Stat(cfg.Dir); err != nil || !info.IsDir() {
		return nil, hlsd.Errorf(hlsd.EINVALID, "watch folder %s is not a folder", cfg.Dir)
	}
	return &Watcher{cfg: cfg, logger: logger, seen: map[string]observation{}, failed: map[string]observation{}}, nil
}

// Run polls until ctx is done, and returns nil then. A folder that cannot
// be read is logged and tried again at the next poll.
func (w *Watcher) Run(ctx context.Context) error {
	w.logger.Info("watching folder", "dir", w.cfg.Dir, "interval", w.cfg.Interval)
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if err := w.Poll(ctx); err != nil && ctx.Err() == nil {
			w.logger.Warn("watch folder poll failed", "dir", w.cfg.Dir, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Candidate reports whether a name in the watched folder may be ingested
// (before its size has been watched).
func Candidate(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") {
		return false
	}
	lower := strings.ToLower(name)
	for _, s := range partialSuffixes {
		if strings.HasSuffix(lower, s) {
			return false
		}
	}
	return true
}

// Poll looks at the folder once, importing the files that have been stable
// for StablePolls polls.
func (w *Watcher) Poll(ctx context.Context) error {
	entries, err := os.ReadDir(w.cfg.Dir)
	if err != nil {
		return fmt.Errorf("read watch folder: %w", err)
	}
	present := map[string]bool{}
	for _, e := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := e.Name()
		if !e.Type().IsRegular() || !Candidate(name) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since ReadDir
		}
		present[name] = true
		now := observation{size: info.Size(), mod: info.ModTime()}
		if f, ok := w.failed[name]; ok {
			if f.size == now.size && f.mod.Equal(now.mod) {
				continue
			}
			delete(w.failed, name) // replaced by a new file: watch it afresh
		}
		prev, ok := w.seen[name]
		if ok && prev.size == now.size && prev.mod.Equal(now.mod) {
			now.stable = prev.stable + 1
		}
		w.seen[name] = now
		if now.stable < StablePolls || now.size == 0 {
			continue
		}
		delete(w.seen, name)
		w.importFile(ctx, name, now)
	}
	for name := range w.seen {
		if !present[name] {
			delete(w.seen, name)
		}
	}
	for name := range w.failed {
		if !present[name] {
			delete(w.failed, name)
		}
	}
	return nil
}

func (w *Watcher) importFile(ctx context.Context, name string, obs observation) {
	path := filepath.Join(w.cfg.Dir, name)
	err := w.cfg.Import(ctx, path)
	if err == nil {
		w.logger.Info("watch folder file imported", "file", name, "bytes", obs.size)
		return
	}
	if ctx.Err() != nil {
		return // shutting down: the file stays and is taken at the next start
	}
	w.logger.Warn("watch folder file failed", "file", name, "err", err)
	if _, statErr := os.Stat(path); statErr != nil {
		return // Import moved it anyway
	}
	if moveErr := w.moveFailed(name, err); moveErr != nil {
		w.logger.Error("cannot move failed file out of the watch folder; it will not be retried", "file", name, "err", moveErr)
		w.failed[name] = obs
	}
}

// moveFailed moves name into FailedDir under a free name, with a text file
// beside it holding the error.
func (w *Watcher) moveFailed(name string, cause error) error {
	dir := filepath.Join(w.cfg.Dir, FailedDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	dst := filepath.Join(dir, name)
	ext := filepath.Ext(name)
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		if i > 1000 {
			return fmt.Errorf("no free name for %s in %s", name, dir)
		}
		dst = filepath.Join(dir, strings.TrimSuffix(name, ext)+"-"+strconv.Itoa(i)+ext)
	}
	if err := os.Rename(filepath.Join(w.cfg.Dir, name), dst); err != nil {
		return err
	}
	msg := hlsd.ErrorMessage(cause)
	if hlsd.ErrorCode(cause) == hlsd.EINTERNAL {
		msg = cause.Error()
	}
	note := fmt.Sprintf("%s\n\nhlsd could not import %s at %s.\nMove the file back into the watch folder to try again.\n",
		msg, name, time.Now().UTC().Format(time.RFC3339))
	return os.WriteFile(dst+".error.txt", []byte(note), 0o640)
}
