package mp4

import (
	"bytes"
	"fmt"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"
)

// initFor writes the init segment of t: ftyp, then a moov with mvhd, one
// trak (track ID 1, the track's own timescale, no samples, the source's
// sample description) and mvex/trex, as fMP4 HLS wants.
func initFor(t *Track) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write init segment of %s: %v", t.Name, p)
		}
	}()
	init := mp4ff.CreateEmptyInit()
	kind := "audio"
	if t.Video {
		kind = "video"
	}
	init.AddEmptyTrack(t.Timescale, kind, "und")
	trak := init.Moov.Trak
	if t.Video {
		trak.Tkhd.Width = mp4ff.Fixed32(uint32(t.Width) << 16)
		trak.Tkhd.Height = mp4ff.Fixed32(uint32(t.Height) << 16)
	}
	trak.Mdia.Minf.Stbl.Stsd.AddChild(t.entry)
	if t.editShift > 0 {
		// One edit: present from media time editShift on, for the whole
		// (fragmented) duration. It goes right after tkhd, where readers
		// look for it.
		elst := &mp4ff.ElstBox{Version: 1, Entries: []mp4ff.ElstEntry{{MediaTime: t.editShift, MediaRateInteger: 1}}}
		edts := &mp4ff.EdtsBox{}
		edts.AddChild(elst)
		edts.Elst = append(edts.Elst, elst)
		trak.Edts = edts
		trak.Children = append([]mp4ff.Box{trak.Children[0], edts}, trak.Children[1:]...)
	}
	var buf bytes.Buffer
	if err := init.Encode(&buf); err != nil {
		return nil, fmt.Errorf("write init segment of %s: %w", t.Name, err)
	}
	return buf.Bytes(), nil
}
