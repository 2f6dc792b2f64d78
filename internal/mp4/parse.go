package mp4

import (
	"errors"
	"fmt"
	"io"
)

// edit is one entry of an edit list (elst).
type edit struct {
	dur       uint64 // in the movie timescale
	mediaTime int64  // in the media timescale; -1 for an empty edit
	rate      uint32 // 16.16; 1<<16 is normal speed
}

// rawTrack is a track as the source's boxes describe it: its sample tables
// expanded to one entry per sample, in decode order, before timing is
// normalized.
type rawTrack struct {
	id           uint32
	handler      string // "vide", "soun", ...
	timescale    uint32
	width        uint32 // tkhd, 16.16
	height       uint32
	edits        []edit
	stsd         []byte // the whole stsd box
	disabled     bool
	offsets      []int64
	sizes        []uint32
	dts          []int64
	ctos         []int32
	sync         []bool
	lastDur      uint32
	nextDTS      int64 // decode time after the last sample, for fragments
	trexDur      uint32
	trexSize     uint32
	trexFlags    uint32
	fragmentSeen bool
}

// movie is what the moov box and any fragments say.
type movie struct {
	timescale uint32
	tracks    []*rawTrack
}

// parseFile walks the top-level boxes of the source through r, reading
// only moov and moof boxes (never mdat), and expands every track's sample
// tables. fileSize bounds every offset.
func parseFile(r io.ReaderAt, fileSize int64) (*movie, error) {
	var (
		mv        *movie
		sawMP4Box bool
		truncated bool
		moofs     []topBox
	)
	off := int64(0)
	for n := 0; off < fileSize; n++ {
		if n >= maxTopBoxes {
			return nil, boxErr("more than %d top-level boxes", maxTopBoxes)
		}
		b, err := readTop(r, off, fileSize)
		if err != nil {
			if errors.Is(err, errBox) && sawMP4Box {
				// Garbage after real boxes: a cut or padded file.
				truncated = true
				break
			}
			return nil, err
		}
		if n == 0 && !knownTopBox(b.typ) {
			return nil, errNotMP4
		}
		sawMP4Box = true
		if b.pastEOF && !b.openEnded {
			truncated = true
			if b.typ == "moov" {
				return nil, errNoMoov
			}
			break
		}
		switch b.typ {
		case "moov":
			if mv != nil {
				return nil, boxErr("two moov boxes")
			}
			payload, err := readPayload(r, b, maxMoovSize)
			if err != nil {
				return nil, err
			}
			if mv, err = parseMoov(payload, fileSize); err != nil {
				return nil, err
			}
		case "moof":
			moofs = append(moofs, b)
		}
		off += b.size
	}
	if mv == nil {
		if truncated {
			return nil, errNoMoov
		}
		return nil, errNoMoov
	}
	for _, b := range moofs {
		payload, err := readPayload(r, b, maxMoofSize)
		if err != nil {
			return nil, err
		}
		if err := mv.addFragment(payload, b.off, fileSize); err != nil {
			return nil, err
		}
	}
	for _, t := range mv.tracks {
		for i, o := range t.offsets {
			if o+int64(t.sizes[i]) > fileSize {
				return nil, errTruncatedData
			}
		}
	}
	return mv, nil
}

var (
	errNotMP4        = errors.New("not an MP4 file")
	errNoMoov        = errors.New("moov box missing")
	errTruncatedData = errors.New("media data cut short")
)

// knownTopBox reports whether typ may open an ISO BMFF file, so that a
// text file or an MPEG-TS is told apart from a cut MP4.
func knownTopBox(typ string) bool {
	switch typ {
	case "ftyp", "moov", "mdat", "free", "skip", "wide", "pdin", "styp", "uuid", "moof", "sidx", "meta", "junk", "pnot":
		return true
	}
	return false
}

func readPayload(r io.ReaderAt, b topBox, limit int64) ([]byte, error) {
	n := b.size - b.hdr
	if n > limit {
		return nil, boxErr("%s box of %d bytes is larger than the %d allowed", b.typ, n, limit)
	}
	buf := make([]byte, n)
	if err := readFull(r, buf, b.off+b.hdr); err != nil {
		return nil, fmt.Errorf("read %s box: %w", b.typ, err)
	}
	return buf, nil
}

