package ffmpeg

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Input says how ffmpeg opens an untrusted source: a file: URL (so a name
// like "http:x" or "concat:a|b" is never a protocol), only the protocols of
// ProtocolAllowlist, and only the demuxers of Formats (-format_whitelist).
type Input struct {
	Path    string // absolute path of the source
	Formats string // comma-separated demuxer allowlist, see DemuxerAllowlist
	// MaxPixels, when positive, is the decoders' cap on width×height of
	// every frame (-max_pixels), not only of the first frames that the
	// probe saw: a stream whose resolution jumps mid-way fails there, with
	// an error that PixelLimit recognises, before any memory goes to it.
	MaxPixels int
	// VideoStream and AudioStream are the absolute stream indexes to read; -1 for none.
	VideoStream, AudioStream int
}

func (in Input) args() []string {
	var a []string
	if in.MaxPixels > 0 {
		a = append(a, "-max_pixels", strconv.Itoa(in.MaxPixels))
	}
	a = append(a, "-protocol_whitelist", ProtocolAllowlist())
	if in.Formats != "" {
		a = append(a, "-format_whitelist", in.Formats)
	}
	return append(a, "-i", "file:"+in.Path)
}

// commonArgs start every command: no stdin, no banner, only errors on stderr.
var commonArgs = []string{"-nostdin", "-hide_banner", "-loglevel", "error"}

// SegmentExt returns the file extension of media segments for a format.
func SegmentExt(format string) string {
	if format == FormatTS {
		return ".ts"
	}
	return ".m4s"
}

// Playlist and init segment names inside a rendition folder.
const (
	PlaylistName = "index.m3u8"
	InitName     = "init.mp4"
	PosterName   = "poster.jpg"
	// SegmentPattern is the printf pattern of segment names, numbered from 1.
	SegmentPattern = "seg_%05d"
)

// TranscodeArgs returns the argv (without the program name) of the one
// ffmpeg process that decodes in once and writes every rendition of j into
// dir/NAME/: a split filter graph feeds one H.264 encoder per rung, and each
// rendition has its own HLS muxer. With j.MuxedAudio each video output also
// maps the audio stream and encodes it to AAC (once per output: cheap
// beside H.264), so segments are still cut on the video keyframes.
// Progress goes to stdout (-progress pipe:1).
func TranscodeArgs(j *Job, in Input, dir string) []string {
	a := append([]string{}, commonArgs...)
	a = append(a, "-progress", "pipe:1", "-nostats")
	a = append(a, in.args()...)
	if len(j.Video) > 0 {
		a = append(a, "-filter_complex", filterGraph(j, in.VideoStream))
	}
	for i, v := range j.Video {
		a = append(a,
			"-map", fmt.Sprintf("[v%d]", i),
			"-c:v", "libx264",
			"-preset", j.Preset,
			"-profile:v", v.Profile,
			"-level:v", fmt.Sprintf("%d.%d", v.Level/10, v.Level%10),
			"-crf", strconv.Itoa(v.CRF),
			"-maxrate", kbps(v.MaxRate),
			"-bufsize", kbps(2*v.MaxRate),
			"-g", strconv.Itoa(v.GOP),
			"-keyint_min", strconv.Itoa(v.GOP),
			"-sc_threshold", "0",
			"-force_key_frames", keyframeExpr(j),
		)
		if j.MuxedAudio != nil {
			a = append(a, "-map", fmt.Sprintf("0:%d", in.AudioStream))
			a = append(a, audioCodecArgs(*j.MuxedAudio)...)
			a = append(a, "-sn", "-dn")
		} else {
			a = append(a, "-an", "-sn", "-dn")
		}
		a = append(a,
			// B-frames make the encoder's first DTS negative. Shifting it
			// to zero (the default) delays every picture by the B-frame
			// delay against the audio: a hole at the start and video late
			// by a frame or two. Keep the timestamps, in the HLS muxer and
			// in its segment muxer.
			"-avoid_negative_ts", "disabled",
			"-hls_segment_options", segmentOptions(j.Format),
		)
		a = append(a, hlsMuxerArgs(j, filepath.Join(dir, v.Name))...)
	}
	for _, r := range j.Audio {
		a = append(a,
			"-map", fmt.Sprintf("0:%d", in.AudioStream),
		)
		a = append(a, audioCodecArgs(r)...)
		a = append(a, "-vn", "-sn", "-dn")
		a = append(a, hlsMuxerArgs(j, filepath.Join(dir, r.Name))...)
	}
	return a
}

// audioCodecArgs are the AAC encoder options of one planned audio track,
// in its own rendition or muxed into a video one.
func audioCodecArgs(r AudioRendition) []string {
	return []string{
		"-c:a", "aac",
		"-b:a", kbps(r.Bitrate),
		"-ac", strconv.Itoa(r.Channels),
		"-ar", strconv.Itoa(r.SampleRate),
	}
}

// filterGraph decodes the video once, caps the frame rate when needed and
// splits it into one scaled yuv420p branch per rung, labelled [v0], [v1]...
func filterGraph(j *Job, stream int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[0:%d]", stream)
	var pre []string
	if j.SourceFPS > maxFPS {
		pre = append(pre, "fps="+formatSeconds(j.FPS))
	}
	n := len(j.Video)
	if n > 1 {
		split := "split=" + strconv.Itoa(n)
		for i := range n {
			split += fmt.Sprintf("[s%d]", i)
		}
		pre = append(pre, split)
	}
	b.WriteString(strings.Join(pre, ","))
	for i, v := range j.Video {
		if n > 1 {
			if i == 0 {
				b.WriteString(";")
			}
			fmt.Fprintf(&b, "[s%d]", i)
		} else if len(pre) > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "scale=%d:%d,setsar=1,format=yuv420p[v%d]", v.Width, v.Height, i)
		if i < n-1 {
			b.WriteString(";")
		}
	}
	return b.String()
}

