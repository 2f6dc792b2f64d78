//go:build !unix

package disk

// Free cannot tell free space on this system: it returns false.
func Free(path string) (int64, bool) { return 0, false }
