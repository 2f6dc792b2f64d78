package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits on what a source may declare. They keep a lying file from making
// the parser allocate or loop without bound; real files are far below them.
const (
	// maxMoovSize bounds the moov box read into memory (a 3-hour 60 fps
	// movie's is about 30 MB).
	maxMoovSize = 256 << 20
	// maxMoofSize bounds one movie fragment header.
	maxMoofSize = 32 << 20
	// maxSamples bounds the samples of one track (a day of 60 fps video is
	// 5.2 million).
	maxSamples = 8 << 20
	// maxTopBoxes bounds the top-level boxes walked (fragments of a long
	// fragmented file are the many).
	maxTopBoxes = 1 << 20
)

// errBox is wrapped by every structural error of the parser: a box or
// table that overruns its parent or contradicts another.
var errBox = errors.New("malformed box")

func boxErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBox, fmt.Sprintf(format, args...))
}

// topBox is a top-level box of the source: where it starts, its header
// length and its total size (header included).
type topBox struct {
	typ       string
	off, hdr  int64
	size      int64
	pastEOF   bool // the declared size runs past the end of the file
	openEnded bool // size 0: extends to the end of the file
}

// readTop reads the header of the top-level box at off.
func readTop(r io.ReaderAt, off, fileSize int64) (topBox, error) {
	var h [16]byte
	if fileSize-off < 8 {
		return topBox{}, boxErr("%d stray bytes at the end of the file", fileSize-off)
	}
	if err := readFull(r, h[:8], off); err != nil {
		return topBox{}, fmt.Errorf("read box header at %d: %w", off, err)
	}
	b := topBox{typ: string(h[4:8]), off: off, hdr: 8, size: int64(binary.BigEndian.Uint32(h[:4]))}
	switch b.size {
	case 0:
		b.size, b.openEnded = fileSize-off, true
	case 1:
		if fileSize-off < 16 {
			return topBox{}, boxErr("box %q at %d has a cut large size", b.typ, off)
		}
		if err := readFull(r, h[8:16], off+8); err != nil {
			return topBox{}, fmt.Errorf("read box header at %d: %w", off, err)
		}
		u := binary.BigEndian.Uint64(h[8:16])
		if u > 1<<62 {
			return topBox{}, boxErr("box %q at %d declares %d bytes", b.typ, off, u)
		}
		b.size, b.hdr = int64(u), 16
	}
	if b.size < b.hdr {
		return topBox{}, boxErr("box %q at %d declares %d bytes, less than its header", b.typ, off, b.size)
	}
	if b.size > fileSize-off {
		b.pastEOF = true
	}
	return b, nil
}

// boxReader walks the children of a box held in memory.
type boxReader struct {
	b []byte
}

// next returns the next child: its type, its payload (after the header)
// and ok=false at the end. A child that overruns its parent is an error.
func (br *boxReader) next() (typ string, payload []byte, ok bool, err error) {
	if len(br.b) == 0 {
		return "", nil, false, nil
	}
	if len(br.b) < 8 {
		return "", nil, false, boxErr("%d stray bytes in a box", len(br.b))
	}
	size := uint64(binary.BigEndian.Uint32(br.b))
	typ = string(br.b[4:8])
	hdr := uint64(8)
	switch size {
	case 0:
		size = uint64(len(br.b))
	case 1:
		if len(br.b) < 16 {
			return "", nil, false, boxErr("box %q has a cut large size", typ)
		}
		size, hdr = binary.BigEndian.Uint64(br.b[8:]), 16
	}
	if size < hdr || size > uint64(len(br.b)) {
		return "", nil, false, boxErr("box %q declares %d bytes but its parent has %d left", typ, size, len(br.b))
	}
	payload = br.b[hdr:size]
	br.b = br.b[size:]
	return typ, payload, true, nil
}

// children returns the first child of each type among want, found in b.
func children(b []byte) (map[string][]byte, error) {
	m := make(map[string][]byte)
	br := boxReader{b}
	for {
		typ, p, ok, err := br.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return m, nil
		}
		if _, dup := m[typ]; !dup {
			m[typ] = p
		}
	}
}

// wholeChild returns the first child box of type typ in b with its header,
// as mp4ff's decoders want it, or nil.
func wholeChild(b []byte, typ string) ([]byte, error) {
	br := boxReader{b}
	for {
		before := br.b
		t, _, ok, err := br.next()
		if err != nil || !ok {
			return nil, err
		}
		if t == typ {
			return before[:len(before)-len(br.b)], nil
		}
	}
}

// bytesReader is a bounds-checked big-endian reader over a box payload:
// reading past the end sets err and yields zeros, so callers check once.
type bytesReader struct {
	b   []byte
	off int
	err error
}

func (r *bytesReader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = boxErr("table cut short")
		return false
	}
	return true
}

func (r *bytesReader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *bytesReader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

func (r *bytesReader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *bytesReader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *bytesReader) skip(n int) {
	if r.need(n) {
		r.off += n
	}
}

func (r *bytesReader) left() int { return len(r.b) - r.off }
