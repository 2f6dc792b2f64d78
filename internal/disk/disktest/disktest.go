// Package disktest gives tests a small file system that they can fill, to
// check what hlsd does when the disk is full.
package disktest

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of the given size (e.g. "20m") on a fresh folder and
// unmounts it at cleanup. It needs root, which make test has on the
// project's machines and in CI; without it the test fails, naming why.
func Tmpfs(tb testing.TB, size string) string {
	tb.Helper()
	dir := tb.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		tb.Fatalf("mount a %s tmpfs (disk-full tests need root): %v: %s", size, err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", "--lazy", dir).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Fill writes the file at path until its file system is full.
func Fill(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				tb.Fatalf("fill the disk: %v", err)
			}
			return
		}
	}
}

// Free gives n bytes back to the file system by shortening the file at
// path (one that Fill wrote).
func Free(tb testing.TB, path string, n int64) {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(path, max(fi.Size()-n, 0)); err != nil {
		tb.Fatal(err)
	}
}
