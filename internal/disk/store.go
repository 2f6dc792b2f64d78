package disk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hlsd/hlsd"
)

// Store is the hlsd.Store of a data directory: the key "media/ID/720p/init.mp4"
// is the file DATA/media/ID/720p/init.mp4 (see the key functions in
// layout.go). Every access goes through an os.Root, so a key can never reach
// outside the data directory, even through a symlink. Writes are made in
// DATA/tmp (same file system) and renamed into place: a reader sees the old
// file or the new one, never a partial one. Open returns the *os.File
// itself, so net/http sends it with sendfile as it did before the contract.
//
// A key that is also the folder of other keys ("a" beside "a/b") is refused
// with ECONFLICT: a file system has no such objects. hlsd's keys never clash.
type Store struct {
	root   *os.Root
	dir    string
	noSync bool
}

var _ hlsd.Store = (*Store)(nil)

// NewStore opens the store of the data directory dir, creating dir and its
// tmp folder when missing. The caller closes it.
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpFolder), DirPerm); err != nil {
		return nil, fmt.Errorf("create store dir: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open store dir: %w", err)
	}
	return &Store{root: root, dir: dir}, nil
}

// NewScratchStore is NewStore for data that may be lost in a crash (a
// cache, emptied at start anyway): writes are not synced to the device,
// which saves a disk flush per object.
func NewScratchStore(dir string) (*Store, error) {
	s, err := NewStore(dir)
	if s != nil {
		s.noSync = true
	}
	return s, err
}

// Dir returns the data directory the store serves.
func (s *Store) Dir() string { return s.dir }

// Close releases the store's directory handle.
func (s *Store) Close() error { return s.root.Close() }

// File is an object opened from the disk: the *os.File itself (so
// http.ServeContent reaches sendfile: net checks for syscall.Conn, which
// *os.File implements) with the ObjectInfo it was opened with.
type File struct {
	*os.File
	info hlsd.ObjectInfo
}

// Info returns what the file was when opened.
func (f *File) Info() hlsd.ObjectInfo { return f.info }

// Open opens the file of key.
func (s *Store) Open(ctx context.Context, key string) (hlsd.Object, error) {
	if err := hlsd.CheckKey(key); err != nil {
		return nil, err
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, s.failRead(key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notFound(key)
	}
	return &File{File: f, info: info(key, fi)}, nil
}

// Stat describes the file of key.
func (s *Store) Stat(ctx context.Context, key string) (hlsd.ObjectInfo, error) {
	if err := hlsd.CheckKey(key); err != nil {
		return hlsd.ObjectInfo{}, err
	}
	fi, err := s.root.Stat(key)
	if err != nil {
		return hlsd.ObjectInfo{}, s.failRead(key, err)
	}
	if !fi.Mode().IsRegular() {
		return hlsd.ObjectInfo{}, notFound(key)
	}
	return info(key, fi), nil
}

// Put writes r to a temporary file in DATA/tmp, syncs it and renames it to
// key.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	if err := hlsd.CheckKey(key); err != nil {
		return err
	}
	tmp := s.tempName("put")
	if err := s.writeFile(ctx, tmp, r, filePerm(key)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := s.root.MkdirAll(path.Dir(key), dirPerm(key)); err != nil {
		s.root.Remove(tmp)
		return s.fail(key, err)
	}
	if err := s.root.Rename(tmp, key); err != nil {
		s.root.Remove(tmp)
		return s.fail(key, err)
	}
	return nil
}

// PutTree copies tree into a staging folder of DATA/tmp, then swaps it with
// the folder of prefix in one rename (renameat2 RENAME_EXCHANGE), so readers
// see the old tree or the new one whole, then removes the old one.
func (s *Store) PutTree(ctx context.Context, prefix string, tree fs.FS) error {
	if err := hlsd.CheckFolder(prefix); err != nil {
		return err
	}
	files, err := hlsd.PublishOrder(tree)
	if err != nil {
		return err
	}
	stage := s.tempName("tree")
	defer s.root.RemoveAll(stage)
	if err := s.root.Mkdir(stage, DirPerm); err != nil {
		return fmt.Errorf("put tree %s: %w", prefix, err)
	}
	for _, name := range files {
		if err := s.copyFromFS(ctx, tree, name, path.Join(stage, name)); err != nil {
			return fmt.Errorf("put tree %s: %w", prefix, err)
		}
	}
	target := strings.TrimSuffix(prefix, "/")
	if err := s.root.MkdirAll(path.Dir(target), DirPerm); err != nil {
		return s.fail(prefix, err)
	}
	switch fi, err := s.root.Lstat(target); {
	case errors.Is(err, fs.ErrNotExist):
		if err := s.root.Rename(stage, target); err != nil {
			return s.fail(prefix, err)
		}
		return nil
	case err != nil:
		return s.fail(prefix, err)
	case !fi.IsDir():
		return hlsd.Errorf(hlsd.ECONFLICT, "object %q is a file, not a folder", target)
	}
	// Both exist: exchange them atomically; the old tree ends up at stage
	// and the deferred RemoveAll deletes it.
	if err := s.exchange(stage, target); err != nil {
		return fmt.Errorf("put tree %s: %w", prefix, err)
	}
	return nil
}

