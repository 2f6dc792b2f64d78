// Package mp4 packages MP4 sources as HLS on the fly, the way
// nginx-vod-module's mapped mode does: from a progressive MP4/MOV (moov at
// the start or the end) or a fragmented MP4 holding H.264 or HEVC video and
// AAC or MP3 audio, it builds an Index from the sample tables alone (never
// reading mdat), then answers the multivariant and media playlists, the
// init segment of each track and each fMP4 media segment (moof+mdat),
// reading only the byte ranges of the samples a segment holds.
//
// The presentation has the layout of hlsd's ingest output: master.m3u8,
// one folder per track (video variant + an EXT-X-MEDIA audio group) with
// index.m3u8, init.mp4 and seg_00001.m4s... Timing follows the source's
// edit lists: the presentation starts at 0, B-frame composition offsets
// become signed trun offsets, audio priming is trimmed, and audio segments
// are cut at the video segments' presentation times so they line up.
//
// Sample tables are parsed by this package's own bounds-checked reader
// (every count checked against its box and the file size) rather than by
// mp4ff's table decoders, which allocate whatever a box declares; mp4ff
// decodes the small sample descriptions and writes init and media
// segments.
package mp4

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	fbits "github.com/Eyevinn/mp4ff/bits"
	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/hls"
)

// Names of the files of a presentation, the same as hlsd ingest writes.
const (
	MasterName   = "master.m3u8"
	PlaylistName = "index.m3u8"
	InitName     = "init.mp4"
	// SegmentPattern is the printf pattern of segment names, numbered from 1.
	SegmentPattern = "seg_%05d.m4s"
)

// DefaultTargetDuration is the segment length aimed at when
// Options.TargetDuration is zero; segments are cut at the video keyframe
// nearest to it, so they vary with the source's GOP.
const DefaultTargetDuration = 6 * time.Second

// Options tune how a source is packaged. The zero value packages with the
// defaults.
type Options struct {
	// TargetDuration is the segment length aimed at.
	TargetDuration time.Duration
	// VideoName and AudioName are the folders of the two tracks in URLs
	// ("video" and "audio" when empty).
	VideoName, AudioName string
}

// Index is a parsed source ready to be served: its playlists and init
// segments are built once, its media segments on each request from the
// sample tables it keeps. It is immutable and safe for concurrent use.
type Index struct {
	// Name is the source's file name, used in error messages.
	Name string
	// Size is the source's size in bytes when indexed.
	Size int64
	// Duration is the presentation's length in seconds.
	Duration float64
	// Tracks are the served tracks: the video first when there is one.
	Tracks []*Track
	master []byte
}

// Track is one served track (a rendition of the presentation).
type Track struct {
	// Name is the track's folder in URLs: "video" or "audio" by default.
	Name string
	// Video tells a video track from an audio one.
	Video bool
	// Codec is the RFC 6381 codec string (avc1.64001f, mp4a.40.2).
	Codec string
	// Width, Height and FrameRate describe video tracks.
	Width, Height int
	FrameRate     float64
	// Channels and SampleRate describe audio tracks.
	Channels, SampleRate int
	// Timescale is the track's time unit per second (its mdhd timescale).
	Timescale uint32
	// Bandwidth and AverageBandwidth are in bits per second, computed from
	// the sizes of the segments' samples.
	Bandwidth, AverageBandwidth int

	// Per sample, in decode order, normalized: times are the output decode
	// times (tfdt) and ctos the signed composition offsets.
	offsets []int64
	sizes   []uint32
	times   []int64
	ctos    []int32
	sync    []bool
	lastDur uint32

	entry     mp4ff.Box // the source's sample description
	editShift int64     // media_time of the init segment's edit list
	segs      []span
	durs      []float64
	init      []byte
	playlist  []byte
}

// span is the samples [first, end) of one segment.
type span struct{ first, end int }

