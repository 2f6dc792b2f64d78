package disk

import (
	"errors"
	"syscall"
)

// FullMargin is how little free space makes a file system count as full.
// ffmpeg's HLS muxer does not report a failed write (it exits 0 with empty
// playlists), so a failed transcode is put down to a full disk when less
// than this is left where it wrote; a few MiB covers the buffers that were
// being written when space ran out.
const FullMargin = 4 << 20

// Full reports whether the file system holding path has less than
// FullMargin bytes free for this process; false when that cannot be told.
func Full(path string) bool {
	free, ok := Free(path)
	return ok && free < FullMargin
}

// NoSpace reports whether err is a write refused for want of space: a full
// file system (ENOSPC) or a used-up quota (EDQUOT).
func NoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