// exchange swaps two entries of the root. os.Root has no renameat2, so the
// paths are resolved under the data directory; both were checked as keys
// and neither is a symlink (Lstat above, Mkdir of stage).
func (s *Store) exchange(a, b string) error {
	pa, pb := filepath.Join(s.dir, filepath.FromSlash(a)), filepath.Join(s.dir, filepath.FromSlash(b))
	err := unix.Renameat2(unix.AT_FDCWD, pa, unix.AT_FDCWD, pb, unix.RENAME_EXCHANGE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	// A file system without RENAME_EXCHANGE: two renames, with a short
	// moment where the folder is missing (readers get 404, never a mix).
	old := s.tempName("old")
	if err := s.root.Rename(b, old); err != nil {
		return err
	}
	if err := s.root.Rename(a, b); err != nil {
		s.root.Rename(old, b)
		return err
	}
	return s.root.Rename(old, a)
}

// List walks the folder of prefix. DATA/tmp, the store's scratch space, is
// never listed.
func (s *Store) List(ctx context.Context, prefix string) ([]hlsd.ObjectInfo, error) {
	if err := hlsd.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	start := strings.TrimSuffix(prefix, "/")
	if start == "" {
		start = "."
	}
	var out []hlsd.ObjectInfo
	err := fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			return err
		}
		if p == start && start != "." && !d.IsDir() {
			return fs.SkipAll // "a/" selects nothing when "a" is a file
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() && p == tmpFolder {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while listing
		} else if err != nil {
			return err
		}
		out = append(out, info(p, fi))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b hlsd.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes the file of key.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := hlsd.CheckKey(key); err != nil {
		return err
	}
	fi, err := s.root.Lstat(key)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	} else if err != nil {
		return s.fail(key, err)
	} else if fi.IsDir() {
		return nil // a folder is not an object
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s.fail(key, err)
	}
	return nil
}

// DeletePrefix removes the folder of prefix and everything in it.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if err := hlsd.CheckFolder(prefix); err != nil {
		return err
	}
	if err := s.root.RemoveAll(strings.TrimSuffix(prefix, "/")); err != nil {
		return s.fail(prefix, err)
	}
	return nil
}

// tempName returns a fresh name in DATA/tmp.
func (s *Store) tempName(kind string) string {
	return tmpFolder + "/." + kind + "-" + rand.Text()
}

// writeFile writes r to the new file name (which must not exist), synced.
func (s *Store) writeFile(ctx context.Context, name string, r io.Reader, perm os.FileMode) (err error) {
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			s.root.Remove(name)
		}
	}()
	if _, err = io.Copy(f, ctxReader{ctx, r}); err != nil {
		return err
	}
	if !s.noSync {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	return f.Close()
}

func (s *Store) copyFromFS(ctx context.Context, tree fs.FS, name, dst string) error {
	src, err := tree.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := s.root.MkdirAll(path.Dir(dst), DirPerm); err != nil {
		return err
	}
	return s.writeFile(ctx, dst, src, FilePerm)
}

// filePerm is the mode of the file of key: the AES keys of encrypted media
// are readable by hlsd alone (see Layout.KeysDir).
func filePerm(key string) os.FileMode {
	if strings.HasPrefix(key, keysFolder+"/") {
		return 0o600
	}
	return FilePerm
}

// dirPerm is the mode of the folders created for key.
func dirPerm(key string) os.FileMode {
	if strings.HasPrefix(key, keysFolder+"/") {
		return 0o700
	}
	return DirPerm
}

// failRead classifies an error of a read: a path through a file ("a/b"
// where "a" is a file) names no object, as on S3.
func (s *Store) failRead(key string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) {
		return notFound(key)
	}
	return s.fail(key, err)
}

// fail classifies a file system error of key.
func (s *Store) fail(key string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return notFound(key)
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR), errors.Is(err, fs.ErrExist):
		return hlsd.Errorf(hlsd.ECONFLICT, "object %q clashes with a folder of the same name", key)
	}
	return fmt.Errorf("%s: %w", key, err)
}

func notFound(key string) error { return hlsd.Errorf(hlsd.ENOTFOUND, "object %q not found", key) }

// info makes the ObjectInfo of a file. The ETag joins inode, size and
// modification time (as nginx joins the last two): a Put renames a new
// inode into place, so the tag changes with every write.
func info(key string, fi fs.FileInfo) hlsd.ObjectInfo {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return hlsd.ObjectInfo{
		Key:     key,
		Size:    fi.Size(),
		ModTime: fi.ModTime(),
		ETag:    fmt.Sprintf(`"%x-%x-%x"`, ino, fi.Size(), fi.ModTime().UnixNano()),
	}
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
