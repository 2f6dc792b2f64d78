package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hlsd/hlsd"
	"golang.org/x/sys/unix"
)

// checkReplaceable refuses an Output that exists but is not a presentation
// (a file, or a folder with other content): replacing it would delete what
// the user did not mean to lose.
func checkReplaceable(out string) error {
	fi, err := os.Lstat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return writeError(out, err)
	}
	if !fi.IsDir() {
		return hlsd.Errorf(hlsd.EINVALID, "%s exists and is not a directory", out)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return writeError(out, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, masterName)); err != nil {
		return hlsd.Errorf(hlsd.EINVALID, "%s exists and is not an HLS presentation: choose another output directory", out)
	}
	return nil
}

// publish moves the finished work directory to out in one step. A missing
// out is a plain rename; an existing one is swapped with renameat2
// RENAME_EXCHANGE so that readers see the old or the new presentation,
// never neither, and the old one is removed afterwards. Where the exchange
// is unsupported, the old one is renamed aside first.
func publish(work, out string) error {
	if err := os.Chmod(work, sharedPerm(filepath.Dir(out))); err != nil {
		return err
	}
	if _, err := os.Lstat(out); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(work, out)
	}
	err := unix.Renameat2(unix.AT_FDCWD, work, unix.AT_FDCWD, out, unix.RENAME_EXCHANGE)
	if err == nil {
		return os.RemoveAll(work) // work now holds the old presentation
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("exchange %s: %w", out, err)
	}
	aside := work + ".old"
	if err := os.Rename(out, aside); err != nil {
		return err
	}
	if err := os.Rename(work, out); err != nil {
		if rerr := os.Rename(aside, out); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return os.RemoveAll(aside)
}
