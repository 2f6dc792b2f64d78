package watch

import (
	"bufio"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// writeEvents follows the kernel's inotify events on the watched folder: a
// file written to (IN_MODIFY) and not closed by a writer since
// (IN_CLOSE_WRITE) is still being written, whichever user writes it. The
// events wait in the kernel's queue between polls; drain reads them.
type writeEvents struct {
	fd    int
	dirty map[string]bool
}

func watchWrites(dir string) (*writeEvents, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	mask := uint32(unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ONLYDIR)
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("inotify_add_watch", err)
	}
	return &writeEvents{fd: fd, dirty: map[string]bool{}}, nil
}

// drain reads the events queued since the last call and returns the names
// written to and not closed since. When the kernel's queue overflowed, what
// happened in between is unknown: the record starts afresh.
func (e *writeEvents) drain(logger *slog.Logger) map[string]bool {
	var buf [64 << 10]byte
	for {
		n, err := unix.Read(e.fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			if err != nil && !errors.Is(err, unix.EAGAIN) {
				logger.Warn("read inotify events", "err", err)
			}
			return e.dirty
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameStart := off + unix.SizeofInotifyEvent
			nameEnd := min(nameStart+int(ev.Len), n)
			name := strings.TrimRight(string(buf[nameStart:nameEnd]), "\x00")
			off = nameStart + int(ev.Len)
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				logger.Warn("inotify queue overflowed; open writers are known again from the next events")
				clear(e.dirty)
			case name == "":
			case ev.Mask&unix.IN_MODIFY != 0:
				e.dirty[name] = true
			default: // closed after writing, deleted, renamed away or over
				delete(e.dirty, name)
			}
		}
	}
}

func (e *writeEvents) close() { unix.Close(e.fd) }

// lazyWriters finds, once per poll and only when asked, the files that
// processes visible in /proc hold open for writing.
type lazyWriters struct {
	scanned bool
	dev     uint64
	open    map[uint64]int // inode on dev → a pid holding it open for writing
}

// holder returns the id of a process that has the file open for writing,
// or 0 when none can be seen.
func (l *lazyWriters) holder(info fs.FileInfo, logger *slog.Logger) int {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	if dev := uint64(st.Dev); !l.scanned || l.dev != dev {
		l.scanned, l.dev = true, dev
		l.open = scanWriters(dev, logger)
	}
	return l.open[uint64(st.Ino)]
}

// scanWriters lists the inodes of device dev open for writing (fdinfo
// flags O_WRONLY or O_RDWR) by the processes whose /proc/PID/fd hlsd may
// read: its own user's, or all when it runs as root.
func scanWriters(dev uint64, logger *slog.Logger) map[uint64]int {
	out := map[uint64]int{}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		logger.Debug("cannot read /proc", "err", err)
		return out
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == 0 {
			continue
		}
		base := "/proc/" + p.Name()
		fds, err := os.ReadDir(base + "/fd")
		if err != nil {
			continue // gone, or another user's process
		}
		for _, fd := range fds {
			var st syscall.Stat_t
			if syscall.Stat(base+"/fd/"+fd.Name(), &st) != nil || uint64(st.Dev) != dev || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
				continue
			}
			if _, seen := out[uint64(st.Ino)]; !seen && openForWriting(base+"/fdinfo/"+fd.Name()) {
				out[uint64(st.Ino)] = pid
			}
		}
	}
	return out
}

// openForWriting reads the flags line of a /proc/PID/fdinfo/FD file.
func openForWriting(fdinfo string) bool {
	f, err := os.Open(fdinfo)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "flags:")
		if !ok {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
		if err != nil {
			return false
		}
		mode := flags & syscall.O_ACCMODE
		return mode == syscall.O_WRONLY || mode == syscall.O_RDWR
	}
	return false
}
