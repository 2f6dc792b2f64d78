package hlsd

import (
	"context"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Store is where hlsd keeps files: uploaded sources, the published HLS
// presentations and the keys of encrypted media. It is the contract between
// the parts that read and write files (delivery, library, worker) and a
// storage backend: a local data directory (internal/disk) or an
// S3-compatible object store (internal/s3), with a read-through cache for
// delivery nodes (internal/storecache). Every backend passes the shared
// conformance suite in internal/storetest.
//
// The model is the one object stores and gocloud.dev/blob share: flat,
// slash-separated keys (see ValidKey) naming immutable-once-written objects,
// with no folders and no rename. A write is whole or absent: readers see the
// previous object or the new one, never a prefix of it. A tree is published
// by PutTree so that players, which reach every object through a playlist,
// never follow a reference to a missing or foreign object.
//
// Errors: an unknown key is ENOTFOUND; a malformed key or prefix is
// EINVALID; a backend that cannot be reached (connection refused, timeout,
// 5xx) is EUNAVAILABLE, so delivery can answer 404 and 503 rather than 500.
type Store interface {
	// Open opens the object at key for reading; the caller closes it.
	Open(ctx context.Context, key string) (Object, error)
	// Stat returns what is known about the object at key without reading it.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Put writes r as the object at key, replacing any previous object,
	// atomically: until it returns nil, readers see the previous object (or
	// none). r is read to its end and may be larger than memory.
	Put(ctx context.Context, key string, r io.Reader) error
	// PutTree publishes every regular file of tree under prefix (a folder
	// key ending in "/", see ValidPrefix) and removes the objects under
	// prefix that tree does not have. Playlists are never visible before
	// what they reference: see PublishOrder. A backend with rename
	// (internal/disk) swaps the whole tree in one step.
	PutTree(ctx context.Context, prefix string, tree fs.FS) error
	// List returns the objects whose keys start with prefix ("" or a folder
	// key ending in "/"), in key order.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes the object at key; removing a missing object is not an
	// error, so a retried delete succeeds.
	Delete(ctx context.Context, key string) error
	// DeletePrefix removes every object under prefix, which must be a
	// non-empty folder key ending in "/" (so one call cannot empty a store).
	DeletePrefix(ctx context.Context, prefix string) error
}

// Object is an opened object: a reader that can seek and read at offsets
// (byte ranges for http.ServeContent and MP4 indexes) and knows its size.
// Backends that hold a file descriptor (internal/disk) also implement
// syscall.Conn, which is what lets net/http send the bytes with sendfile.
type Object interface {
	io.ReadSeekCloser
	io.ReaderAt
	// Info describes the object as it was when opened.
	Info() ObjectInfo
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	// Key is the object's key.
	Key string
	// Size is the length in bytes.
	Size int64
	// ModTime is when the object was last written (second precision on S3).
	ModTime time.Time
	// ETag is a quoted HTTP entity tag that changes whenever the content
	// does; delivery sends it as is, so a CDN or player can revalidate.
	ETag string
}

// ValidKey reports whether key can name an object: a slash-separated path
// with no empty, "." or ".." element, no leading or trailing slash and no
// backslash or NUL (fs.ValidPath's rules, minus "." for the root). The same
// key is a path inside a data directory and an S3 object name, so both
// backends accept exactly the same keys.
func ValidKey(key string) bool {
	return key != "." && fs.ValidPath(key) && !strings.ContainsAny(key, "\\\x00")
}

// ValidPrefix reports whether prefix can select objects: "" (every object)
// or a valid key followed by "/".
func ValidPrefix(prefix string) bool {
	return prefix == "" || strings.HasSuffix(prefix, "/") && ValidKey(prefix[:len(prefix)-1])
}

// CheckKey returns an EINVALID error when key is not a ValidKey.
func CheckKey(key string) error {
	if !ValidKey(key) {
		return Errorf(EINVALID, "invalid object key %q", key)
	}
	return nil
}

// CheckPrefix returns an EINVALID error when prefix is not a ValidPrefix.
func CheckPrefix(prefix string) error {
	if !ValidPrefix(prefix) {
		return Errorf(EINVALID, "invalid object prefix %q: want a key ending in /", prefix)
	}
	return nil
}

// CheckFolder returns an EINVALID error unless prefix is a non-empty
// ValidPrefix: what PutTree and DeletePrefix take, so that one call can
// never replace or empty a whole store.
func CheckFolder(prefix string) error {
	if prefix == "" {
		return Errorf(EINVALID, "an empty prefix would select the whole store")
	}
	return CheckPrefix(prefix)
}

// PublishOrder returns the regular files of tree (slash paths) in the order
// a store without rename writes them in PutTree: every file that is not a
// playlist first, then playlists (".m3u8") deepest first, so a rendition's
// index.m3u8 lands after its segments and master.m3u8 last of all. A player
// enters through a playlist, so it never sees a reference to an object that
// is not written yet. Files other than regular files (symlinks, devices) are
// refused: a presentation holds none.
//
// Such a store also removes the playlists already under the prefix before
// writing anything, so a player that holds an old playlist gets 404 rather
// than a mix of old and new segments of the same names, and removes the
// objects the new tree does not have after its last playlist.
func PublishOrder(tree fs.FS) ([]string, error) {
	var files, playlists []string
	err := fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return Errorf(EINVALID, "tree entry %q is not a regular file", p)
		case IsPlaylist(p):
			playlists = append(playlists, p)
		default:
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	depth := func(p string) int { return strings.Count(p, "/") }
	slices.SortStableFunc(playlists, func(a, b string) int { return depth(b) - depth(a) })
	return append(files, playlists...), nil
}

// SeekOffset returns where a Seek(offset, whence) of an object of size
// bytes, now at pos, moves to: what every Object that is not a file computes
// the same way. A negative result is EINVALID; past the end is allowed (a
// Read there returns io.EOF), as for files.
func SeekOffset(pos, size, offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += pos
	case io.SeekEnd:
		offset += size
	default:
		return 0, Errorf(EINVALID, "invalid whence %d", whence)
	}
	if offset < 0 {
		return 0, Errorf(EINVALID, "seek to a negative offset")
	}
	return offset, nil
}

// IsPlaylist reports whether key names a playlist: the objects of a
// presentation that change while it grows, and the last ones PutTree writes.
func IsPlaylist(key string) bool { return path.Ext(key) == ".m3u8" }
