package mp4

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFiles writes the whole presentation into dir (created if needed):
// master.m3u8 and, per track, its folder with index.m3u8, init.mp4 and
// every segment, read from r. It is what the server generates per request,
// made once: for pre-packaging, benchmarks and tests.
func (x *Index) WriteFiles(dir string, r io.ReaderAt) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, MasterName), x.master, 0o644); err != nil {
		return err
	}
	for _, t := range x.Tracks {
		td := filepath.Join(dir, t.Name)
		if err := os.MkdirAll(td, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(td, PlaylistName), t.playlist, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(td, InitName), t.init, 0o644); err != nil {
			return err
		}
		for n := 1; n <= len(t.segs); n++ {
			b, err := t.Segment(r, n)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(td, fmt.Sprintf(SegmentPattern, n)), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
