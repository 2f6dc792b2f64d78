package ffmpeg

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
)

// Output formats of a presentation.
const (
	FormatFMP4 = "fmp4"
	FormatTS   = "ts"
)

// DefaultLadder is the video ladder used when none is given: rung heights,
// where a height means the short side so portrait video gets the same rungs.
var DefaultLadder = []int{1080, 720, 480, 360}

// Defaults applied by Plan to zero-valued options.
const (
	DefaultSegmentDuration = 6 * time.Second
	DefaultPreset          = "veryfast"
	maxFPS                 = 60
)

// PlanOptions are the user's choices that shape a Job.
type PlanOptions struct {
	Format          string        // FormatFMP4 (default) or FormatTS
	SegmentDuration time.Duration // default 6s
	Ladder          []int         // rung heights (short side); nil means DefaultLadder
	Preset          string        // x264 preset, default "veryfast"
	// Progressive makes ffmpeg write growing EVENT playlists and segments
	// through temporary files, so a player can start before the end.
	Progressive bool
	// StrictLadder refuses a ladder rung taller than the source (a ladder
	// chosen for this one file) instead of skipping it (one ladder for
	// every upload, where skipped rungs are listed in Job.SkippedRungs).
	StrictLadder bool
}

// Job is a planned transcode: every rendition of a presentation with the
// settings ffmpeg needs, decided once from the probe so that the command
// line, the playlists and the checks all agree.
type Job struct {
	Kind        hlsd.Kind
	Format      string
	Segment     time.Duration
	Preset      string
	Progressive bool
	// Duration of the source in seconds.
	Duration float64
	// SourceFPS is the probed frame rate; FPS the output one (capped at 60).
	SourceFPS, FPS float64
	Video          []VideoRendition
	// SkippedRungs are the ladder rungs taller than the source, which
	// were not made (upscaling adds bytes, not detail), tallest first.
	SkippedRungs []int
	// Audio are the separate audio renditions: the shared EXT-X-MEDIA group
	// of an fMP4 video (one, "audio") or the variants of an audio-only
	// source.
	Audio []AudioRendition
	// MuxedAudio, when set, is the AAC track encoded into every video
	// rendition instead of a separate one (TS video sources with audio;
	// Audio is then empty). Players handle TS video with a separate TS
	// audio rendition poorly (hls.js stalls appending it), and muxed
	// audio+video is what TS deployments serve.
	MuxedAudio *AudioRendition
	// Poster is true when a poster image is made (video sources).
	Poster bool
	// StartSegments is how many segments at the start last StartSegment
	// instead of Segment. A progressive (watch-early) presentation becomes
	// playable once every rendition has one segment, so short first
	// segments cut the time to first playable; later ones keep the full
	// length, which compresses better and costs fewer requests.
	StartSegments int
	StartSegment  time.Duration
	// KeyInfo, when set, is the path of an hlsenc key info file (key URI,
	// key file path, no IV line): every segment is then encrypted with
	// AES-128, TS only (see TranscodeArgs).
	KeyInfo string
}

// VideoRendition is one planned H.264 rung.
type VideoRendition struct {
	Name          string // folder name, e.g. "720p"
	Width, Height int    // output size, even, as displayed
	// MaxRate is the capped-CRF ceiling in bits per second (-maxrate; -bufsize is twice it).
	MaxRate int
	CRF     int
	Profile string // x264 profile: "high"
	// Level is the H.264 level times ten (40 for 4.0), chosen from size, rate and bitrate.
	Level int
	// GOP is the keyframe interval in frames: one segment.
	GOP int
}

// AudioRendition is one planned AAC-LC rendition.
type AudioRendition struct {
	// Name is the folder: "audio" beside video, "aac_128k"/"aac_64k" for
	// audio-only sources, "" when muxed into the video renditions.
	Name       string
	Bitrate    int // bits per second
	SampleRate int
	Channels   int
}

// RenditionNames returns the folder names of every rendition, video first.
func (j *Job) RenditionNames() []string {
	var out []string
	for _, v := range j.Video {
		out = append(out, v.Name)
	}
	for _, a := range j.Audio {
		out = append(out, a.Name)
	}
	return out
}

// Codecs returns the RFC 6381 string the rung is planned to have, e.g.
// "avc1.640028"; the published playlist uses the string measured from the
// output instead, this one serves playlists written before encoding ends.
func (v VideoRendition) Codecs() string {
	return fmt.Sprintf("avc1.%02x%02x%02x", profileIDC(v.Profile), 0, v.Level)
}

func profileIDC(p string) int {
	switch p {
	case "baseline":
		return 66
	case "main":
		return 77
	default:
		return 100
	}
}