// Master returns the multivariant playlist.
func (x *Index) Master() []byte { return x.master }

// Track returns the track served under name, or nil.
func (x *Index) Track(name string) *Track {
	for _, t := range x.Tracks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// MemSize estimates the bytes the index holds, for the cache's bound.
func (x *Index) MemSize() int64 {
	n := int64(512 + len(x.master) + len(x.Name))
	for _, t := range x.Tracks {
		n += 256 + int64(len(t.init)+len(t.playlist))
		n += int64(len(t.offsets)) * (8 + 4 + 8 + 4 + 1)
		n += int64(len(t.segs)) * (16 + 8)
	}
	return n
}

// Playlist returns the track's media playlist.
func (t *Track) Playlist() []byte { return t.playlist }

// Init returns the track's init segment.
func (t *Track) Init() []byte { return t.init }

// Segments returns the number of media segments; they are numbered from 1.
func (t *Track) Segments() int { return len(t.segs) }

// ErrNoSegment is returned by Segment for a number out of range.
var ErrNoSegment = errors.New("no such segment")

// Sample flags of the output trun: sync samples depend on no other;
// others depend on some and are not sync samples.
const (
	flagsSync    = 0x02000000
	flagsNonSync = 0x01010000
)

// Segment generates media segment n (from 1): a moof with the samples'
// decode time (tfdt), durations, sizes, flags and composition offsets, and
// an mdat with their data, read from r (the source this index was built
// from) in as few contiguous reads as the layout allows.
func (t *Track) Segment(r io.ReaderAt, n int) ([]byte, error) {
	p, err := t.SegmentParts(n)
	if err != nil {
		return nil, err
	}
	if p.Size > 1<<31 {
		return nil, fmt.Errorf("segment %d of %d bytes is too large", n, p.Size)
	}
	buf := make([]byte, p.Size)
	pos := copy(buf, p.Header)
	for _, rg := range p.Ranges {
		if err := readFull(r, buf[pos:pos+int(rg.Len)], rg.Off); err != nil {
			return nil, fmt.Errorf("read samples of segment %d: %w", n, err)
		}
		pos += int(rg.Len)
	}
	return buf, nil
}

// Parts is a generated media segment as it is sent: Header (moof and the
// mdat box header), then the source's bytes at Ranges, in order. A server
// can send the ranges straight from the file (sendfile) instead of
// copying them through memory.
type Parts struct {
	Header []byte
	Ranges []Range
	// Size is the segment's length: Header plus every range.
	Size int64
}

// Range is a byte range of the source.
type Range struct{ Off, Len int64 }

// SegmentParts builds segment n's moof and lists the source ranges of its
// samples, merging adjacent ones. It reads nothing.
func (t *Track) SegmentParts(n int) (*Parts, error) {
	if n < 1 || n > len(t.segs) {
		return nil, ErrNoSegment
	}
	sp := t.segs[n-1]
	frag, err := mp4ff.CreateFragment(uint32(n), 1)
	if err != nil {
		return nil, err
	}
	samples := make([]mp4ff.Sample, 0, sp.end-sp.first)
	p := &Parts{}
	for i := sp.first; i < sp.end; i++ {
		flags := uint32(flagsSync)
		if !t.sync[i] {
			flags = flagsNonSync
		}
		samples = append(samples, mp4ff.Sample{Flags: flags, Dur: t.dur(i), Size: t.sizes[i], CompositionTimeOffset: t.ctos[i]})
		off, size := t.offsets[i], int64(t.sizes[i])
		if k := len(p.Ranges) - 1; k >= 0 && p.Ranges[k].Off+p.Ranges[k].Len == off {
			p.Ranges[k].Len += size
		} else if size > 0 {
			p.Ranges = append(p.Ranges, Range{off, size})
		}
	}
	frag.AddSamples(samples, uint64(t.times[sp.first]))
	total := frag.Size()
	head := total - frag.Mdat.GetLazyDataSize()
	p.Header = make([]byte, head)
	sw := fbits.NewFixedSliceWriterFromSlice(p.Header)
	if err := frag.EncodeSW(sw); err != nil {
		return nil, fmt.Errorf("encode segment %d: %w", n, err)
	}
	if uint64(sw.Offset()) != head {
		return nil, fmt.Errorf("segment %d: header of %d bytes, planned %d", n, sw.Offset(), head)
	}
	p.Size = int64(total)
	var data int64
	for _, rg := range p.Ranges {
		data += rg.Len
	}
	if int64(head)+data != p.Size {
		return nil, fmt.Errorf("segment %d: %d bytes of samples, planned %d", n, data, p.Size-int64(head))
	}
	return p, nil
}

// Reader returns the segment as an io.ReadSeeker over r, for Range
// requests (http.ServeContent).
func (p *Parts) Reader(r io.ReaderAt) io.ReadSeeker {
	return &partsReader{p: p, r: r}
}

type partsReader struct {
	p   *Parts
	r   io.ReaderAt
	pos int64
}

func (pr *partsReader) Read(b []byte) (int, error) {
	if pr.pos >= pr.p.Size {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && pr.pos < pr.p.Size {
		m, err := pr.readAt(b[n:], pr.pos)
		n += m
		pr.pos += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readAt fills b from the part holding position pos (one part at most).
func (pr *partsReader) readAt(b []byte, pos int64) (int, error) {
	h := int64(len(pr.p.Header))
	if pos < h {
		return copy(b, pr.p.Header[pos:]), nil
	}
	at := h
	for _, rg := range pr.p.Ranges {
		if pos < at+rg.Len {
			skip := pos - at
			n := min(int64(len(b)), rg.Len-skip)
			if err := readFull(pr.r, b[:n], rg.Off+skip); err != nil {
				return 0, err
			}
			return int(n), nil
		}
		at += rg.Len
	}
	return 0, io.EOF
}

func (pr *partsReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += pr.pos
	case io.SeekEnd:
		offset += pr.p.Size
	default:
		return 0, errors.New("seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	pr.pos = offset
	return offset, nil
}

func (t *Track) dur(i int) uint32 {
	if i+1 < len(t.times) {
		return uint32(t.times[i+1] - t.times[i])
	}
	return t.lastDur
}

// Parse builds the index of the source read through r (size bytes long;
// name is used in messages only). It reads the moov box and any moof
// boxes, never the media data. A source it cannot serve gets an
// *hlsd.Error with code EUNSUPPORTED saying why.
func Parse(r io.ReaderAt, size int64, name string, opts Options) (*Index, error) {
	if opts.TargetDuration <= 0 {
		opts.TargetDuration = DefaultTargetDuration
	}
	if opts.VideoName == "" {
		opts.VideoName = "video"
	}
	if opts.AudioName == "" {
		opts.AudioName = "audio"
	}
	mv, err := parseFile(r, size)
	if err != nil {
		return nil, userError(name, err)
	}
	x, err := build(mv, name, size, opts)
	if err != nil {
		return nil, userError(name, err)
	}
	return x, nil
}

// userError turns parser errors into the one-sentence errors users see.
func userError(name string, err error) error {
	var he *hlsd.Error
	switch {
	case errors.As(err, &he):
		return err
	case errors.Is(err, errNotMP4):
		return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is not an MP4 file", name)
	case errors.Is(err, errNoMoov):
		return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is truncated: its moov box is missing", name)
	case errors.Is(err, errTruncatedData):
		return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is truncated: its sample tables point past the end of the file", name)
	case errors.Is(err, errBox):
		return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is damaged: %s", name, strings.Replace(err.Error(), errBox.Error()+": ", "", 1))
	}
	return fmt.Errorf("index %s: %w", name, err)
}

// timed is a track with its timing resolved.
type timed struct {
	raw   *rawTrack
	se    sampleEntry
	video bool
	// pts are the presentation times, edit list applied, in the track's
	// timescale (before the global start is subtracted).
	start   int64 // first presented time (edit list start or first pts)
	end     int64 // presentation end
	shiftM  int64 // -media_time + empty edits
	hasEdit bool
}

func build(mv *movie, name string, size int64, opts Options) (*Index, error) {
	var video, audio *timed
	var badVideo, badAudio string
	for _, rt := range mv.tracks {
		if rt.handler != "vide" && rt.handler != "soun" {
			continue
		}
		if len(rt.sizes) == 0 {
			continue
		}
		se, err := decodeSampleEntry(rt.stsd)
		if err != nil {
			return nil, err
		}
		isVideo := rt.handler == "vide"
		if se.codec == "" {
			if isVideo && badVideo == "" {
				badVideo = se.format
			} else if !isVideo && badAudio == "" {
				badAudio = se.format
			}
			continue
		}
		tt := &timed{raw: rt, se: se, video: isVideo}
		if isVideo && video == nil {
			video = tt
		} else if !isVideo && audio == nil {
			audio = tt
		}
	}
	switch {
	case video == nil && badVideo != "":
		return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "%s has %s video, not H.264 or HEVC", name, badVideo)
	case audio == nil && badAudio != "":
		return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "%s has %s audio, not AAC or MP3", name, badAudio)
	case video == nil && audio == nil:
		return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "%s has no H.264/HEVC video or AAC/MP3 audio track", name)
	}
	var tracks []*timed
	if video != nil {
		tracks = append(tracks, video)
	}
	if audio != nil {
		tracks = append(tracks, audio)
	}
	// Edit lists first, then one global start so that the presentation
	// begins at 0 and the tracks keep their relative offsets.
	globalStart := math.Inf(1)
	for _, tt := range tracks {
		if err := tt.applyEdits(mv.timescale); err != nil {
			return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "%s: %v", name, err)
		}
		globalStart = min(globalStart, float64(tt.start)/float64(tt.raw.timescale))
	}

	x := &Index{Name: name, Size: size}
	target := opts.TargetDuration.Seconds()
	var cuts []float64 // video segment start times in seconds, from 0
	if video != nil {
		vt, c, err := video.normalize(opts.VideoName, globalStart, nil, target)
		if err != nil {
			return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "%s: %v", name, err)
		}
		cuts = c
		x.Tracks = append(x.Tracks, vt)
	}
	if audio != nil {
		at, _, err := audio.normalize(opts.AudioName, globalStart, cuts, target)
		if err != nil {
			return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "%s: %v", name, err)
		}
		x.Tracks = append(x.Tracks, at)
	}
	for _, t := range x.Tracks {
		x.Duration = max(x.Duration, sum(t.durs))
		if err := t.finish(); err != nil {
			return nil, err
		}
	}
	var err error
	if x.master, err = x.buildMaster(); err != nil {
		return nil, err
	}
	return x, nil
}

