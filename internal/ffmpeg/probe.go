package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hlsd/hlsd"
)

// DemuxerAllowlist returns the comma-separated ffmpeg demuxers hlsd accepts
// for input, for -format_whitelist. It names media containers and raw
// elementary streams only: demuxers that open other files or URLs (hls,
// concat, dash, sdp, rtp, rtsp, imf, image2 sequences, lavfi, data...) are
// left out, so a hostile upload cannot make ffmpeg read local files or reach
// the network. ffprobe and the transcoder must pass the same list.
func DemuxerAllowlist() string {
	return strings.Join([]string{
		// Containers. "mov" matches ffmpeg's "mov,mp4,m4a,3gp,3g2,mj2" and
		// "matroska" its "matroska,webm".
		"mov", "matroska", "webm", "avi", "flv", "asf", "mpeg", "mpegts", "mxf", "nut", "ogg", "ivf",
		// Audio files and raw audio streams.
		"mp3", "flac", "wav", "w64", "aiff", "caf", "aac", "loas", "ac3", "eac3", "dts", "dtshd", "truehd", "mlp",
		"amr", "amrnb", "amrwb", "wv", "ape", "tta", "tak", "mpc", "mpc8", "au", "dsf",
		// Raw video elementary streams.
		"mpegvideo", "h264", "hevc", "m4v", "obu",
	}, ",")
}

// ProtocolAllowlist returns the ffmpeg protocols allowed while reading an
// input, for -protocol_whitelist. Inputs are passed as "file:" paths; the
// list keeps any reference inside a file from reaching other protocols
// (http, tcp, crypto, data...).
func ProtocolAllowlist() string { return "file" }

// Limits bound what Probe accepts, so that a hostile or absurd file is
// refused before the transcoder spends memory and hours on it. A zero field
// means no limit of that kind; a zero Limits in a Prober means DefaultLimits.
type Limits struct {
	MaxWidth, MaxHeight int
	// MaxPixels bounds width*height of one frame.
	MaxPixels   int
	MaxDuration time.Duration
	MaxStreams  int
}

// DefaultLimits returns the limits a zero Prober uses: 8K frames, a day of
// media, 32 streams. A function rather than a variable so that no caller can
// change them for everyone.
func DefaultLimits() Limits {
	return Limits{MaxWidth: 8192, MaxHeight: 8192, MaxPixels: 36_000_000, MaxDuration: 24 * time.Hour, MaxStreams: 32}
}

// Prober reads media files with ffprobe. The zero value is ready to use: it
// runs "ffprobe" from PATH with a 30 s time limit and DefaultLimits.
type Prober struct {
	// FFprobe is the ffprobe binary; "" looks up "ffprobe" in PATH.
	FFprobe string
	// Timeout bounds one ffprobe run; 0 means 30 s.
	Timeout time.Duration
	// Limits are checked on every probe; the zero value means DefaultLimits().
	Limits Limits

	// noSniff turns off the text sniffing, so tests can prove the ffprobe
	// allowlists hold on their own.
	noSniff bool
}

const (
	defaultProbeTimeout = 30 * time.Second
	sniffSize           = 4096
	// maxProbeOutput caps ffprobe's JSON; more means a file with absurdly
	// many streams or tags.
	maxProbeOutput = 4 << 20
)

// Probe reads the container and streams of the media file at path. Every
// failure a user can cause is an *hlsd.Error with a one-line message naming
// the file by its base name: unreadable, empty, a playlist or script
// instead of media, not media, truncated, without audio or video, or over
// the limits.
func (p *Prober) Probe(ctx context.Context, path string) (*Info, error) {
	name := filepath.Base(path)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", name, err)
	}
	size, head, err := readHead(abs, name)
	if err != nil {
		return nil, err
	}
	if !p.noSniff {
		if err := sniff(head, name); err != nil {
			return nil, err
		}
	}
	out, err := p.run(ctx, abs, name)
	if err != nil {
		return nil, err
	}
	info, err := parseProbe(out)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", name, err)
	}
	if strings.HasPrefix(info.Container, "mov,") {
		if err := checkMP4Boxes(abs, size, name); err != nil {
			return nil, err
		}
	}
	if err := p.limits().check(info, name); err != nil {
		return nil, err
	}
	if info.Video() == nil && info.Audio() == nil {
		return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "%s has no audio or video stream", name)
	}
	return info, nil
}

