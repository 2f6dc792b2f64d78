package disk

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// TreeStats counts what LinkTree did.
type TreeStats struct {
	Files, Linked int
	Bytes         int64
}

// LinkTree recreates the regular files under src in dst (created), each as
// a hard link where src and dst share a file system and the link is
// allowed, otherwise as a synced copy. Directories keep their modes;
// symbolic links and other special files are skipped, never followed.
// skip, when non-nil, leaves out a path relative to src (a directory
// with everything under it). Hard links fit what hlsd stores: published
// files are never rewritten in place, only replaced by renames.
func LinkTree(src, dst string, skip func(rel string, d fs.DirEntry) bool) (TreeStats, error) {
	var st TreeStats
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel != "." && skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case !info.Mode().IsRegular():
			return nil
		}
		st.Files++
		st.Bytes += info.Size()
		if os.Link(p, target) == nil {
			st.Linked++
			return nil
		}
		if err := copyFile(p, target); err != nil {
			return fmt.Errorf("copy %s: %w", rel, err)
		}
		return os.Chmod(target, info.Mode().Perm())
	})
	return st, err
}

// CopyFile copies the regular file src to dst (created or replaced): a
// synced copy written under a temporary name and renamed into place.
func CopyFile(src, dst string) error { return copyFile(src, dst) }
