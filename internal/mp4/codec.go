package mp4

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strings"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	fbits "github.com/Eyevinn/mp4ff/bits"
)

// sampleEntry is the first sample description of a track, decoded by
// mp4ff, with what the playlists need from it.
type sampleEntry struct {
	box      mp4ff.Box // avc1, hvc1, mp4a, ... as decoded; copied into the init segment
	format   string    // the box type: "avc1", "mp4a", "mp4v", ".mp3"...
	codec    string    // RFC 6381 string, "" when unsupported
	width    int
	height   int
	channels int
	rate     int
}

// decodeSampleEntry decodes a whole stsd box with mp4ff. mp4ff's decoders
// trust declared sizes in places, so a panic on hostile bytes is turned
// into an error here; the box is small and bounded by its parent.
func decodeSampleEntry(stsd []byte) (se sampleEntry, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = boxErr("sample description: %v", p)
		}
	}()
	stsd = isoAudioEntry(stsd)
	b, err := mp4ff.DecodeBoxSR(0, fbits.NewFixedSliceReader(stsd))
	if err != nil {
		return se, boxErr("sample description: %v", err)
	}
	box, ok := b.(*mp4ff.StsdBox)
	if !ok || len(box.Children) == 0 {
		return se, boxErr("empty sample description")
	}
	se.box = box.Children[0]
	se.format = se.box.Type()
	switch e := se.box.(type) {
	case *mp4ff.VisualSampleEntryBox:
		se.width, se.height = int(e.Width), int(e.Height)
		switch {
		case (se.format == "avc1" || se.format == "avc3") && e.AvcC != nil:
			c := e.AvcC
			se.codec = fmt.Sprintf("%s.%02x%02x%02x", se.format, c.AVCProfileIndication, c.ProfileCompatibility, c.AVCLevelIndication)
		case (se.format == "hvc1" || se.format == "hev1") && e.HvcC != nil:
			se.codec = hevcCodec(se.format, e.HvcC)
		}
	case *mp4ff.AudioSampleEntryBox:
		se.channels, se.rate = int(e.ChannelCount), int(e.SampleRate)
		if se.format == "mp4a" && e.Esds != nil && e.Esds.DecConfigDescriptor != nil {
			dc := e.Esds.DecConfigDescriptor
			switch dc.ObjectType {
			case 0x40, 0x66, 0x67, 0x68: // MPEG-4 AAC, MPEG-2 AAC profiles
				aot := 2
				if dc.DecSpecificInfo != nil && len(dc.DecSpecificInfo.DecConfig) > 0 {
					cfg := dc.DecSpecificInfo.DecConfig
					aot = int(cfg[0] >> 3)
					if aot == 31 && len(cfg) > 1 {
						aot = 32 + int(cfg[0]&7)<<3 | int(cfg[1]>>5)
					}
				}
				if dc.ObjectType != 0x40 {
					aot = 2
				}
				se.codec = fmt.Sprintf("mp4a.40.%d", aot)
			case 0x6b, 0x69: // MPEG-1/2 audio layer III
				se.codec = "mp4a.40.34"
			}
		}
	}
	return se, nil
}

// hevcCodec is the RFC 6381 / ISO 14496-15 Annex E codec string of an
// hvcC record, e.g. "hvc1.1.6.L93.B0".
func hevcCodec(format string, c *mp4ff.HvcCBox) string {
	var sb strings.Builder
	sb.WriteString(format)
	sb.WriteByte('.')
	if c.GeneralProfileSpace > 0 && c.GeneralProfileSpace < 4 {
		sb.WriteByte("ABC"[c.GeneralProfileSpace-1])
	}
	fmt.Fprintf(&sb, "%d.%X.", c.GeneralProfileIDC, bits.Reverse32(c.GeneralProfileCompatibilityFlags))
	if c.GeneralTierFlag {
		sb.WriteByte('H')
	} else {
		sb.WriteByte('L')
	}
	fmt.Fprintf(&sb, "%d", c.GeneralLevelIDC)
	cif := c.GeneralConstraintIndicatorFlags & (1<<48 - 1)
	n := 6
	for n > 0 && cif&0xff == 0 {
		cif >>= 8
		n--
	}
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, ".%X", byte(cif>>(8*i)))
	}
	return sb.String()
}

// isoAudioEntry rewrites a QuickTime sound sample description (version 1
// or 2, as .mov files from cameras and ffmpeg's mov muxer have, with the
// esds inside a wave box) of a whole stsd box into the ISO version 0 form
// that mp4ff and MSE players read: the QuickTime fields dropped, the
// channel count and rate of version 2 moved into the base fields, the esds
// lifted out of wave. Other descriptions are returned unchanged.
func isoAudioEntry(stsd []byte) []byte {
	const base = 36 // entry header 8, reserved 6, data ref 2, version..sample rate 20
	if len(stsd) < 16+base || string(stsd[20:24]) != "mp4a" {
		return stsd
	}
	entry := stsd[16:]
	size := int(binary.BigEndian.Uint32(entry))
	if size < base || size > len(entry) {
		return stsd
	}
	entry = entry[:size]
	version := binary.BigEndian.Uint16(entry[16:])
	extra := 0
	switch version {
	case 1:
		extra = 16
	case 2:
		extra = 36
	default:
		return stsd
	}
	if size < base+extra {
		return stsd
	}
	out := make([]byte, 0, len(stsd))
	out = append(out, stsd[:16]...)
	binary.BigEndian.PutUint32(out[12:], 1)
	e := append([]byte(nil), entry[:base]...)
	clear(e[16:24]) // version, revision, vendor
	if version == 2 {
		rate := math.Float64frombits(binary.BigEndian.Uint64(entry[base+4:]))
		channels := binary.BigEndian.Uint32(entry[base+12:])
		binary.BigEndian.PutUint16(e[24:], uint16(min(channels, 0xffff)))
		binary.BigEndian.PutUint16(e[26:], 16)
		if rate > 0 && rate < 65536 {
			binary.BigEndian.PutUint32(e[32:], uint32(rate)<<16)
		}
	}
	br := boxReader{entry[base+extra:]}
	for {
		before := br.b
		typ, p, ok, err := br.next()
		if err != nil || !ok {
			break
		}
		whole := before[:len(before)-len(br.b)]
		switch typ {
		case "esds", "btrt":
			e = append(e, whole...)
		case "wave":
			if esds, err := wholeChild(p, "esds"); err == nil && esds != nil {
				e = append(e, esds...)
			}
		}
	}
	binary.BigEndian.PutUint32(e, uint32(len(e)))
	out = append(out, e...)
	binary.BigEndian.PutUint32(out, uint32(len(out)))
	return out
}
