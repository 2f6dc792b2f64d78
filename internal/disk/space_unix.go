//go:build unix

package disk

import (
	"os"
	"syscall"
)

// Free returns the bytes this process may still write on the file system
// holding path (root may use the blocks reserved for it), and false when
// statfs fails.
func Free(path string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, false
	}
	blocks := st.Bavail
	if os.Geteuid() == 0 {
		blocks = st.Bfree
	}
	return int64(blocks) * int64(st.Bsize), true
}
