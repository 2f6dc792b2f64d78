package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errNoCodec means the bytes hold no codec configuration we can read.
var errNoCodec = errors.New("no codec configuration found")

// MP4Codecs returns the RFC 6381 codec strings of the sample entries in an
// fMP4 init segment, read from the avcC box (profile, constraint flags and
// level of the H.264 stream) and the esds box (object type and AAC audio
// object type), e.g. ["avc1.64001f"] or ["mp4a.40.2"].
func MP4Codecs(init []byte) ([]string, error) {
	var out []string
	var walk func(b []byte, depth int) error
	walk = func(b []byte, depth int) error {
		for len(b) >= 8 {
			size := uint64(binary.BigEndian.Uint32(b))
			typ := string(b[4:8])
			hdr := uint64(8)
			switch size {
			case 0:
				size = uint64(len(b))
			case 1:
				if len(b) < 16 {
					return fmt.Errorf("box %q: short header", typ)
				}
				size, hdr = binary.BigEndian.Uint64(b[8:]), 16
			}
			if size < hdr || size > uint64(len(b)) {
				return fmt.Errorf("box %q: size %d out of range", typ, size)
			}
			payload := b[hdr:size]
			b = b[size:]
			if depth > 8 {
				continue
			}
			var err error
			switch typ {
			case "moov", "trak", "mdia", "minf", "stbl":
				err = walk(payload, depth+1)
			case "stsd":
				if len(payload) < 8 {
					return errors.New("stsd: short")
				}
				err = walk(payload[8:], depth+1)
			case "avc1", "avc3":
				// VisualSampleEntry: 78 bytes before its child boxes.
				if len(payload) < 78 {
					return fmt.Errorf("%s: short", typ)
				}
				for _, c := range childBoxes(payload[78:]) {
					if c.typ == "avcC" {
						if len(c.data) < 4 {
							return errors.New("avcC: short")
						}
						out = append(out, fmt.Sprintf("%s.%02x%02x%02x", typ, c.data[1], c.data[2], c.data[3]))
					}
				}
			case "mp4a":
				// AudioSampleEntry (version 0): 28 bytes before its child boxes.
				if len(payload) < 28 {
					return errors.New("mp4a: short")
				}
				for _, c := range childBoxes(payload[28:]) {
					if c.typ == "esds" {
						s, err := esdsCodec(c.data)
						if err != nil {
							return err
						}
						out = append(out, s)
					}
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(init, 0); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errNoCodec
	}
	return out, nil
}

type box struct {
	typ  string
	data []byte
}

// childBoxes splits b into boxes with 32-bit sizes, stopping at the first
// malformed one.
func childBoxes(b []byte) []box {
	var out []box
	for len(b) >= 8 {
		size := int(binary.BigEndian.Uint32(b))
		if size < 8 || size > len(b) {
			break
		}
		out = append(out, box{string(b[4:8]), b[8:size]})
		b = b[size:]
	}
	return out
}

// esdsCodec reads an esds box (ISO 14496-1 descriptors after the full-box
// header) and returns "mp4a.OTI.AOT", e.g. "mp4a.40.2" for AAC-LC.
func esdsCodec(b []byte) (string, error) {
	if len(b) < 4 {
		return "", errors.New("esds: short")
	}
	b = b[4:]
	tag, es, _, err := descriptor(b)
	if err != nil || tag != 0x03 || len(es) < 3 {
		return "", errors.New("esds: no ES descriptor")
	}
	flags := es[2]
	es = es[3:]
	if flags&0x80 != 0 { // streamDependenceFlag
		es = skip(es, 2)
	}
	if flags&0x40 != 0 && len(es) > 0 { // URL_Flag
		es = skip(es, 1+int(es[0]))
	}
	if flags&0x20 != 0 { // OCRstreamFlag
		es = skip(es, 2)
	}
	tag, dc, _, err := descriptor(es)
	if err != nil || tag != 0x04 || len(dc) < 13 {
		return "", errors.New("esds: no decoder config")
	}
	oti := dc[0]
	if oti != 0x40 {
		return fmt.Sprintf("mp4a.%02x", oti), nil
	}
	tag, asc, _, err := descriptor(dc[13:])
	if err != nil || tag != 0x05 || len(asc) < 1 {
		return "", errors.New("esds: no AudioSpecificConfig")
	}
	aot := int(asc[0] >> 3)
	if aot == 31 {
		if len(asc) < 2 {
			return "", errors.New("esds: short AudioSpecificConfig")
		}
		aot = 32 + int((asc[0]&0x07)<<3|asc[1]>>5)
	}
	return fmt.Sprintf("mp4a.40.%d", aot), nil
}

// descriptor reads one MPEG-4 descriptor: tag, a length of up to four
// 7-bit groups, and its body; rest is what follows it.
func descriptor(b []byte) (tag byte, body, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errors.New("short descriptor")
	}
	tag = b[0]
	n, i := 0, 1
	for ; i < len(b) && i <= 4; i++ {
		n = n<<7 | int(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			break
		}
	}
	i++
	if i > len(b) || n > len(b)-i {
		return 0, nil, nil, errors.New("descriptor length out of range")
	}
	return tag, b[i : i+n], b[i+n:], nil
}

func skip(b []byte, n int) []byte {
	if n > len(b) {
		return nil
	}
	return b[n:]
}

// TS stream types of the PMT that we read.
const (
	streamTypeH264 = 0x1b
	streamTypeADTS = 0x0f
)

// TSCodecs returns the RFC 6381 codec strings found in an MPEG-TS segment:
// the H.264 profile and level from the first SPS, and the AAC audio object
// type from the first ADTS header, in PMT order.
func TSCodecs(b []byte) ([]string, error) {
	const pkt = 188
	pmtPID := -1
	streams := map[int]byte{} // PID -> stream type
	var order []int
	es := map[int][]byte{}
	for off := 0; off+pkt <= len(b); off += pkt {
		p := b[off : off+pkt]
		if p[0] != 0x47 {
			return nil, fmt.Errorf("ts: lost sync at byte %d", off)
		}
		pid := int(p[1]&0x1f)<<8 | int(p[2])
		pusi := p[1]&0x40 != 0
		afc := p[3] >> 4 & 3
		pay := p[4:]
		if afc&2 != 0 {
			if len(pay) < 1 || int(pay[0])+1 > len(pay) {
				continue
			}
			pay = pay[1+int(pay[0]):]
		}
		if afc&1 == 0 {
			continue
		}
		switch {
		case pid == 0 && pusi && pmtPID < 0:
			pmtPID = patPMT(pay)
		case pid == pmtPID && pusi && len(streams) == 0:
			order = pmtStreams(pay, streams)
		default:
			if _, ok := streams[pid]; !ok {
				continue
			}
			if pusi && len(pay) >= 9 && pay[0] == 0 && pay[1] == 0 && pay[2] == 1 {
				pay = skip(pay, 9+int(pay[8]))
			}
			if len(es[pid]) < 1<<16 {
				es[pid] = append(es[pid], pay...)
			}
		}
	}
	var out []string
	for _, pid := range order {
		switch streams[pid] {
		case streamTypeH264:
			if s, ok := spsCodec(es[pid]); ok {
				out = append(out, s)
			}
		case streamTypeADTS:
			if s, ok := adtsCodec(es[pid]); ok {
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 {
		return nil, errNoCodec
	}
	return out, nil
}

// patPMT returns the PID of the first program's PMT, or -1.
func patPMT(pay []byte) int {
	sec := psiSection(pay)
	if len(sec) < 12 || sec[0] != 0x00 {
		return -1
	}
	for e := sec[8 : len(sec)-4]; len(e) >= 4; e = e[4:] {
		if prog := int(e[0])<<8 | int(e[1]); prog != 0 {
			return int(e[2]&0x1f)<<8 | int(e[3])
		}
	}
	return -1
}

// pmtStreams fills streams with the elementary PIDs of a PMT and returns them in order.
func pmtStreams(pay []byte, streams map[int]byte) []int {
	sec := psiSection(pay)
	if len(sec) < 16 || sec[0] != 0x02 {
		return nil
	}
	infoLen := int(sec[10]&0x0f)<<8 | int(sec[11])
	if 12+infoLen > len(sec)-4 {
		return nil
	}
	var order []int
	for e := sec[12+infoLen : len(sec)-4]; len(e) >= 5; {
		pid := int(e[1]&0x1f)<<8 | int(e[2])
		n := int(e[3]&0x0f)<<8 | int(e[4])
		streams[pid] = e[0]
		order = append(order, pid)
		if 5+n > len(e) {
			break
		}
		e = e[5+n:]
	}
	return order
}

// psiSection returns one PSI section (after the pointer field, up to and
// including its CRC), or nil when it does not fit the packet.
func psiSection(pay []byte) []byte {
	if len(pay) < 1 || 1+int(pay[0]) > len(pay) {
		return nil
	}
	s := pay[1+int(pay[0]):]
	if len(s) < 3 {
		return nil
	}
	n := int(s[1]&0x0f)<<8 | int(s[2])
	if 3+n > len(s) {
		return nil
	}
	return s[:3+n]
}

// spsCodec finds the first H.264 SPS NAL unit (after a start code, type 7)
// and returns "avc1.PPCCLL" from its profile_idc, constraint flags and level_idc.
func spsCodec(b []byte) (string, bool) {
	for i := 0; i+6 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 && b[i+3]&0x1f == 7 {
			return fmt.Sprintf("avc1.%02x%02x%02x", b[i+4], b[i+5], b[i+6]), true
		}
	}
	return "", false
}

// adtsCodec finds the first ADTS header and returns "mp4a.40.AOT", where the
// audio object type is the header's profile plus one.
func adtsCodec(b []byte) (string, bool) {
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0xff && b[i+1]&0xf6 == 0xf0 {
			return fmt.Sprintf("mp4a.40.%d", b[i+2]>>6+1), true
		}
	}
	return "", false
}
