// Package watch ingests files dropped into a folder (--watch DIR).
//
// It polls rather than relying on inotify alone: polling works the same on
// network shares, bind mounts and every OS, and a file must be watched over
// time anyway, because a copy in progress looks like any other file. A file
// is taken once all of these hold:
//
//   - its size and modification time have not changed for Config.Quiet
//     (--watch-quiet, 10 s by default), as seen by StablePolls polls after
//     the one that first saw it;
//   - no process hlsd can see has it open for writing: on Linux, hlsd reads
//     /proc/*/fd and fdinfo (its own user's processes, or every process when
//     it runs as root), and an inotify watch on the folder reports a write
//     not yet followed by a close-write event, whoever the writer;
//   - its container is complete where that can be checked: an MP4/MOV file
//     (ISO base media) must hold a moov box and its top-level boxes must add
//     up to the file's size. A file that stays incomplete and unchanged for
//     Config.GiveUp is imported anyway, and fails into DIR/.failed/.
//
// What cannot be seen: writers of other users when hlsd is not root (their
// /proc entries are closed to it; inotify still reports their writes on a
// local file system), and writers on other machines of a network file
// system (no inotify events, no /proc entries): there only the quiet period
// and the container check apply.
//
// Skipped: folders, symlinks and other non-regular files, dotfiles (editors'
// and rsync's temporaries, and the .failed folder), names ending in .part,
// .partial, .tmp, .crdownload or .download (browsers' and downloaders'
// partial files), and empty files (a copy that has not started writing).
//
// A file that fails to import is moved to DIR/.failed/ with NAME.error.txt
// beside it saying why, so it is neither lost nor retried forever; moving it
// back into DIR tries again. Everything the watcher opens, renames or writes
// in DIR goes through an os.Root on DIR: a symlink planted in the folder
// never makes hlsd write outside it, a .failed that is not a real folder is
// refused, and a note is only ever created, never written over.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hlsd/hlsd"
)

// DefaultInterval is the polling interval when Config.Interval is zero.
const DefaultInterval = time.Second

// DefaultQuiet is how long a file must stay unchanged when Config.Quiet is
// zero.
const DefaultQuiet = 10 * time.Second

// StablePolls is how many consecutive polls must see a file unchanged after
// the poll that first saw it before it is imported, however short Quiet is.
const StablePolls = 2

// FailedDir is the folder, inside the watched one, of files that failed.
const FailedDir = ".failed"

// noteSuffix ends the name of the text file beside a failed file.
const noteSuffix = ".error.txt"

// partialSuffixes mark files still being downloaded or copied.
var partialSuffixes = []string{".part", ".partial", ".tmp", ".crdownload", ".download"}

// Config is what New needs.
type Config struct {
	// Dir is the watched folder; New creates it when missing.
	Dir string
	// Interval is the time between polls (DefaultInterval when zero).
	Interval time.Duration
	// Quiet is how long a file's size and modification time must stay the
	// same before it is taken (DefaultQuiet when zero).
	Quiet time.Duration
	// GiveUp is how long a file whose container is incomplete (an MP4
	// without its moov box, say) must stay unchanged before it is imported
	// anyway, so that a truncated file ends in FailedDir with a reason
	// rather than waiting forever. Zero means 30 times Quiet.
	GiveUp time.Duration
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
	root   *os.Root
	// writes tracks writes the kernel reported (inotify, Linux only; nil
	// elsewhere or when inotify is unavailable).
	writes *writeEvents
	seen   map[string]observation
	// failed remembers files that failed and could not be moved away
	// either, so they are not retried on every poll.
	failed map[string]observation
}

type observation struct {
	size int64
	mod  time.Time
	// since is when a poll first saw this size and modification time, and
	// polls how many polls saw them.
	since time.Time
	polls int
	// waiting is why the file was last held back, logged once per reason.
	waiting string
}

// New checks cfg, creates the watched folder if needed and opens it.
func New(cfg Config) (*Watcher, error) {
	if cfg.Dir == "" || cfg.Import == nil {
		return nil, errors.New("watch: Dir and Import are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = DefaultQuiet
	}
	if cfg.GiveUp <= 0 {
		cfg.GiveUp = 30 * cfg.Quiet
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
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "cannot open watch folder %s: %v", cfg.Dir, err)
	}
	w := &Watcher{cfg: cfg, logger: logger, root: root, seen: map[string]observation{}, failed: map[string]observation{}}
	w.writes, err = watchWrites(cfg.Dir)
	if err != nil {
		logger.Warn("no inotify on the watch folder; relying on the quiet period, /proc and container checks", "dir", cfg.Dir, "err", err)
	}
	return w, nil
}

// Close releases the folder (and the inotify watch). Run closes the
// Watcher when it returns.
func (w *Watcher) Close() error {
	if w.writes != nil {
		w.writes.close()
		w.writes = nil
	}
	return w.root.Close()
}

// Run polls until ctx is done, then closes the Watcher and returns nil. A
// folder that cannot be read is logged and tried again at the next poll.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.Close()
	w.logger.Info("watching folder", "dir", w.cfg.Dir, "interval", w.cfg.Interval, "quiet", w.cfg.Quiet)
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