func (p *Prober) limits() Limits {
	if p.Limits == (Limits{}) {
		return DefaultLimits()
	}
	return p.Limits
}

// readHead opens the file itself first, so that a missing or unreadable
// file gets a plain message rather than ffprobe's, and returns its size and
// first bytes.
func readHead(abs, name string) (int64, []byte, error) {
	f, err := os.Open(abs)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return 0, nil, hlsd.Errorf(hlsd.ENOTFOUND, "cannot read %s: no such file", name)
		case errors.Is(err, fs.ErrPermission):
			return 0, nil, hlsd.Errorf(hlsd.EINVALID, "cannot read %s: permission denied", name)
		}
		return 0, nil, hlsd.Errorf(hlsd.EINVALID, "cannot read %s: %s", name, errnoText(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, hlsd.Errorf(hlsd.EINVALID, "cannot read %s: %s", name, errnoText(err))
	}
	if fi.IsDir() {
		return 0, nil, hlsd.Errorf(hlsd.EINVALID, "%s is a directory, not a media file", name)
	}
	if !fi.Mode().IsRegular() {
		return 0, nil, hlsd.Errorf(hlsd.EINVALID, "%s is not a regular file", name)
	}
	if fi.Size() == 0 {
		return 0, nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is empty (0 bytes)", name)
	}
	head := make([]byte, sniffSize)
	n, err := f.Read(head)
	if err != nil {
		return 0, nil, hlsd.Errorf(hlsd.EINVALID, "cannot read %s: %s", name, errnoText(err))
	}
	return fi.Size(), head[:n], nil
}

// errnoText returns the system's short description of err ("is a
// directory"), without the path that *fs.PathError adds.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// run executes ffprobe and returns its JSON output.
func (p *Prober) run(ctx context.Context, abs, name string) ([]byte, error) {
	bin := p.FFprobe
	if bin == "" {
		bin = "ffprobe"
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := command(ctx, bin,
		"-v", "error", "-hide_banner",
		"-protocol_whitelist", ProtocolAllowlist(),
		"-format_whitelist", DemuxerAllowlist(),
		"-print_format", "json", "-show_format", "-show_streams",
		"file:"+abs)
	stdout := &cappedBuffer{max: maxProbeOutput}
	stderr := &cappedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	switch {
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) && cmd.Process == nil:
		return nil, hlsd.Errorf(hlsd.EUNAVAILABLE, "ffprobe not found: install the Debian package ffmpeg")
	case parent.Err() != nil:
		return nil, fmt.Errorf("probe %s: %w", name, parent.Err())
	case ctx.Err() != nil:
		return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "probing %s took longer than %s; the file may be malformed", name, timeout)
	case err != nil:
		return nil, probeFailure(name, strings.ReplaceAll(stderr.String(), "file:"+abs, name), err)
	case stdout.over:
		return nil, hlsd.Errorf(hlsd.ETOOLARGE, "%s has too many streams or tags to read", name)
	}
	return stdout.Bytes(), nil
}

// probeFailure turns a failed ffprobe run into a user error. ffprobe's own
// text stays out of the message (it holds paths and internals); its last
// line is kept in the wrapped error for logs.
func probeFailure(name, stderr string, err error) error {
	last := lastLine(stderr)
	var e *hlsd.Error
	switch {
	case strings.Contains(stderr, "Format not on whitelist"):
		e = refusedFormat(name, demuxerOf(stderr))
	case strings.Contains(stderr, "Protocol '") && strings.Contains(stderr, "not on whitelist"):
		e = hlsd.Errorf(hlsd.EUNSUPPORTED, "%s refers to other files or URLs; hlsd accepts self-contained media files only", name)
	case strings.Contains(stderr, "moov atom not found"):
		e = hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is truncated or corrupt: its MP4 index (moov box) is missing", name)
	default:
		e = hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is not a media file hlsd can read", name)
	}
	if last == "" {
		last = err.Error()
	}
	return fmt.Errorf("%w (ffprobe: %s)", e, last)
}

