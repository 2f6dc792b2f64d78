package ffmpeg

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/hlsd/hlsd"
)

// maxTopLevelBoxes bounds the walk in checkMP4Boxes; real files have a
// handful of top-level boxes, fragmented ones a few thousand.
const maxTopLevelBoxes = 1 << 16

// checkMP4Boxes walks the top-level boxes of an MP4/MOV file and refuses it
// when a box runs past the end of the file. ffprobe reads only the moov
// index, so a faststart file cut in its media data probes as whole and only
// fails hours into a transcode; the box sizes tell at once.
func checkMP4Boxes(abs string, size int64, name string) error {
	f, err := os.Open(abs)
	if err != nil {
		return fmt.Errorf("probe %s: %w", name, err)
	}
	defer f.Close()
	var hdr [16]byte
	off := int64(0)
	for range maxTopLevelBoxes {
		if size-off < 8 {
			return nil // trailing bytes too short to be a box are ignored, as ffmpeg does
		}
		if _, err := f.ReadAt(hdr[:8], off); err != nil {
			return fmt.Errorf("probe %s: %w", name, err)
		}
		boxSize := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		switch boxSize {
		case 0: // the box extends to the end of the file
			return nil
		case 1: // a 64-bit size follows the type
			if _, err := f.ReadAt(hdr[8:16], off+8); err != nil {
				if err == io.EOF {
					return truncatedMP4(name, typ)
				}
				return fmt.Errorf("probe %s: %w", name, err)
			}
			boxSize = int64(binary.BigEndian.Uint64(hdr[8:16]))
			if boxSize < 16 {
				return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is corrupt: bad size of its %q box", name, printable(typ))
			}
		default:
			if boxSize < 8 {
				return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is corrupt: bad size of its %q box", name, printable(typ))
			}
		}
		if boxSize > size-off {
			return truncatedMP4(name, typ)
		}
		off += boxSize
	}
	return nil
}

func truncatedMP4(name, typ string) *hlsd.Error {
	return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is truncated: the file ends inside its %q box", name, printable(typ))
}

// printable replaces bytes outside printable ASCII so that a hostile box
// type cannot put control characters in a message.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