// Poll looks at the folder once, importing the files that are complete
// (see the package comment).
func (w *Watcher) Poll(ctx context.Context) error {
	dir, err := w.root.Open(".")
	if err != nil {
		return fmt.Errorf("open watch folder: %w", err)
	}
	entries, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return fmt.Errorf("read watch folder: %w", err)
	}
	var dirty map[string]bool
	if w.writes != nil {
		dirty = w.writes.drain(w.logger)
	}
	writers := lazyWriters{}
	present := map[string]bool{}
	now := time.Now()
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
		obs := observation{size: info.Size(), mod: info.ModTime(), since: now}
		if f, ok := w.failed[name]; ok {
			if f.size == obs.size && f.mod.Equal(obs.mod) {
				continue
			}
			delete(w.failed, name) // replaced by a new file: watch it afresh
		}
		if prev, ok := w.seen[name]; ok && prev.size == obs.size && prev.mod.Equal(obs.mod) {
			obs.since, obs.polls, obs.waiting = prev.since, prev.polls, prev.waiting
		}
		obs.polls++
		w.seen[name] = obs
		if obs.size == 0 || obs.polls <= StablePolls || now.Sub(obs.since) < w.cfg.Quiet {
			continue
		}
		why, giveUp := w.incomplete(name, info, dirty[name], &writers)
		if why != "" && !(giveUp && now.Sub(obs.since) >= w.cfg.GiveUp) {
			if obs.waiting != why {
				w.logger.Info("watch folder file not complete yet; waiting", "file", name, "reason", why)
				obs.waiting = why
				w.seen[name] = obs
			}
			continue
		}
		if why != "" {
			w.logger.Warn("watch folder file still incomplete; importing it anyway", "file", name, "reason", why, "unchanged", now.Sub(obs.since).Round(time.Second))
		}
		delete(w.seen, name)
		w.importFile(ctx, name, obs)
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

// incomplete says why a quiet file is not taken yet ("" when it may be):
// a writer still has it open, or its container is not whole. giveUp is
// true when waiting longer may never help (a truncated container), false
// when a writer is known to hold the file.
func (w *Watcher) incomplete(name string, info fs.FileInfo, written bool, writers *lazyWriters) (why string, giveUp bool) {
	if written {
		return "written to without being closed since (inotify)", false
	}
	if pid := writers.holder(info, w.logger); pid != 0 {
		return "open for writing by process " + strconv.Itoa(pid), false
	}
	f, err := w.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "cannot open: " + err.Error(), true
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || !os.SameFile(st, info) {
		return "replaced while being checked", false
	}
	if err := checkContainer(f, st.Size()); err != nil {
		return err.Error(), true
	}
	return "", false
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
	if _, statErr := w.root.Lstat(name); statErr != nil {
		return // Import moved it anyway
	}
	if moveErr := w.moveFailed(name, err); moveErr != nil {
		w.logger.Error("cannot move failed file out of the watch folder; it will not be retried", "file", name, "err", moveErr)
		w.failed[name] = obs
	}
}

// moveFailed moves name into FailedDir under a free name, with a text file
// beside it holding the error. FailedDir must be a real folder (not a
// symlink); the note is created new, never written over an existing file.
func (w *Watcher) moveFailed(name string, cause error) error {
	info, err := w.root.Lstat(FailedDir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := w.root.Mkdir(FailedDir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		info, err = w.root.Lstat(FailedDir)
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("refusing %s: it is a %s, not a real folder; remove it and hlsd creates a folder there",
			filepath.Join(w.cfg.Dir, FailedDir), kindOf(info.Mode()))
	}
	ext := path.Ext(name)
	dst := name
	for i := 2; ; i++ {
		if !w.exists(path.Join(FailedDir, dst)) && !w.exists(path.Join(FailedDir, dst+noteSuffix)) {
			break
		}
		if i > 1000 {
			return fmt.Errorf("no free name for %s in %s", name, FailedDir)
		}
		dst = strings.TrimSuffix(name, ext) + "-" + strconv.Itoa(i) + ext
	}
	dst = path.Join(FailedDir, dst)
	if err := w.root.Rename(name, dst); err != nil {
		return err
	}
	msg := hlsd.ErrorMessage(cause)
	if hlsd.ErrorCode(cause) == hlsd.EINTERNAL {
		msg = cause.Error()
	}
	note := fmt.Sprintf("%s\n\nhlsd could not import %s at %s.\nMove the file back into the watch folder to try again.\n",
		msg, name, time.Now().UTC().Format(time.RFC3339))
	f, err := w.root.OpenFile(dst+noteSuffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("write note: %w", err)
	}
	_, err = f.WriteString(note)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// exists reports whether name is taken in the folder (as a file, folder or
// link, dangling or not).
func (w *Watcher) exists(name string) bool {
	_, err := w.root.Lstat(name)
	return !errors.Is(err, fs.ErrNotExist)
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}