// refusedFormat explains a demuxer that the allowlist refused.
func refusedFormat(name, demuxer string) *hlsd.Error {
	if what := playlistKinds[demuxer]; what != "" {
		return playlistError(name, what)
	}
	if demuxer == "" {
		return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is in a format hlsd does not accept", name)
	}
	return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s is in a format hlsd does not accept (%s)", name, demuxer)
}

var playlistKinds = map[string]string{
	"hls":                "an HLS playlist",
	"concat":             "an ffconcat script",
	"dash":               "a DASH manifest",
	"webm_dash_manifest": "a DASH manifest",
	"sdp":                "an SDP session description",
	"rtp":                "an RTP stream description",
	"rtsp":               "an RTSP description",
	"imf":                "an IMF composition playlist",
	"ffmetadata":         "an ffmetadata file",
}

func playlistError(name, what string) *hlsd.Error {
	return hlsd.Errorf(hlsd.EUNSUPPORTED, "%s: input is %s, not a media file; hlsd accepts media files only", name, what)
}

// demuxerOf returns the demuxer named in an ffmpeg log line such as
// "[hls @ 0x55d0c8a0] Format not on whitelist ...".
func demuxerOf(stderr string) string {
	for line := range strings.SplitSeq(stderr, "\n") {
		if !strings.Contains(line, "Format not on whitelist") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "["); ok {
			if name, _, ok := strings.Cut(rest, " @ "); ok {
				return name
			}
		}
	}
	return ""
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// cappedBuffer keeps the first max bytes written and drops the rest, so a
// child process cannot fill memory; over records that bytes were dropped.
type cappedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// sniff refuses text inputs that ffmpeg would treat as instructions to open
// other files or URLs, with a message saying what the file is. The demuxer
// and protocol allowlists refuse them too; sniffing only makes the error
// clearer and does not depend on ffmpeg's detection.
func sniff(head []byte, name string) error {
	if bytes.IndexByte(head, 0) >= 0 {
		return nil // binary: leave it to ffprobe
	}
	text := string(bytes.TrimLeft(head, "\ufeff \t\r\n"))
	upper := strings.ToUpper(text)
	switch {
	case strings.HasPrefix(text, "#EXTM3U") || strings.Contains(text, "#EXT-X-") || strings.Contains(text, "#EXTINF"):
		return playlistError(name, "an HLS playlist")
	case strings.HasPrefix(text, "ffconcat version") || concatLines(text):
		return playlistError(name, "an ffconcat script")
	case strings.HasPrefix(text, "v=0") && (strings.Contains(text, "\nm=") || strings.Contains(text, "\no=") || strings.Contains(text, "\ns=")):
		return playlistError(name, "an SDP session description")
	case strings.Contains(upper, "<MPD") || strings.HasPrefix(upper, "<?XML") && strings.Contains(upper, "MPD"):
		return playlistError(name, "a DASH manifest")
	case strings.Contains(text, "<CompositionPlaylist"):
		return playlistError(name, "an IMF composition playlist")
	case strings.HasPrefix(upper, "[PLAYLIST]") || strings.HasPrefix(upper, "<ASX") || strings.Contains(upper, "<SMIL"):
		return playlistError(name, "a playlist")
	case strings.HasPrefix(text, ";FFMETADATA"):
		return playlistError(name, "an ffmetadata file")
	}
	return nil
}

// concatLines reports whether text has a line that an ffconcat script would
// read as "file PATH".
func concatLines(text string) bool {
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "file"); ok && len(rest) > 1 && (rest[0] == ' ' || rest[0] == '\t') {
			return true
		}
	}
	return false
}