// AudioCodecs is the RFC 6381 string of AAC-LC, the only audio codec planned.
const AudioCodecs = "mp4a.40.2"

// progressiveStartSegments is Job.StartSegments in progressive mode: three
// segments of a third of the target duration (2 s of 6 s).
const progressiveStartSegments = 3

// Plan decides the renditions for a probed source. It never upscales: rungs
// at or above the source's short side are dropped and, when the source is
// smaller than the top requested rung, the source size becomes the top rung.
func Plan(info *Info, opts PlanOptions) (*Job, error) {
	j := &Job{
		Format:      opts.Format,
		Segment:     opts.SegmentDuration,
		Preset:      opts.Preset,
		Progressive: opts.Progressive,
		Duration:    info.Duration,
	}
	if opts.Progressive {
		j.StartSegments = progressiveStartSegments
	}
	if j.Format == "" {
		j.Format = FormatFMP4
	}
	if j.Format != FormatFMP4 && j.Format != FormatTS {
		return nil, hlsd.Errorf(hlsd.EINVALID, "unknown format %q: use fmp4 or ts", j.Format)
	}
	if j.Segment == 0 {
		j.Segment = DefaultSegmentDuration
	}
	if j.Segment < time.Second || j.Segment > 60*time.Second {
		return nil, hlsd.Errorf(hlsd.EINVALID, "segment duration %v out of range: use 1s to 60s", j.Segment)
	}
	if j.StartSegments > 0 {
		j.StartSegment = max(time.Second, (j.Segment / 3).Round(time.Millisecond))
		if j.StartSegment >= j.Segment {
			j.StartSegments = 0
		}
	}
	if j.Preset == "" {
		j.Preset = DefaultPreset
	}
	if !validPreset(j.Preset) {
		return nil, hlsd.Errorf(hlsd.EINVALID, "unknown x264 preset %q", j.Preset)
	}
	ladder := opts.Ladder
	if len(ladder) == 0 {
		ladder = DefaultLadder
	}
	for _, h := range ladder {
		if h < 16 || h > 4320 {
			return nil, hlsd.Errorf(hlsd.EINVALID, "ladder rung %dp out of range: use 16p to 4320p", h)
		}
	}
	v, a := info.Video(), info.Audio()
	switch {
	case v != nil:
		j.Kind = hlsd.KindVideo
		j.Poster = true
		if err := j.planVideo(v, ladder, opts.StrictLadder); err != nil {
			return nil, err
		}
		switch {
		case a != nil && j.Format == FormatTS:
			j.MuxedAudio = &AudioRendition{Bitrate: 128000, SampleRate: sampleRate(a), Channels: 2}
		case a != nil:
			j.Audio = []AudioRendition{{Name: "audio", Bitrate: 128000, SampleRate: sampleRate(a), Channels: 2}}
		}
	case a != nil:
		j.Kind = hlsd.KindAudio
		j.Audio = []AudioRendition{
			{Name: "aac_128k", Bitrate: 128000, SampleRate: sampleRate(a), Channels: 2},
			{Name: "aac_64k", Bitrate: 64000, SampleRate: sampleRate(a), Channels: 2},
		}
	default:
		return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "no audio or video stream found")
	}
	return j, nil
}

func (j *Job) planVideo(v *Stream, ladder []int, strict bool) error {
	w, h := v.DisplaySize()
	if w <= 0 || h <= 0 {
		return hlsd.Errorf(hlsd.EUNSUPPORTED, "video stream has no size")
	}
	j.SourceFPS = v.FPS
	j.FPS = capFPS(v.FPS)
	short := min(w, h)
	rungs := slices.Clone(ladder)
	slices.Sort(rungs)
	rungs = slices.Compact(rungs)
	slices.Reverse(rungs)
	if strict && rungs[0] > short {
		return hlsd.Errorf(hlsd.EINVALID, "ladder rung %dp is taller than the source (%dp): hlsd does not upscale; use rungs of %dp or less", rungs[0], short, short)
	}
	var heights []int
	if rungs[0] > short && !slices.Contains(rungs, short) {
		heights = append(heights, short)
	}
	for _, r := range rungs {
		if r <= short {
			heights = append(heights, r)
		} else {
			j.SkippedRungs = append(j.SkippedRungs, r)
		}
	}
	gop := max(1, int(math.Round(j.FPS*j.Segment.Seconds())))
	for _, r := range heights {
		rw, rh := scaledSize(w, h, r)
		rate := maxRate(rw*rh, j.FPS)
		j.Video = append(j.Video, VideoRendition{
			Name:    strconv.Itoa(r) + "p",
			Width:   rw,
			Height:  rh,
			MaxRate: rate,
			CRF:     21,
			Profile: "high",
			Level:   level(rw, rh, j.FPS, rate),
			GOP:     gop,
		})
	}
	return nil
}