func sum(f []float64) float64 {
	var s float64
	for _, v := range f {
		s += v
	}
	return s
}

// applyEdits reads the track's edit list: leading empty edits delay the
// track, the first media edit says which media time is presented at that
// delay, and its duration ends the track. Several media edits (a cut
// list) or a rate other than 1 are refused.
func (tt *timed) applyEdits(movieScale uint32) error {
	rt := tt.raw
	ts := int64(rt.timescale)
	var empty uint64
	mediaTime := int64(0)
	var editDur uint64
	media := 0
	for _, e := range rt.edits {
		if e.mediaTime == -1 {
			if media == 0 {
				empty += e.dur
			}
			continue
		}
		media++
		if media > 1 {
			if e.dur == 0 {
				continue
			}
			return fmt.Errorf("track %d has an edit list of several edits, which cannot be repackaged", rt.id)
		}
		if e.rate != 1<<16 {
			return fmt.Errorf("track %d has an edit at rate %g, which cannot be repackaged", rt.id, float64(e.rate)/65536)
		}
		if e.mediaTime < 0 {
			return fmt.Errorf("track %d has an edit at media time %d", rt.id, e.mediaTime)
		}
		mediaTime, editDur = e.mediaTime, e.dur
	}
	if empty > 1<<40 || editDur > 1<<50 {
		return fmt.Errorf("track %d has an edit list out of range", rt.id)
	}
	emptyTS := int64(float64(empty) * float64(ts) / float64(movieScale))
	tt.hasEdit = media > 0 || empty > 0
	tt.shiftM = emptyTS - mediaTime
	minPTS := int64(math.MaxInt64)
	maxEnd := int64(math.MinInt64)
	for i, d := range rt.dts {
		p := d + int64(rt.ctos[i]) + tt.shiftM
		minPTS = min(minPTS, p)
		dur := int64(rt.lastDur)
		if i+1 < len(rt.dts) {
			dur = rt.dts[i+1] - d
		}
		maxEnd = max(maxEnd, p+dur)
	}
	if tt.hasEdit {
		tt.start = emptyTS
	} else {
		tt.start = minPTS
	}
	tt.end = maxEnd
	if editDur > 0 {
		tt.end = min(tt.end, emptyTS+int64(float64(editDur)*float64(ts)/float64(movieScale)+0.5))
	}
	if tt.end <= tt.start {
		return fmt.Errorf("track %d presents nothing", rt.id)
	}
	return nil
}

