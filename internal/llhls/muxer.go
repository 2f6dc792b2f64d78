// Package llhls is an in-memory Low-Latency HLS muxer and playlist server for
// one live rendition. A publisher session (RTMP, SRT, or an ffmpeg ladder)
// writes timestamped access units (H.264 and/or AAC); the muxer packages them
// as fMP4 partial segments grouped into segments, keeps a bounded window of
// them in memory, and serves the media playlist (RFC 8216bis: EXT-X-PART,
// EXT-X-PRELOAD-HINT, blocking reload, delta updates, rendition reports) and
// the init section, parts and segments over HTTP.
//
// Nothing here touches the network or the disk: ingest and recording sit
// around it, so it can be tested with real media but without sockets.
package llhls

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Eyevinn/mp4ff/aac"
	mp4ff "github.com/Eyevinn/mp4ff/mp4"
)

// Defaults for Config fields left at zero.
const (
	// DefaultPartTarget is the part target duration: 200 ms parts keep the
	// live edge about a second behind the publisher with PART-HOLD-BACK at
	// three parts.
	DefaultPartTarget = 200 * time.Millisecond
	// DefaultSegmentTarget is the duration after which the next keyframe
	// starts a new segment.
	DefaultSegmentTarget = time.Second
	// DefaultWindow is how many complete segments the playlist keeps: more
	// than CAN-SKIP-UNTIL (six target durations) so delta updates skip some.
	DefaultWindow = 12
	// DefaultPartSegments is how many of the last complete segments still
	// list their parts, so a player holding back PART-HOLD-BACK finds them.
	DefaultPartSegments = 3
)

// videoTimescale is the timescale of the video track (the MPEG 90 kHz clock,
// which RTMP's milliseconds and MPEG-TS's ticks both convert to exactly).
const videoTimescale = 90000

// aacFrameSamples is the number of PCM samples in one AAC-LC frame.
const aacFrameSamples = 1024