// check refuses files over the limits, with the figure and the limit.
func (l Limits) check(in *Info, name string) error {
	if l.MaxStreams > 0 && len(in.Streams) > l.MaxStreams {
		return hlsd.Errorf(hlsd.ETOOLARGE, "%s has %d streams; the limit is %d", name, len(in.Streams), l.MaxStreams)
	}
	if l.MaxDuration > 0 && in.Length() > l.MaxDuration {
		return hlsd.Errorf(hlsd.ETOOLARGE, "%s lasts %s; the limit is %s", name, in.Length().Round(time.Second), l.MaxDuration)
	}
	for _, s := range in.Streams {
		if s.Kind != "video" {
			continue
		}
		if l.MaxWidth > 0 && s.Width > l.MaxWidth || l.MaxHeight > 0 && s.Height > l.MaxHeight {
			return hlsd.Errorf(hlsd.ETOOLARGE, "video is %dx%d; the limit is %dx%d", s.Width, s.Height, l.MaxWidth, l.MaxHeight)
		}
		if l.MaxPixels > 0 && s.Width*s.Height > l.MaxPixels {
			return hlsd.Errorf(hlsd.ETOOLARGE, "video is %dx%d (%.1f megapixels); the limit is %.1f megapixels",
				s.Width, s.Height, float64(s.Width*s.Height)/1e6, float64(l.MaxPixels)/1e6)
		}
	}
	return nil
}

// probeJSON is the part of ffprobe's -print_format json output hlsd reads.
type probeJSON struct {
	Streams []struct {
		Index        int               `json:"index"`
		CodecType    string            `json:"codec_type"`
		CodecName    string            `json:"codec_name"`
		Profile      string            `json:"profile"`
		Width        int               `json:"width"`
		Height       int               `json:"height"`
		PixFmt       string            `json:"pix_fmt"`
		SampleRate   string            `json:"sample_rate"`
		Channels     int               `json:"channels"`
		BitRate      string            `json:"bit_rate"`
		AvgFrameRate string            `json:"avg_frame_rate"`
		RFrameRate   string            `json:"r_frame_rate"`
		Disposition  map[string]int    `json:"disposition"`
		Tags         map[string]string `json:"tags"`
		SideData     []struct {
			Type     string   `json:"side_data_type"`
			Rotation *float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		Size       string `json:"size"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

// parseProbe maps ffprobe's JSON onto Info.
func parseProbe(out []byte) (*Info, error) {
	var pj probeJSON
	if err := json.Unmarshal(out, &pj); err != nil {
		return nil, fmt.Errorf("decode ffprobe output: %w", err)
	}
	in := &Info{
		Container: pj.Format.FormatName,
		Duration:  parseFloat(pj.Format.Duration),
		Size:      int64(parseFloat(pj.Format.Size)),
		Bitrate:   int(parseFloat(pj.Format.BitRate)),
		Streams:   []Stream{},
	}
	for _, js := range pj.Streams {
		s := Stream{
			Index:       js.Index,
			Kind:        js.CodecType,
			Codec:       js.CodecName,
			Profile:     js.Profile,
			PixFmt:      js.PixFmt,
			SampleRate:  int(parseFloat(js.SampleRate)),
			Channels:    js.Channels,
			Bitrate:     int(parseFloat(js.BitRate)),
			AttachedPic: js.Disposition["attached_pic"] == 1,
			Language:    js.Tags["language"],
		}
		if s.Language == "und" {
			s.Language = ""
		}
		if s.Kind == "video" {
			s.Width, s.Height = js.Width, js.Height
			if !s.AttachedPic {
				s.FPS = parseRate(js.AvgFrameRate)
				if s.FPS == 0 {
					s.FPS = parseRate(js.RFrameRate)
				}
			}
			rot := math.NaN()
			for _, sd := range js.SideData {
				if sd.Type == "Display Matrix" && sd.Rotation != nil {
					rot = -*sd.Rotation // ffprobe reports counter-clockwise degrees
				}
			}
			if math.IsNaN(rot) {
				if v, err := strconv.ParseFloat(js.Tags["rotate"], 64); err == nil {
					rot = v // the legacy tag is clockwise
				}
			}
			if !math.IsNaN(rot) {
				s.Rotation = normaliseRotation(rot)
			}
		}
		in.Streams = append(in.Streams, s)
	}
	return in, nil
}

// normaliseRotation rounds clockwise degrees to 0, 90, 180 or 270.
func normaliseRotation(deg float64) int {
	r := int(math.Round(deg/90)) * 90 % 360
	if r < 0 {
		r += 360
	}
	return r
}

func parseFloat(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// parseRate reads an ffprobe rational such as "30000/1001"; "0/0" is 0.
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return parseFloat(s)
	}
	n, d := parseFloat(num), parseFloat(den)
	if d == 0 {
		return 0
	}
	return n / d
}