func parseMoov(moov []byte, fileSize int64) (*movie, error) {
	mv := &movie{}
	br := boxReader{moov}
	var mvex []byte
	for {
		typ, p, ok, err := br.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch typ {
		case "mvhd":
			if mv.timescale, err = headerTimescale(p); err != nil {
				return nil, err
			}
		case "trak":
			t, err := parseTrak(p, fileSize)
			if err != nil {
				return nil, err
			}
			if t != nil {
				mv.tracks = append(mv.tracks, t)
			}
		case "mvex":
			mvex = p
		}
	}
	if mv.timescale == 0 {
		return nil, boxErr("mvhd missing or with a zero timescale")
	}
	if mvex != nil {
		br := boxReader{mvex}
		for {
			typ, p, ok, err := br.next()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if typ != "trex" {
				continue
			}
			r := bytesReader{b: p}
			r.skip(4)
			id := r.u32()
			r.skip(4)
			dur, size, flags := r.u32(), r.u32(), r.u32()
			if r.err != nil {
				return nil, r.err
			}
			if t := mv.track(id); t != nil {
				t.trexDur, t.trexSize, t.trexFlags = dur, size, flags
			}
		}
	}
	return mv, nil
}

func (mv *movie) track(id uint32) *rawTrack {
	for _, t := range mv.tracks {
		if t.id == id {
			return t
		}
	}
	return nil
}

// parseTrak reads one trak box. Tracks that are neither video nor audio
// are returned with their handler only and no samples.
func parseTrak(trak []byte, fileSize int64) (*rawTrack, error) {
	c, err := children(trak)
	if err != nil {
		return nil, err
	}
	t := &rawTrack{}
	if p, ok := c["tkhd"]; ok {
		r := bytesReader{b: p}
		v := r.u8()
		flags := uint32(r.u8())<<16 | uint32(r.u16())
		t.disabled = flags&1 == 0
		if v == 1 {
			r.skip(16)
		} else {
			r.skip(8)
		}
		t.id = r.u32()
		if r.left() >= 8 {
			r.off = len(p) - 8
			t.width, t.height = r.u32(), r.u32()
		}
		if r.err != nil {
			return nil, r.err
		}
	} else {
		return nil, boxErr("trak without tkhd")
	}
	if p, ok := c["edts"]; ok {
		ec, err := children(p)
		if err != nil {
			return nil, err
		}
		if elst, ok := ec["elst"]; ok {
			if t.edits, err = parseElst(elst); err != nil {
				return nil, err
			}
		}
	}
	mdia, ok := c["mdia"]
	if !ok {
		return nil, boxErr("trak without mdia")
	}
	mc, err := children(mdia)
	if err != nil {
		return nil, err
	}
	if p, ok := mc["mdhd"]; ok {
		if t.timescale, err = headerTimescale(p); err != nil {
			return nil, err
		}
	}
	if p, ok := mc["hdlr"]; ok && len(p) >= 12 {
		t.handler = string(p[8:12])
	}
	if t.handler != "vide" && t.handler != "soun" {
		return t, nil
	}
	if t.timescale == 0 {
		return nil, boxErr("track %d has a zero timescale", t.id)
	}
	minf, ok := mc["minf"]
	if !ok {
		return nil, boxErr("track %d has no minf", t.id)
	}
	stbl, err := childPayload(minf, "stbl")
	if err != nil {
		return nil, err
	}
	if stbl == nil {
		return nil, boxErr("track %d has no stbl", t.id)
	}
	if t.stsd, err = wholeChild(stbl, "stsd"); err != nil {
		return nil, err
	}
	if t.stsd == nil {
		return nil, boxErr("track %d has no stsd", t.id)
	}
	sc, err := children(stbl)
	if err != nil {
		return nil, err
	}
	if err := t.expandTables(sc, fileSize); err != nil {
		return nil, fmt.Errorf("track %d: %w", t.id, err)
	}
	return t, nil
}

func childPayload(b []byte, typ string) ([]byte, error) {
	c, err := children(b)
	if err != nil {
		return nil, err
	}
	return c[typ], nil
}

func parseElst(p []byte) ([]edit, error) {
	r := bytesReader{b: p}
	v := r.u8()
	r.skip(3)
	n := r.u32()
	per := 12
	if v == 1 {
		per = 20
	}
	if uint64(n)*uint64(per) > uint64(r.left()) {
		return nil, boxErr("elst declares %d entries in %d bytes", n, r.left())
	}
	edits := make([]edit, n)
	for i := range edits {
		if v == 1 {
			edits[i].dur = r.u64()
			edits[i].mediaTime = int64(r.u64())
		} else {
			edits[i].dur = uint64(r.u32())
			edits[i].mediaTime = int64(int32(r.u32()))
		}
		edits[i].rate = r.u32()
	}
	return edits, r.err
}