// Config sets the muxer's timing and window; zero fields take the defaults.
type Config struct {
	// PartTarget is EXT-X-PART-INF's PART-TARGET: no part is longer (unless
	// a single frame is).
	PartTarget time.Duration
	// SegmentTarget is the wanted segment duration: a segment ends at the
	// first keyframe that would make it longer.
	SegmentTarget time.Duration
	// Window is the number of complete segments kept and listed (a DVR
	// window is simply a larger one).
	Window int
	// PartSegments is the number of last complete segments listing parts.
	PartSegments int
	// Now gives the wall clock for EXT-X-PROGRAM-DATE-TIME; time.Now if nil.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.PartTarget <= 0 {
		c.PartTarget = DefaultPartTarget
	}
	if c.SegmentTarget <= 0 {
		c.SegmentTarget = DefaultSegmentTarget
	}
	if c.SegmentTarget < c.PartTarget {
		c.SegmentTarget = c.PartTarget
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.PartSegments <= 0 {
		c.PartSegments = DefaultPartSegments
	}
	if c.PartSegments > c.Window {
		c.PartSegments = c.Window
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Video describes an H.264 track: its parameter sets, without start codes.
type Video struct {
	SPS []byte
	PPS []byte
}

// Audio describes an AAC track by its AudioSpecificConfig (what RTMP sends
// as its AAC sequence header; MPEG-TS callers build it from the ADTS header
// with AudioConfigFromADTS).
type Audio struct {
	Config []byte
}

// Tracks is what a publisher session sends: video, audio or both.
type Tracks struct {
	Video *Video
	Audio *Audio
}

// AudioConfigFromADTS returns the AudioSpecificConfig of the AAC stream whose
// ADTS frame starts adts, so an MPEG-TS ingest can describe its audio.
func AudioConfigFromADTS(adts []byte) ([]byte, error) {
	h, _, err := aac.DecodeADTSHeader(bytes.NewReader(adts))
	if err != nil {
		return nil, fmt.Errorf("llhls: ADTS header: %w", err)
	}
	asc := aac.AudioSpecificConfig{ObjectType: h.ObjectType, ChannelConfiguration: h.ChannelConfig, SamplingFrequency: int(h.Frequency())}
	var buf bytes.Buffer
	if err := asc.Encode(&buf); err != nil {
		return nil, fmt.Errorf("llhls: audio config: %w", err)
	}
	return buf.Bytes(), nil
}

// Errors of the writing side.
var (
	// ErrNotStarted is returned by a write outside a publisher session.
	ErrNotStarted = errors.New("llhls: no publisher session (call Start)")
	// ErrEnded is returned by Start or a write after End.
	ErrEnded = errors.New("llhls: stream ended")
	// ErrNoTrack is returned by a write to a track the session did not declare.
	ErrNoTrack = errors.New("llhls: the session has no such track")
)

// part is one partial segment: a moof+mdat pair.
type part struct {
	dur         float64 // seconds
	independent bool
	data        []byte
}

// segment is one media segment: the parts it is made of, in order.
type segment struct {
	msn           uint64
	init          int // which init section (EXT-X-MAP) its parts need
	discontinuity bool
	pdt           time.Time
	parts         []*part
	complete      bool
	dur           float64 // seconds, when complete
	data          []byte  // all parts joined, when complete
}

// sample is one access unit on its way into a part.
type sample struct {
	t    int64 // decode time, track timescale
	dur  int64 // duration, track timescale
	cto  int32 // composition offset, track timescale
	key  bool
	data []byte
}

// Muxer packages one rendition's access units as LL-HLS and serves them. All
// methods are safe for concurrent use: one publisher goroutine writes while
// any number of viewers read, and readers waiting for a part that does not
// exist yet block on a channel that is closed (and replaced) whenever a part
// is added or the stream ends, so one event wakes them all.
type Muxer struct {
	cfg Config

	mu      sync.Mutex
	changed chan struct{}

	// Published state, read by viewers.
	segs     []*segment // window of complete segments, then the open one (if any)
	inits    map[int][]byte
	initN    int
	nextMSN  uint64 // MSN of the next segment to open
	discSeq  uint64 // EXT-X-DISCONTINUITY-SEQUENCE
	maxDur   float64
	ended    bool
	video    bool // the current (or last) session has video
	siblings []Sibling
	waiting  int // requests blocked in waitFor (for tests and metrics)

	// Session state, used by the writer only.
	active    bool
	waitKey   bool // no sample taken yet this session
	tracks    Tracks
	audioRate int64
	shift     time.Duration // added to the session's timestamps
	lastEnd   time.Duration // end of the previous session on the output timeline
	discNext  bool
	wallStart time.Time
	mainStart int64 // main-track ticks at wallStart
	seq       uint32
	vPending  *sample
	vLastDur  int64
	open      *segment
	segTicks  int64 // main-track ticks in the open segment
	partTicks int64 // main-track ticks in the part being built
	partKey   bool
	vSamples  []sample
	aSamples  []sample
	mainEnd   int64 // main-track ticks: end of the last placed sample
	aNext     int64 // audio ticks: where the next audio frame goes (video sessions)
}

// New returns an idle muxer; Start begins the first publisher session.
func New(cfg Config) *Muxer {
	return &Muxer{cfg: cfg.withDefaults(), changed: make(chan struct{}), inits: map[int][]byte{}}
}

// Start begins a publisher session with the given tracks. A second Start
// after Disconnect is a reconnect: the playlist goes on with an
// EXT-X-DISCONTINUITY and a new init section, and the new session's
// timestamps may start anywhere.
func (m *Muxer) Start(t Tracks) error {
	if t.Video == nil && t.Audio == nil {
		return errors.New("llhls: a session needs a video or an audio track")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return ErrEnded
	}
	if m.active {
		m.disconnectLocked()
	}
	init, rate, err := initSegment(t)
	if err != nil {
		return err
	}
	m.initN++
	m.inits[m.initN] = init
	m.tracks = t
	m.audioRate = rate
	m.video = t.Video != nil
	m.active = true
	m.waitKey = true
	m.discNext = m.nextMSN > 0
	m.vPending = nil
	m.vLastDur = 0
	m.notifyLocked()
	return nil
}

// initSegment writes the init section of t: track 1 is the video (if any),
// the next the audio.
func initSegment(t Tracks) (b []byte, rate int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("llhls: init section: %v", p)
		}
	}()
	init := mp4ff.CreateEmptyInit()
	if t.Video != nil {
		if len(t.Video.SPS) == 0 || len(t.Video.PPS) == 0 {
			return nil, 0, errors.New("llhls: video track without SPS and PPS")
		}
		init.AddEmptyTrack(videoTimescale, "video", "und")
		trak := init.Moov.Traks[len(init.Moov.Traks)-1]
		if err := trak.SetAVCDescriptor("avc1", [][]byte{t.Video.SPS}, [][]byte{t.Video.PPS}, true); err != nil {
			return nil, 0, fmt.Errorf("llhls: video track: %w", err)
		}
	}
	if t.Audio != nil {
		asc, err := aac.DecodeAudioSpecificConfig(bytes.NewReader(t.Audio.Config))
		if err != nil {
			return nil, 0, fmt.Errorf("llhls: audio config: %w", err)
		}
		if asc.SamplingFrequency <= 0 {
			return nil, 0, errors.New("llhls: audio config without a sample rate")
		}
		rate = int64(asc.SamplingFrequency)
		init.AddEmptyTrack(uint32(rate), "audio", "und")
		trak := init.Moov.Traks[len(init.Moov.Traks)-1]
		esds := mp4ff.CreateEsdsBox(t.Audio.Config)
		trak.Mdia.Minf.Stbl.Stsd.AddChild(mp4ff.CreateAudioSampleEntryBox("mp4a", uint16(asc.ChannelConfiguration), 16, uint16(rate), esds))
	}
	var buf bytes.Buffer
	if err := init.Encode(&buf); err != nil {
		return nil, 0, fmt.Errorf("llhls: init section: %w", err)
	}
	return buf.Bytes(), rate, nil
}

