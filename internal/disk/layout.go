// Package disk owns the layout of hlsd's data directory and the file moves
// the library makes in it.
//
// The data directory (--data) holds:
//
//	DATA/hlsd.db              the SQLite catalog and job queue (plus -wal, -shm)
//	DATA/hlsd.lock            held with flock by the one process using DATA
//	DATA/sources/{id}/source.EXT
//	                          the uploaded original, as received. Never under a
//	                          served path, never deleted by a failure: only
//	                          deleting the media removes it, and reprocessing
//	                          starts again from it.
//	DATA/media/{id}/          the served presentation (master.m3u8, one folder
//	                          per rendition, poster.jpg). The delivery server
//	                          serves exactly this folder at /hls/{id}/. It is
//	                          written in place while processing (EVENT
//	                          playlists that gain ENDLIST), so players can start
//	                          early; a failed job removes it.
//	DATA/keys/{id}.key        the AES-128 key of an encrypted media (mode 0600,
//	                          folder 0700), outside the served folder.
//	DATA/tmp/                 uploads being received and other work files. It
//	                          is on the same file system as sources/, so a
//	                          finished upload moves into place with one rename.
//	                          Entries older than StaleAfter are removed at start
//	                          (a crash mid-upload leaves them behind), except
//	                          uploads/: resumable uploads, each expiring by its
//	                          own last write (the server sweeps them).
//
// Ids are checked with hlsd.ValidMediaID before they become path elements.
package disk

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hlsd/hlsd"
)

// StaleAfter is how old an entry of DATA/tmp must be to be removed at start.
// Only one process uses a data directory (see Lock), so anything in tmp at
// start is left over; the margin keeps files a user is inspecting a while.
const StaleAfter = time.Hour

// Permissions of what hlsd creates: the data may be private media.
const (
	DirPerm  = 0o750
	FilePerm = 0o640
)

// Folder names of the data directory. They are also the first element of
// the store keys (see MediaPrefix), so the same key names a file of DATA
// and an object of an S3 bucket.
const (
	mediaFolder   = "media"
	sourcesFolder = "sources"
	keysFolder    = "keys"
	// tmpFolder is the store's scratch space (never listed, never a key of
	// hlsd's own).
	tmpFolder = "tmp"
)

// MediaPrefix is the store prefix of the presentation of media id, served at
// /hls/{id}/.
func MediaPrefix(id string) string { return mediaFolder + "/" + id + "/" }

// SourcePrefix is the store prefix of the original of media id.
func SourcePrefix(id string) string { return sourcesFolder + "/" + id + "/" }

// SourceKey is the store key of the original of media id with the given
// extension (see SourceName).
func SourceKey(id, ext string) string { return SourcePrefix(id) + SourceName(ext) }

// KeyKey is the store key of the AES-128 key of media id.
func KeyKey(id string) string { return keysFolder + "/" + id + ".key" }

// Layout names the paths of one data directory.
type Layout struct {
	// Root is the data directory.
	Root string
}

// DB is the catalog database file.
func (l Layout) DB() string { return filepath.Join(l.Root, "hlsd.db") }

// SourcesDir holds every media's original.
func (l Layout) SourcesDir() string { return filepath.Join(l.Root, sourcesFolder) }

// SourceDir holds one media's original.
func (l Layout) SourceDir(id string) string { return filepath.Join(l.SourcesDir(), id) }

// MediaRoot is the folder whose subfolders are served at /hls/.
func (l Layout) MediaRoot() string { return filepath.Join(l.Root, mediaFolder) }

// MediaDir is the presentation of one media, served at /hls/{id}/.
func (l Layout) MediaDir(id string) string { return filepath.Join(l.MediaRoot(), id) }

// KeysDir holds the AES-128 keys of encrypted media, one file per media,
// mode 0700: never under a served path, so a key is only ever sent by the
// server's key route to a request allowed to play the media.
func (l Layout) KeysDir() string { return filepath.Join(l.Root, keysFolder) }

// KeyFile is the AES-128 key of media id (16 bytes, mode 0600).
func (l Layout) KeyFile(id string) string { return filepath.Join(l.KeysDir(), id+".key") }

// TmpDir holds uploads in progress and work files.
func (l Layout) TmpDir() string { return filepath.Join(l.Root, tmpFolder) }

// uploadsName is UploadsDir's name in TmpDir.
const uploadsName = "uploads"

// UploadsDir holds resumable (tus) uploads in progress. Init leaves it
// alone: each upload there expires on its own, by its last write, and the
// server sweeps them (the folder's own modification time says nothing
// about the uploads in it).
func (l Layout) UploadsDir() string { return filepath.Join(l.TmpDir(), uploadsName) }

// SourceName is the file name of an original with the given extension
// (".mp4", or "" when unknown).
func SourceName(ext string) string { return "source" + ext }

// Source returns the path of the original of media id: the one regular file
// in its source folder. It is ENOTFOUND when there is none.
func (l Layout) Source(id string) (string, error) {
	entries, err := os.ReadDir(l.SourceDir(id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read source dir: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			return filepath.Join(l.SourceDir(id), e.Name()), nil
		}
	}
	return "", hlsd.Errorf(hlsd.ENOTFOUND, "the source file of media %q is missing", id)
}

// Init creates the folders of the layout and removes stale entries of the
// tmp folder.
func (l Layout) Init(logger *slog.Logger) error {
	for _, dir := range []string{l.Root, l.SourcesDir(), l.MediaRoot(), l.TmpDir()} {
		if err := os.MkdirAll(dir, DirPerm); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
	}
	if err := os.MkdirAll(l.KeysDir(), 0o700); err != nil {
		return fmt.Errorf("create keys dir: %w", err)
	}
	entries, err := os.ReadDir(l.TmpDir())
	if err != nil {
		return fmt.Errorf("read tmp dir: %w", err)
	}
	for _, e := range entries {
		if e.Name() == uploadsName {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < StaleAfter {
			continue
		}
		path := filepath.Join(l.TmpDir(), e.Name())
		if err := os.RemoveAll(path); err != nil {
			logger.Warn("remove stale tmp entry", "path", path, "err", err)
		} else {
			logger.Info("removed stale tmp entry", "path", path)
		}
	}
	return nil
}

// Lock takes an exclusive lock on the data directory for this process, so
// that two servers never share one: startup recovery treats every job left
// running as abandoned, which is only true when no other process works on
// the same data. The kernel releases the lock when the process dies, even by
// SIGKILL. The returned function releases it.
func (l Layout) Lock() (unlock func() error, err error) {
	path := filepath.Join(l.Root, "hlsd.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FilePerm)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, hlsd.Errorf(hlsd.ECONFLICT, "data directory %s is in use by another hlsd process", l.Root)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f.Close, nil
}

// Move moves the file src to dst: a rename when both are on one file system,
// otherwise a copy (synced, written under a temporary name and renamed into
// place) followed by removing src. dst's folder must exist.
func Move(src, dst string) error {
	err := os.Rename(src, dst)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	if err := copyFile(src, dst); err != nil {
		return err
	}
	return os.Remove(src)
}

func copyFile(src, dst string) (err error) {
	// src may sit in a folder others write to (the watch folder): a symlink
	// or a FIFO put in its place is refused, never followed or waited on.
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	if info, err := in.Stat(); err != nil || !info.Mode().IsRegular() {
		return fmt.Errorf("move %s: not a regular file", filepath.Base(src))
	}
	tmp := dst + ".part"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, FilePerm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(out, in); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return err
	}
	if err = out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