// expandTables turns the progressive sample tables (stsz, stts, ctts,
// stsc, stco/co64, stss) into one entry per sample, checking each table
// against the others and against the file size.
func (t *rawTrack) expandTables(sc map[string][]byte, fileSize int64) error {
	var n int
	if p, ok := sc["stsz"]; ok {
		r := bytesReader{b: p}
		r.skip(4)
		uniform, count := r.u32(), r.u32()
		if r.err != nil {
			return r.err
		}
		if err := checkCount(count, fileSize); err != nil {
			return err
		}
		n = int(count)
		if uniform == 0 && uint64(count)*4 > uint64(r.left()) {
			return boxErr("stsz declares %d sizes in %d bytes", count, r.left())
		}
		if uniform != 0 && uint64(count)*uint64(uniform) > uint64(fileSize) {
			return errTruncatedData
		}
		t.sizes = make([]uint32, n)
		for i := range t.sizes {
			if uniform != 0 {
				t.sizes[i] = uniform
			} else {
				t.sizes[i] = r.u32()
			}
		}
	} else if p, ok := sc["stz2"]; ok {
		r := bytesReader{b: p}
		r.skip(7)
		field := r.u8()
		count := r.u32()
		if r.err != nil {
			return r.err
		}
		if err := checkCount(count, fileSize); err != nil {
			return err
		}
		if field != 4 && field != 8 && field != 16 {
			return boxErr("stz2 field size %d", field)
		}
		if (uint64(count)*uint64(field)+7)/8 > uint64(r.left()) {
			return boxErr("stz2 declares %d sizes in %d bytes", count, r.left())
		}
		n = int(count)
		t.sizes = make([]uint32, n)
		for i := range t.sizes {
			switch field {
			case 4:
				b := p[r.off+i/2]
				if i%2 == 0 {
					t.sizes[i] = uint32(b >> 4)
				} else {
					t.sizes[i] = uint32(b & 15)
				}
			case 8:
				t.sizes[i] = uint32(p[r.off+i])
			case 16:
				t.sizes[i] = uint32(p[r.off+2*i])<<8 | uint32(p[r.off+2*i+1])
			}
		}
	} else {
		return boxErr("no stsz")
	}
	if n == 0 {
		return nil // a fragmented file's moov: samples come in moofs
	}

	// Decode times.
	p, ok := sc["stts"]
	if !ok {
		return boxErr("no stts")
	}
	r, entries, err := fullTable(p, "stts", 8)
	if err != nil {
		return err
	}
	t.dts = make([]int64, n)
	var now int64
	i := 0
	for e := uint32(0); e < entries && i < n; e++ {
		count, delta := r.u32(), r.u32()
		for k := uint32(0); k < count && i < n; k++ {
			t.dts[i] = now
			now += int64(delta)
			i++
		}
		t.lastDur = delta
	}
	if r.err != nil {
		return r.err
	}
	if i < n {
		return boxErr("stts covers %d of %d samples", i, n)
	}
	t.nextDTS = now

	// Composition offsets, signed whatever the box version says: writers
	// put negative offsets in version 0 boxes too.
	t.ctos = make([]int32, n)
	if p, ok := sc["ctts"]; ok {
		r, entries, err := fullTable(p, "ctts", 8)
		if err != nil {
			return err
		}
		i := 0
		for e := uint32(0); e < entries && i < n; e++ {
			count, off := r.u32(), int32(r.u32())
			for k := uint32(0); k < count && i < n; k++ {
				t.ctos[i] = off
				i++
			}
		}
		if r.err != nil {
			return r.err
		}
	}

	// Sync samples: all of them when there is no stss.
	t.sync = make([]bool, n)
	if p, ok := sc["stss"]; ok {
		r, entries, err := fullTable(p, "stss", 4)
		if err != nil {
			return err
		}
		for e := uint32(0); e < entries; e++ {
			if s := r.u32(); s >= 1 && int64(s) <= int64(n) {
				t.sync[s-1] = true
			}
		}
		if r.err != nil {
			return r.err
		}
	} else {
		for i := range t.sync {
			t.sync[i] = true
		}
	}

	// Offsets: chunks (stco/co64) filled by the sample-to-chunk runs (stsc).
	var chunks []int64
	if p, ok := sc["stco"]; ok {
		r, c, err := fullTable(p, "stco", 4)
		if err != nil {
			return err
		}
		chunks = make([]int64, c)
		for i := range chunks {
			chunks[i] = int64(r.u32())
		}
	} else if p, ok := sc["co64"]; ok {
		r, c, err := fullTable(p, "co64", 8)
		if err != nil {
			return err
		}
		chunks = make([]int64, c)
		for i := range chunks {
			u := r.u64()
			if u > uint64(fileSize) {
				return errTruncatedData
			}
			chunks[i] = int64(u)
		}
	} else {
		return boxErr("no stco or co64")
	}
	p, ok = sc["stsc"]
	if !ok {
		return boxErr("no stsc")
	}
	r, entries, err = fullTable(p, "stsc", 12)
	if err != nil {
		return err
	}
	type run struct{ first, per uint32 }
	runs := make([]run, entries)
	for e := range runs {
		runs[e].first, runs[e].per = r.u32(), r.u32()
		r.skip(4)
	}
	if r.err != nil {
		return r.err
	}
	t.offsets = make([]int64, n)
	i = 0
	nChunks := uint64(len(chunks))
	for e, rn := range runs {
		next := nChunks + 1
		if e+1 < len(runs) {
			next = uint64(runs[e+1].first)
		}
		if rn.first < 1 || uint64(rn.first) > next {
			return boxErr("stsc runs out of order")
		}
		for ch := uint64(rn.first); ch < next && ch <= nChunks && i < n; ch++ {
			off := chunks[ch-1]
			for k := uint32(0); k < rn.per && i < n; k++ {
				if off > fileSize {
					return errTruncatedData
				}
				t.offsets[i] = off
				off += int64(t.sizes[i])
				i++
			}
		}
	}
	if i < n {
		return boxErr("chunk tables place %d of %d samples", i, n)
	}
	return nil
}