// ticks converts d to a count of 1/scale seconds, rounding to nearest.
func ticks(d time.Duration, scale int64) int64 {
	n := int64(d) * scale
	if n >= 0 {
		return (n + int64(time.Second)/2) / int64(time.Second)
	}
	return (n - int64(time.Second)/2) / int64(time.Second)
}

// mainScale is the timescale parts and segments are cut on: the video's, or
// the audio's in an audio-only session.
func (m *Muxer) mainScale() int64 {
	if m.tracks.Video != nil {
		return videoTimescale
	}
	return m.audioRate
}

// firstSample fixes the session's time shift so that its first sample
// continues the output timeline where the previous session ended.
func (m *Muxer) firstSample(ts time.Duration) {
	m.waitKey = false
	m.shift = m.lastEnd - ts
	m.wallStart = m.cfg.Now()
	m.mainStart = ticks(m.lastEnd, m.mainScale())
}

// WriteVideo adds one H.264 access unit: its NAL units (no start codes; AUD
// NAL units are dropped), decode and presentation timestamps on the
// publisher's clock, and whether it is a keyframe (IDR). The session starts
// at its first keyframe: anything before it is dropped.
func (m *Muxer) WriteVideo(dts, pts time.Duration, keyframe bool, nalus [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.writable(); err != nil {
		return err
	}
	if m.tracks.Video == nil {
		return ErrNoTrack
	}
	if m.waitKey {
		if !keyframe {
			return nil
		}
		m.firstSample(dts)
	}
	var data []byte
	for _, n := range nalus {
		if len(n) == 0 || n[0]&0x1f == 9 {
			continue
		}
		data = append(data, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
		data = append(data, n...)
	}
	s := &sample{t: ticks(dts+m.shift, videoTimescale), cto: int32(ticks(pts-dts, videoTimescale)), key: keyframe, data: data}
	if s.t < 0 {
		return nil
	}
	if p := m.vPending; p != nil {
		dur := s.t - p.t
		if dur <= 0 {
			dur = 1 // a timestamp going backwards: keep order, lose nothing
			s.t = p.t + 1
		}
		if partMax := ticks(m.cfg.PartTarget, videoTimescale); dur > partMax {
			// A publisher stall: the frame before it keeps an ordinary
			// duration and the timeline has a gap (players skip it), so
			// no part outgrows PART-TARGET.
			dur = partMax
			if m.vLastDur > 0 && m.vLastDur < partMax {
				dur = m.vLastDur
			}
		}
		m.vLastDur = dur
		m.place(*p, dur)
	}
	m.vPending = s
	return nil
}

// WriteAudio adds one raw AAC frame (no ADTS header) with its timestamp on
// the publisher's clock.
func (m *Muxer) WriteAudio(pts time.Duration, frame []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.writable(); err != nil {
		return err
	}
	if m.tracks.Audio == nil {
		return ErrNoTrack
	}
	if m.tracks.Video == nil {
		if m.waitKey {
			m.firstSample(pts)
		}
		s := sample{t: ticks(pts+m.shift, m.audioRate), key: true, data: append([]byte(nil), frame...)}
		if s.t < m.mainEnd {
			s.t = m.mainEnd
		}
		m.place(s, aacFrameSamples)
		return nil
	}
	if m.waitKey {
		return nil // audio before the first keyframe has no segment to go in
	}
	t := ticks(pts+m.shift, m.audioRate)
	if t < 0 {
		return nil
	}
	if m.aNext > 0 && t > m.aNext-2*aacFrameSamples && t < m.aNext+2*aacFrameSamples {
		t = m.aNext // timestamp jitter: keep the audio gapless
	}
	m.aNext = t + aacFrameSamples
	m.aSamples = append(m.aSamples, sample{t: t, dur: aacFrameSamples, key: true, data: append([]byte(nil), frame...)})
	return nil
}

func (m *Muxer) writable() error {
	if m.ended {
		return ErrEnded
	}
	if !m.active {
		return ErrNotStarted
	}
	return nil
}

// place puts a main-track sample of known duration into the part being
// built, first closing the part when the sample would make it longer than
// PART-TARGET, and the segment when the sample is a keyframe that would make
// the segment longer than its target.
func (m *Muxer) place(s sample, dur int64) {
	scale := m.mainScale()
	partMax := ticks(m.cfg.PartTarget, scale)
	segMax := ticks(m.cfg.SegmentTarget, scale)
	if m.open != nil && s.key && m.segTicks > 0 && m.segTicks+dur > segMax {
		m.flushPart()
		m.closeSegment()
	} else if m.partTicks > 0 && m.partTicks+dur > partMax {
		m.flushPart()
	}
	if m.open == nil {
		m.openSegment(s.t)
	}
	if m.partTicks == 0 {
		m.partKey = s.key
	}
	m.partTicks += dur
	m.segTicks += dur
	m.mainEnd = s.t + dur
	s.dur = dur
	if m.tracks.Video != nil {
		m.vSamples = append(m.vSamples, s)
	} else {
		m.aSamples = append(m.aSamples, s)
	}
	if m.partTicks >= partMax {
		m.flushPart() // the part is full: publish it now, not a frame later
	}
}

// openSegment starts the next media segment at main-track time t.
func (m *Muxer) openSegment(t int64) {
	scale := m.mainScale()
	off := time.Duration((t - m.mainStart) * int64(time.Second) / scale)
	m.open = &segment{msn: m.nextMSN, init: m.initN, discontinuity: m.discNext, pdt: m.wallStart.Add(off)}
	m.discNext = false
	m.nextMSN++
	m.segs = append(m.segs, m.open)
	m.segTicks = 0
}

// flushPart encodes the samples gathered so far as one part (moof+mdat) of
// the open segment and wakes the viewers waiting for it.
func (m *Muxer) flushPart() {
	if m.partTicks == 0 || m.open == nil {
		return
	}
	vid, aid := uint32(0), uint32(1)
	if m.tracks.Video != nil {
		vid, aid = 1, 2
	}
	var ids []uint32
	if len(m.vSamples) > 0 {
		ids = append(ids, vid)
	}
	if len(m.aSamples) > 0 {
		ids = append(ids, aid)
	}
	m.seq++
	frag, _ := mp4ff.CreateMultiTrackFragment(m.seq, ids)
	add := func(ss []sample, id uint32) {
		for _, s := range ss {
			flags := mp4ff.NonSyncSampleFlags
			if s.key {
				flags = mp4ff.SyncSampleFlags
			}
			fs := mp4ff.FullSample{Sample: mp4ff.NewSample(flags, uint32(s.dur), uint32(len(s.data)), s.cto), DecodeTime: uint64(s.t), Data: s.data}
			_ = frag.AddFullSampleToTrack(fs, id) // the track is in ids
		}
	}
	add(m.vSamples, vid)
	add(m.aSamples, aid)
	var buf bytes.Buffer
	if err := frag.Encode(&buf); err != nil {
		// Encoding to memory fails only on a malformed fragment, which the
		// code above does not build; drop the samples rather than wedge.
		m.vSamples, m.aSamples, m.partTicks = m.vSamples[:0], m.aSamples[:0], 0
		return
	}
	p := &part{dur: float64(m.partTicks) / float64(m.mainScale()), independent: m.partKey, data: buf.Bytes()}
	m.open.parts = append(m.open.parts, p)
	m.vSamples, m.aSamples, m.partTicks = nil, nil, 0
	m.notifyLocked()
}

// closeSegment completes the open segment, slides the window and frees the
// part data no playlist lists any more.
func (m *Muxer) closeSegment() {
	seg := m.open
	if seg == nil {
		return
	}
	m.open = nil
	if len(seg.parts) == 0 {
		m.segs = m.segs[:len(m.segs)-1]
		m.nextMSN--
		return
	}
	var n int
	for _, p := range seg.parts {
		seg.dur += p.dur
		n += len(p.data)
	}
	seg.data = make([]byte, 0, n)
	for _, p := range seg.parts {
		seg.data = append(seg.data, p.data...)
	}
	seg.complete = true
	m.maxDur = max(m.maxDur, seg.dur)
	if over := len(m.segs) - m.cfg.Window; over > 0 {
		for _, s := range m.segs[:over] {
			if s.discontinuity {
				m.discSeq++
			}
		}
		m.segs = append([]*segment(nil), m.segs[over:]...)
	}
	// Parts of segments older than the listed ones (plus one, for a player
	// that just read an older playlist) are no longer needed.
	if keep := len(m.segs) - m.cfg.PartSegments - 1; keep > 0 {
		for _, s := range m.segs[:keep] {
			for _, p := range s.parts {
				p.data = nil
			}
		}
	}
	for n := range m.inits {
		if len(m.segs) > 0 && n < m.segs[0].init {
			delete(m.inits, n)
		}
	}
	m.notifyLocked()
}

// disconnectLocked ends the session: the frame held back for its duration
// gets the one before it, and the open part and segment are completed.
func (m *Muxer) disconnectLocked() {
	if !m.active {
		return
	}
	if p := m.vPending; p != nil {
		dur := m.vLastDur
		if dur <= 0 {
			dur = videoTimescale / 30
		}
		m.place(*p, dur)
		m.vPending = nil
	}
	m.flushPart()
	m.closeSegment()
	m.aSamples = nil
	m.aNext = 0
	m.active = false
	if !m.waitKey {
		m.lastEnd = time.Duration(m.mainEnd * int64(time.Second) / m.mainScale())
	}
	m.notifyLocked()
}

// Disconnect ends the current publisher session, completing its last
// segment; the stream stays live for a reconnect (Start) or End.
func (m *Muxer) Disconnect() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.disconnectLocked()
}

// End ends the stream: the playlist gets EXT-X-ENDLIST and waiting viewers
// are answered at once.
func (m *Muxer) End() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.disconnectLocked()
	m.ended = true
	m.notifyLocked()
}

// notifyLocked wakes every waiting viewer by closing the current channel.
func (m *Muxer) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// LastPart reports the last part published: its segment's media sequence
// number and its index in that segment (what EXT-X-RENDITION-REPORT's
// LAST-MSN and LAST-PART say), and false before the first part.
func (m *Muxer) LastPart() (msn uint64, part int, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.segs) - 1; i >= 0; i-- {
		if s := m.segs[i]; len(s.parts) > 0 {
			return s.msn, len(s.parts) - 1, true
		}
	}
	return 0, 0, false
}

// Sibling is another rendition of the same stream, for EXT-X-RENDITION-REPORT.
type Sibling struct {
	// URI is the sibling's media playlist, relative to this one's.
	URI string
	// Source reports its last part; a *Muxer is one.
	Source PartReporter
}

// PartReporter says where a rendition's live edge is; *Muxer implements it.
type PartReporter interface {
	LastPart() (msn uint64, part int, ok bool)
}

// SetSiblings sets the renditions this playlist reports on.
func (m *Muxer) SetSiblings(s []Sibling) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.siblings = append([]Sibling(nil), s...)
}