// normalize computes the output timing of the track (decode times from
// 0 with signed composition offsets for video; audio samples wholly before
// 0 dropped) and cuts it into segments: video at keyframes near target,
// audio at the given video cut times (or every target seconds when there
// is no video). It returns the track and its segment start times.
func (tt *timed) normalize(name string, globalStart float64, videoCuts []float64, target float64) (*Track, []float64, error) {
	rt := tt.raw
	ts := float64(rt.timescale)
	g := int64(math.Round(globalStart * ts))
	shift := tt.shiftM - g // pts' = dts + cto + shift
	end := tt.end - g
	n := len(rt.dts)
	t := &Track{
		Name: name, Video: tt.video, Codec: tt.se.codec, Timescale: rt.timescale,
		offsets: rt.offsets, sizes: rt.sizes, sync: rt.sync, lastDur: rt.lastDur, entry: tt.se.box,
	}
	pts := func(i int) int64 { return rt.dts[i] + int64(rt.ctos[i]) + shift }
	if tt.video {
		t.Width, t.Height = int(rt.width>>16), int(rt.height>>16)
		if t.Width == 0 || t.Height == 0 {
			t.Width, t.Height = tt.se.width, tt.se.height
		}
		length := rt.dts[n-1] + int64(rt.lastDur) - rt.dts[0]
		if length > 0 {
			t.FrameRate = math.Round(float64(n)*ts/float64(length)*1000) / 1000
		}
		// Decode times from max(0, first pts); composition offsets kept
		// non-negative, with the init segment's edit list (a single
		// media_time, which Chromium, Safari and ffmpeg apply to fMP4)
		// taking back the shift: presented = tfdt + cto - editShift.
		// Negative offsets in a version 1 trun would do the same for MSE,
		// but ffmpeg's demuxer then delays such video by the largest
		// negative offset, so it would not see the source's A/V sync.
		d0 := max(0, pts(0)) - rt.dts[0]
		t.times = make([]int64, n)
		t.ctos = make([]int32, n)
		var shiftE int64
		for i := range n {
			t.times[i] = rt.dts[i] + d0
			shiftE = max(shiftE, t.times[i]-pts(i))
		}
		for i := range n {
			c := pts(i) + shiftE - t.times[i]
			if c > math.MaxInt32 || c < 0 {
				return nil, nil, fmt.Errorf("track %d has composition offsets out of range", rt.id)
			}
			t.ctos[i] = int32(c)
		}
		t.editShift = shiftE
		// Cut at keyframes near the target, in presentation time.
		tgt := int64(target * ts)
		cutIdx := []int{0}
		cutT := []int64{0}
		var kf []int
		for i := 1; i < n; i++ {
			if rt.sync[i] {
				kf = append(kf, i)
			}
		}
		last := int64(0)
		for i := 0; i < len(kf); {
			j := i
			for j < len(kf) && pts(kf[j])-last < tgt {
				j++
			}
			if j == len(kf) {
				break
			}
			c := j
			if j > i {
				p := pts(kf[j-1])
				if p > last && p-last >= tgt/2 && last+tgt-p < pts(kf[j])-last-tgt {
					c = j - 1
				}
			}
			cutIdx = append(cutIdx, kf[c])
			cutT = append(cutT, pts(kf[c]))
			last = pts(kf[c])
			i = c + 1
		}
		for len(cutT) > 1 && cutT[len(cutT)-1] >= end {
			cutIdx, cutT = cutIdx[:len(cutIdx)-1], cutT[:len(cutT)-1]
		}
		cuts := make([]float64, len(cutT))
		for k := range cutIdx {
			e := n
			et := end
			if k+1 < len(cutIdx) {
				e, et = cutIdx[k+1], cutT[k+1]
			}
			t.segs = append(t.segs, span{cutIdx[k], e})
			t.durs = append(t.durs, float64(et-cutT[k])/ts)
			cuts[k] = float64(cutT[k]) / ts
		}
		return t, cuts, nil
	}

	// Audio: decode time = presentation time; drop samples that end at or
	// before 0 (priming, or audio before a cut); a sample straddling 0
	// moves the track later by less than one frame.
	t.SampleRate, t.Channels = tt.se.rate, tt.se.channels
	if t.SampleRate == 0 {
		t.SampleRate = int(rt.timescale)
	}
	first := 0
	durAt := func(i int) int64 {
		if i+1 < n {
			return rt.dts[i+1] - rt.dts[i]
		}
		return int64(rt.lastDur)
	}
	for first < n && pts(first)+durAt(first) <= 0 {
		first++
	}
	if first == n {
		return nil, nil, fmt.Errorf("track %d presents no audio", rt.id)
	}
	late := max(0, -pts(first))
	base := pts(first) + late - rt.dts[first]
	t.offsets, t.sizes, t.sync = rt.offsets[first:], rt.sizes[first:], rt.sync[first:]
	m := n - first
	t.times = make([]int64, m)
	t.ctos = make([]int32, m)
	for i := range m {
		t.times[i] = rt.dts[first+i] + base
		t.sync[i] = true
	}
	end += late
	bounds := make([]int64, len(videoCuts))
	for k, c := range videoCuts {
		bounds[k] = int64(math.Round(c * ts))
	}
	tgt := max(int64(target*ts), 1)
	seg := 0
	segStart := 0
	closeSeg := func(e int) {
		if e > segStart {
			t.segs = append(t.segs, span{segStart, e})
		}
		segStart = e
	}
	for i := range m {
		mid := t.times[i] + int64(t.dur(i))/2
		if videoCuts == nil {
			// Audio only: a segment every target duration.
			if k := int(min(mid/tgt, math.MaxInt32)); k > seg {
				closeSeg(i)
				seg = k
			}
			continue
		}
		for seg+1 < len(bounds) && mid >= bounds[seg+1] {
			closeSeg(i)
			seg++
		}
	}
	closeSeg(m)
	for k, sp := range t.segs {
		st := t.times[sp.first]
		et := end
		if k+1 < len(t.segs) {
			et = t.times[t.segs[k+1].first]
		}
		if k == 0 {
			st = 0
		}
		t.durs = append(t.durs, float64(max(et-st, 0))/ts)
	}
	return t, nil, nil
}