// checkCount bounds a declared sample count: every sample takes at least
// a byte of the file (its table entry or its data).
func checkCount(count uint32, fileSize int64) error {
	if count > maxSamples || int64(count) > fileSize {
		return boxErr("%d samples declared in a %d-byte file", count, fileSize)
	}
	return nil
}

// addFragment appends the samples of one moof (at moofOff in the file) to
// their tracks.
func (mv *movie) addFragment(moof []byte, moofOff, fileSize int64) error {
	br := boxReader{moof}
	firstTraf := true
	prevEnd := moofOff
	for {
		typ, p, ok, err := br.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if typ != "traf" {
			continue
		}
		end, err := mv.addTraf(p, moofOff, firstTraf, prevEnd, fileSize)
		if err != nil {
			return err
		}
		firstTraf = false
		prevEnd = end
	}
}

const (
	tfhdBaseDataOffset = 0x1
	tfhdSDI            = 0x2
	tfhdDur            = 0x8
	tfhdSize           = 0x10
	tfhdFlags          = 0x20
	tfhdBaseIsMoof     = 0x20000

	trunDataOffset = 0x1
	trunFirstFlags = 0x4
	trunDur        = 0x100
	trunSize       = 0x200
	trunFlags      = 0x400
	trunCTO        = 0x800

	flagNonSync = 0x10000
)

func (mv *movie) addTraf(traf []byte, moofOff int64, first bool, prevEnd, fileSize int64) (int64, error) {
	br := boxReader{traf}
	var t *rawTrack
	var base, pos int64
	var defDur, defSize, defFlags uint32
	for {
		typ, p, ok, err := br.next()
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		switch typ {
		case "tfhd":
			r := bytesReader{b: p}
			flags := r.u32() & 0xffffff
			id := r.u32()
			if t = mv.track(id); t == nil {
				return prevEnd, r.err // a track we do not serve
			}
			defDur, defSize, defFlags = t.trexDur, t.trexSize, t.trexFlags
			switch {
			case flags&tfhdBaseDataOffset != 0:
				u := r.u64()
				if u > uint64(fileSize) {
					return 0, errTruncatedData
				}
				base = int64(u)
			case flags&tfhdBaseIsMoof != 0 || first:
				base = moofOff
			default:
				base = prevEnd
			}
			if flags&tfhdSDI != 0 {
				r.skip(4)
			}
			if flags&tfhdDur != 0 {
				defDur = r.u32()
			}
			if flags&tfhdSize != 0 {
				defSize = r.u32()
			}
			if flags&tfhdFlags != 0 {
				defFlags = r.u32()
			}
			if r.err != nil {
				return 0, r.err
			}
			pos = base
		case "tfdt":
			if t == nil {
				return 0, boxErr("tfdt before tfhd")
			}
			r := bytesReader{b: p}
			v := r.u8()
			r.skip(3)
			var d uint64
			if v == 1 {
				d = r.u64()
			} else {
				d = uint64(r.u32())
			}
			if r.err != nil {
				return 0, r.err
			}
			if d > 1<<62 {
				return 0, boxErr("tfdt %d out of range", d)
			}
			t.nextDTS = int64(d)
		case "trun":
			if t == nil {
				return 0, boxErr("trun before tfhd")
			}
			var err error
			if pos, err = t.addTrun(p, base, pos, defDur, defSize, defFlags, fileSize); err != nil {
				return 0, err
			}
		}
	}
	return pos, nil
}

