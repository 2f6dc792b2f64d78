package watch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// topLevelBoxes are the box types an ISO base media file (MP4, MOV, M4A,
// 3GP) may start with; a file starting otherwise is not checked.
var topLevelBoxes = map[string]bool{
	"ftyp": true, "styp": true, "moov": true, "mdat": true, "free": true,
	"skip": true, "wide": true, "pdin": true, "uuid": true, "moof": true,
}

// maxBoxes bounds the walk over a file's top-level boxes (a fragmented MP4
// has two per fragment).
const maxBoxes = 1 << 20

// checkContainer returns an error saying what is missing when the file of
// the given size is an ISO base media file that is not complete: no moov
// box, or top-level boxes that do not add up to the file's size (a copy cut
// short, or one whose end has not been written yet). Other formats pass:
// their completeness is left to the quiet period and to the probe.
func checkContainer(r io.ReaderAt, size int64) error {
	var hdr [16]byte
	if n, _ := r.ReadAt(hdr[:8], 0); n < 8 || !topLevelBoxes[string(hdr[4:8])] {
		return nil
	}
	moov := false
	var off int64
	for range maxBoxes {
		if off == size {
			if !moov {
				return errors.New("MP4 without its moov box (not written yet, or cut short)")
			}
			return nil
		}
		if n, _ := r.ReadAt(hdr[:8], off); n < 8 {
			return fmt.Errorf("MP4 cut short: a box header at byte %d of %d", off, size)
		}
		boxSize := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		switch boxSize {
		case 0: // the box runs to the end of the file
			boxSize = size - off
		case 1: // 64-bit size follows the type
			if n, _ := r.ReadAt(hdr[8:16], off+8); n < 8 {
				return fmt.Errorf("MP4 cut short: a box header at byte %d of %d", off, size)
			}
			boxSize = int64(binary.BigEndian.Uint64(hdr[8:16]))
			if boxSize < 16 {
				return fmt.Errorf("MP4 with a malformed %q box at byte %d", typ, off)
			}
		default:
			if boxSize < 8 {
				return fmt.Errorf("MP4 with a malformed %q box at byte %d", typ, off)
			}
		}
		if typ == "moov" {
			moov = true
		}
		if boxSize > size-off {
			return fmt.Errorf("MP4 cut short: its %q box at byte %d needs %d bytes, the file ends %d bytes later", typ, off, boxSize, size-off)
		}
		off += boxSize
	}
	return nil
}