// finish builds the track's init segment, media playlist and bandwidths.
func (t *Track) finish() error {
	var err error
	if t.init, err = t.buildInit(); err != nil {
		return err
	}
	m := &hls.Media{PlaylistType: hls.TypeVOD, IndependentSegments: true, Map: &hls.Map{URI: InitName}, EndList: true}
	sizes := make([]int64, len(t.segs))
	for k, sp := range t.segs {
		var b int64 = 8 + 8 + 16 + 8 + 16 + 20 + 20 + 16*int64(sp.end-sp.first) // moof, mdat headers and trun entries
		for i := sp.first; i < sp.end; i++ {
			b += int64(t.sizes[i])
		}
		sizes[k] = b
		m.Segments = append(m.Segments, hls.Segment{Duration: t.durs[k], URI: fmt.Sprintf(SegmentPattern, k+1)})
	}
	if t.playlist, err = m.MarshalText(); err != nil {
		return fmt.Errorf("media playlist of %s: %w", t.Name, err)
	}
	t.Bandwidth = peakBandwidth(sizes, t.durs)
	var total int64
	for _, s := range sizes {
		total += s
	}
	if d := sum(t.durs); d > 0 {
		t.AverageBandwidth = int(math.Ceil(float64(total) * 8 / d))
	}
	return nil
}