func (t *rawTrack) addTrun(p []byte, base, pos int64, defDur, defSize, defFlags uint32, fileSize int64) (int64, error) {
	r := bytesReader{b: p}
	r.skip(1)
	flags := uint32(r.u8())<<16 | uint32(r.u16())
	count := r.u32()
	if flags&trunDataOffset != 0 {
		pos = base + int64(int32(r.u32()))
	}
	firstFlags, hasFirst := uint32(0), flags&trunFirstFlags != 0
	if hasFirst {
		firstFlags = r.u32()
	}
	if r.err != nil {
		return 0, r.err
	}
	per := 0
	for _, f := range []uint32{trunDur, trunSize, trunFlags, trunCTO} {
		if flags&f != 0 {
			per += 4
		}
	}
	if uint64(count)*uint64(per) > uint64(r.left()) {
		return 0, boxErr("trun declares %d samples in %d bytes", count, r.left())
	}
	if uint64(len(t.sizes))+uint64(count) > maxSamples || int64(len(t.sizes))+int64(count) > fileSize {
		return 0, boxErr("track %d has more samples than its file could hold", t.id)
	}
	t.fragmentSeen = true
	for i := uint32(0); i < count; i++ {
		dur, size, sflags, cto := defDur, defSize, defFlags, int32(0)
		if flags&trunDur != 0 {
			dur = r.u32()
		}
		if flags&trunSize != 0 {
			size = r.u32()
		}
		if flags&trunFlags != 0 {
			sflags = r.u32()
		} else if i == 0 && hasFirst {
			sflags = firstFlags
		}
		if flags&trunCTO != 0 {
			cto = int32(r.u32())
		}
		if pos < 0 || pos > fileSize || int64(size) > fileSize-pos {
			return 0, errTruncatedData
		}
		t.offsets = append(t.offsets, pos)
		t.sizes = append(t.sizes, size)
		t.dts = append(t.dts, t.nextDTS)
		t.ctos = append(t.ctos, cto)
		t.sync = append(t.sync, sflags&flagNonSync == 0)
		pos += int64(size)
		t.nextDTS += int64(dur)
		t.lastDur = dur
		if t.nextDTS > 1<<62 {
			return 0, boxErr("decode times out of range")
		}
	}
	return pos, r.err
}

// readFull reads len(p) bytes at off. io.ReaderAt may return io.EOF with
// a full read at the end of the input, which is success.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// headerTimescale reads the timescale of an mvhd or mdhd payload: both start
// with version and flags, then creation and modification times (32 or 64
// bits each, by version), then the timescale.
func headerTimescale(p []byte) (uint32, error) {
	r := bytesReader{b: p}
	if r.u8() == 1 {
		r.skip(3 + 16)
	} else {
		r.skip(3 + 8)
	}
	ts := r.u32()
	return ts, r.err
}

// fullTable reads the header of a sample table (a full box: version and
// flags, then an entry count) and checks that count entries of entrySize
// bytes fit in the box, so a lying count never makes a huge allocation.
func fullTable(p []byte, box string, entrySize int) (bytesReader, uint32, error) {
	r := bytesReader{b: p}
	r.skip(4)
	n := r.u32()
	if uint64(n)*uint64(entrySize) > uint64(r.left()) {
		return r, 0, boxErr("%s declares %d entries in %d bytes", box, n, r.left())
	}
	return r, n, nil
}