// scaledSize returns the size whose short side is short, keeping the
// aspect ratio of w x h, both even and never larger than the source.
func scaledSize(w, h, short int) (int, int) {
	even := func(x float64, limit int) int {
		n := int(math.Round(x/2)) * 2
		if n > limit {
			n = limit &^ 1
		}
		return max(n, 2)
	}
	if w >= h {
		return even(float64(short)*float64(w)/float64(h), w), even(float64(short), h)
	}
	return even(float64(short), w), even(float64(short)*float64(h)/float64(w), h)
}

// capFPS keeps the source rate up to 60 and otherwise divides it by the
// smallest whole number that brings it to 60 or below (120 -> 60,
// 119.88 -> 59.94, 100 -> 50), so frames are dropped evenly.
func capFPS(fps float64) float64 {
	if fps <= 0 {
		return 30 // unknown: ffmpeg keeps the source timing; this only sizes the GOP
	}
	if fps <= maxFPS {
		return fps
	}
	n := math.Ceil(fps / maxFPS)
	return math.Round(fps/n*1000) / 1000
}

// ladderRates are the -maxrate ceilings of the standard rungs at up to 30 fps.
var ladderRates = []struct{ pixels, rate int }{
	{640 * 360, 800_000},
	{854 * 480, 1_400_000},
	{1280 * 720, 2_800_000},
	{1920 * 1080, 5_000_000},
}

// maxRate returns the bitrate ceiling for a picture size: the standard rungs'
// values, interpolated by pixel count between them, proportional beyond them,
// and half as much again above 30 fps.
func maxRate(pixels int, fps float64) int {
	var r float64
	lo, hi := ladderRates[0], ladderRates[len(ladderRates)-1]
	switch {
	case pixels <= lo.pixels:
		r = float64(lo.rate) * float64(pixels) / float64(lo.pixels)
	case pixels >= hi.pixels:
		r = float64(hi.rate) * float64(pixels) / float64(hi.pixels)
	default:
		for i := 1; i < len(ladderRates); i++ {
			a, b := ladderRates[i-1], ladderRates[i]
			if pixels <= b.pixels {
				f := float64(pixels-a.pixels) / float64(b.pixels-a.pixels)
				r = float64(a.rate) + f*float64(b.rate-a.rate)
				break
			}
		}
	}
	if fps > 31 {
		r *= 1.5
	}
	r = max(r, 150_000)
	return int(math.Round(r/1000)) * 1000
}

// h264Levels are the limits of H.264 Table A-1 that matter here: frame size
// in macroblocks, macroblocks per second and bitrate (kbit/s, Main; High
// allows 1.25 times more).
var h264Levels = []struct{ level, maxFS, maxMBPS, maxBR int }{
	{30, 1620, 40500, 10000},
	{31, 3600, 108000, 14000},
	{32, 5120, 216000, 20000},
	{40, 8192, 245760, 20000},
	{41, 8192, 245760, 50000},
	{42, 8704, 522240, 50000},
	{50, 22080, 589824, 135000},
	{51, 36864, 983040, 240000},
	{52, 36864, 2073600, 240000},
}

// level returns the lowest H.264 level (times ten, at least 3.0) that holds
// the size, rate and bitrate ceiling, so the planned codec string is the
// one x264 writes when given -level.
func level(w, h int, fps float64, maxRate int) int {
	mbw, mbh := (w+15)/16, (h+15)/16
	fs := mbw * mbh
	mbps := float64(fs) * fps
	for _, l := range h264Levels {
		side := int(math.Sqrt(float64(l.maxFS) * 8))
		if fs <= l.maxFS && mbw <= side && mbh <= side && mbps <= float64(l.maxMBPS) && maxRate/1000 <= l.maxBR*5/4 {
			return l.level
		}
	}
	return 52
}

func sampleRate(a *Stream) int {
	if a.SampleRate == 44100 {
		return 44100
	}
	return 48000
}

var presets = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"}

func validPreset(p string) bool { return slices.Contains(presets, p) }

// ValidPreset reports whether p is an x264 preset, for flags checked
// before any transcode runs.
func ValidPreset(p string) bool { return validPreset(p) }

// ParseLadder parses a comma-separated ladder such as "1080p,720p,360" into
// rung heights.
func ParseLadder(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.ToLower(f), "p"))
		if err != nil || n < 16 || n > 4320 {
			return nil, hlsd.Errorf(hlsd.EINVALID, "invalid ladder rung %q: use heights like 720p", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, hlsd.Errorf(hlsd.EINVALID, "empty ladder: use heights like 1080p,720p")
	}
	return out, nil
}