// peakBandwidth is the highest bit rate of any segment (HLS BANDWIDTH); a
// last segment shorter than half the one before is counted with it, as
// hlsd ingest does, so a tail of a few frames does not claim a peak.
func peakBandwidth(sizes []int64, durs []float64) int {
	var peak float64
	for i := range sizes {
		bits, d := float64(sizes[i])*8, durs[i]
		if i > 0 && i == len(sizes)-1 && d < durs[i-1]/2 {
			bits += float64(sizes[i-1]) * 8
			d += durs[i-1]
		}
		if d > 0 {
			peak = max(peak, bits/d)
		}
	}
	return int(math.Ceil(peak))
}

// buildInit writes an init segment (ftyp + moov with one track and mvex)
// carrying the source's own sample description, so decoder configuration
// (avcC/hvcC, esds, pasp, colr) reaches the player unchanged.
func (t *Track) buildInit() ([]byte, error) {
	return initFor(t)
}

func (x *Index) buildMaster() ([]byte, error) {
	p := &hls.Multivariant{IndependentSegments: true}
	var video, audio *Track
	for _, t := range x.Tracks {
		if t.Video {
			video = t
		} else {
			audio = t
		}
	}
	if video == nil {
		p.Variants = append(p.Variants, hls.Variant{URI: audio.Name + "/" + PlaylistName, Bandwidth: audio.Bandwidth, AverageBandwidth: audio.AverageBandwidth, Codecs: audio.Codec})
		return p.MarshalText()
	}
	v := hls.Variant{
		URI: video.Name + "/" + PlaylistName, Bandwidth: video.Bandwidth, AverageBandwidth: video.AverageBandwidth,
		Codecs: video.Codec, Width: video.Width, Height: video.Height, FrameRate: video.FrameRate,
	}
	if audio != nil {
		ch := ""
		if audio.Channels > 0 {
			ch = fmt.Sprint(audio.Channels)
		}
		p.Alternatives = append(p.Alternatives, hls.Alternative{
			Type: "AUDIO", GroupID: "audio", Name: "default", Default: true, Autoselect: true,
			Channels: ch, URI: audio.Name + "/" + PlaylistName,
		})
		v.Bandwidth += audio.Bandwidth
		v.AverageBandwidth += audio.AverageBandwidth
		v.Codecs += "," + audio.Codec
		v.Audio = "audio"
	}
	p.Variants = append(p.Variants, v)
	return p.MarshalText()
}