// hlsMuxerArgs are the HLS muxer options of one rendition written to dir.
func hlsMuxerArgs(j *Job, dir string) []string {
	typ, segType, flags := "vod", "fmp4", "independent_segments"
	if j.Progressive {
		typ, flags = "event", flags+"+temp_file"
	}
	if j.Format == FormatTS {
		segType = "mpegts"
	}
	a := []string{
		"-max_muxing_queue_size", "4096",
		"-f", "hls",
		"-hls_time", formatSeconds(hlsTime(j).Seconds()),
		"-hls_playlist_type", typ,
		"-hls_list_size", "0",
		"-start_number", "1",
		"-hls_segment_type", segType,
	}
	if j.Format != FormatTS {
		a = append(a, "-hls_fmp4_init_filename", InitName)
	}
	if j.KeyInfo != "" {
		// periodic_rekey makes hlsenc re-read the key info file at every
		// segment; with no IV line it then takes each segment's sequence
		// number as its IV (and writes it in EXT-X-KEY), instead of reusing
		// the first segment's IV for the whole stream.
		flags += "+periodic_rekey"
		a = append(a, "-hls_key_info_file", j.KeyInfo)
	}
	return append(a,
		"-hls_segment_filename", filepath.Join(dir, SegmentPattern+SegmentExt(j.Format)),
		"-hls_flags", flags,
		filepath.Join(dir, PlaylistName),
	)
}

// PosterTime is where the poster is taken: a tenth into the source, at
// most 5 s in, past a black or fading first frame.
func PosterTime(j *Job) float64 {
	at := min(j.Duration*0.1, 5)
	return float64(int(at*1000)) / 1000
}

// PosterArgs returns the argv of a cheap ffmpeg run that grabs the first
// frame at or after at seconds (seeking on the input; 0 means no seek) as
// a JPEG no wider than 1280 pixels. A seek can pass every frame of a very
// short source (a 1-frame video): the caller then asks again at 0.
func PosterArgs(at float64, in Input, out string) []string {
	a := append([]string{}, commonArgs...)
	if at > 0 {
		a = append(a, "-ss", formatSeconds(at))
	}
	a = append(a, in.args()...)
	return append(a,
		"-map", fmt.Sprintf("0:%d", in.VideoStream),
		"-frames:v", "1",
		"-vf", "scale=w='min(1280,iw)':h=-2",
		"-q:v", "3",
		"-an", "-sn", "-dn",
		"-f", "image2", "-update", "1",
		out,
	)
}

// keyframeExpr forces a keyframe at every segment boundary: every
// StartSegment for the first StartSegments segments, then every Segment.
func keyframeExpr(j *Job) string {
	seg := formatSeconds(j.Segment.Seconds())
	if j.StartSegments == 0 {
		return "expr:gte(t,n_forced*" + seg + ")"
	}
	n, short := strconv.Itoa(j.StartSegments), formatSeconds(j.StartSegment.Seconds())
	start := formatSeconds(float64(j.StartSegments) * j.StartSegment.Seconds())
	return "expr:gte(t,if(lt(n_forced," + n + "),n_forced*" + short + "," + start + "+(n_forced-" + n + ")*" + seg + "))"
}

// hlsTime is the muxer's -hls_time: it cuts at the first keyframe after
// this long, so with short start segments it is the short length and the
// keyframes alone decide where the longer segments end.
func hlsTime(j *Job) time.Duration {
	if j.StartSegments > 0 {
		return j.StartSegment
	}
	return j.Segment
}

// segmentOptions are the video segment muxer's options that keep the first
// picture at time 0: MPEG-TS carries negative DTS as is; fMP4 writes the
// B-frame delay as negative composition offsets (trun version 1).
func segmentOptions(format string) string {
	if format == FormatTS {
		return "avoid_negative_ts=disabled"
	}
	return "movflags=+negative_cts_offsets"
}

func kbps(bits int) string { return strconv.Itoa(bits/1000) + "k" }

func formatSeconds(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }
