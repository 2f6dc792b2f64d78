package ffmpeg

import (
	"slices"
	"testing"
	"time"
)

// replace returns a with every old replaced by new.
func replace(a []string, old, new string) []string {
	a = slices.Clone(a)
	for i := range a {
		if a[i] == old {
			a[i] = new
		}
	}
	return a
}

func TestTranscodeArgs(t *testing.T) {
	common := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-progress", "pipe:1", "-nostats",
		"-protocol_whitelist", "file", "-format_whitelist", "mov,mpeg", "-i", "file:/src/in put.mp4"}
	const fmp4Opts, tsOpts = "movflags=+negative_cts_offsets", "avoid_negative_ts=disabled"
	x264 := func(label, level, maxrate, bufsize, gop, seg, segOpts string) []string {
		return []string{"-map", label, "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-level:v", level,
			"-crf", "21", "-maxrate", maxrate, "-bufsize", bufsize, "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
			"-force_key_frames", "expr:gte(t,n_forced*" + seg + ")", "-an", "-sn", "-dn",
			"-avoid_negative_ts", "disabled", "-hls_segment_options", segOpts}
	}
	// withAudio is a video output that also carries the AAC track (TS):
	// "-an" gives way to the audio map and encoder options.
	withAudio := func(video []string, stream, ar string) []string {
		i := slices.Index(video, "-an")
		return slices.Concat(video[:i],
			[]string{"-map", "0:" + stream, "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", ar}, video[i+1:])
	}
	aac := func(stream, rate, ar string) []string {
		return []string{"-map", "0:" + stream, "-c:a", "aac", "-b:a", rate, "-ac", "2", "-ar", ar, "-vn", "-sn", "-dn"}
	}
	muxer := func(dir, typ, segType, seg, flags string) []string {
		a := []string{"-max_muxing_queue_size", "4096", "-f", "hls", "-hls_time", seg, "-hls_playlist_type", typ,
			"-hls_list_size", "0", "-start_number", "1", "-hls_segment_type", segType}
		ext := ".ts"
		if segType == "fmp4" {
			a = append(a, "-hls_fmp4_init_filename", "init.mp4")
			ext = ".m4s"
		}
		return append(a, "-hls_segment_filename", "/work/"+dir+"/seg_%05d"+ext, "-hls_flags", flags, "/work/"+dir+"/index.m3u8")
	}
	tests := []struct {
		name string
		info *Info
		opts PlanOptions
		want []string
	}{
		{
			"two rungs with audio, fmp4",
			videoInfo(1920, 1080, 0, 30, true),
			PlanOptions{Ladder: []int{720, 360}},
			slices.Concat(common,
				[]string{"-filter_complex", "[0:0]split=2[s0][s1];[s0]scale=1280:720,setsar=1,format=yuv420p[v0];[s1]scale=640:360,setsar=1,format=yuv420p[v1]"},
				x264("[v0]", "3.1", "2800k", "5600k", "180", "6", fmp4Opts), muxer("720p", "vod", "fmp4", "6", "independent_segments"),
				x264("[v1]", "3.0", "800k", "1600k", "180", "6", fmp4Opts), muxer("360p", "vod", "fmp4", "6", "independent_segments"),
				aac("1", "128k", "48000"), muxer("audio", "vod", "fmp4", "6", "independent_segments"),
			),
		},
		{
			"one rung over 60 fps, ts, 2 s, progressive, no audio",
			videoInfo(640, 360, 0, 120, false),
			PlanOptions{Ladder: []int{360}, Format: FormatTS, SegmentDuration: 2 * time.Second, Progressive: true},
			slices.Concat(common,
				[]string{"-filter_complex", "[0:0]fps=60,scale=640:360,setsar=1,format=yuv420p[v0]"},
				replace(x264("[v0]", "3.1", "1200k", "2400k", "120", "2", tsOpts),
					"expr:gte(t,n_forced*2)", "expr:gte(t,if(lt(n_forced,3),n_forced*1,3+(n_forced-3)*2))"),
				// Progressive: three 1 s segments first, so the muxer cuts at 1 s and keyframes decide.
				muxer("360p", "event", "mpegts", "1", "independent_segments+temp_file"),
			),
		},
		{
			"two rungs with audio at 44.1 kHz, ts: audio muxed into each rung",
			func() *Info {
				in := videoInfo(1280, 720, 0, 25, true)
				in.Streams[1].SampleRate = 44100
				return in
			}(),
			PlanOptions{Ladder: []int{720, 360}, Format: FormatTS, SegmentDuration: 4 * time.Second},
			slices.Concat(common,
				[]string{"-filter_complex", "[0:0]split=2[s0][s1];[s0]scale=1280:720,setsar=1,format=yuv420p[v0];[s1]scale=640:360,setsar=1,format=yuv420p[v1]"},
				withAudio(x264("[v0]", "3.1", "2800k", "5600k", "100", "4", tsOpts), "1", "44100"),
				muxer("720p", "vod", "mpegts", "4", "independent_segments"),
				withAudio(x264("[v1]", "3.0", "800k", "1600k", "100", "4", tsOpts), "1", "44100"),
				muxer("360p", "vod", "mpegts", "4", "independent_segments"),
			),
		},
		{
			"single rung, fractional segment",
			videoInfo(320, 240, 0, 25, true),
			PlanOptions{SegmentDuration: 2500 * time.Millisecond},
			slices.Concat(common,
				[]string{"-filter_complex", "[0:0]scale=320:240,setsar=1,format=yuv420p[v0]"},
				x264("[v0]", "3.0", "267k", "534k", "63", "2.5", fmp4Opts), muxer("240p", "vod", "fmp4", "2.5", "independent_segments"),
				aac("1", "128k", "48000"), muxer("audio", "vod", "fmp4", "2.5", "independent_segments"),
			),
		},
		{
			"audio only, mp3 with cover art",
			&Info{Duration: 6, Streams: []Stream{
				{Index: 0, Kind: "video", Codec: "mjpeg", Width: 300, Height: 300, AttachedPic: true},
				{Index: 1, Kind: "audio", Codec: "mp3", SampleRate: 44100, Channels: 2},
			}},
			PlanOptions{},
			slices.Concat(common,
				aac("1", "128k", "44100"), muxer("aac_128k", "vod", "fmp4", "6", "independent_segments"),
				aac("1", "64k", "44100"), muxer("aac_64k", "vod", "fmp4", "6", "independent_segments"),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Plan(tt.info, tt.opts)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			in := Input{Path: "/src/in put.mp4", Formats: "mov,mpeg", VideoStream: -1, AudioStream: -1}
			if v := tt.info.Video(); v != nil {
				in.VideoStream = v.Index
			}
			if a := tt.info.Audio(); a != nil {
				in.AudioStream = a.Index
			}
			got := TranscodeArgs(j, in, "/work")
			if !slices.Equal(got, tt.want) {
				t.Errorf("argv differs\n got %q\nwant %q", got, tt.want)
				for i := range min(len(got), len(tt.want)) {
					if got[i] != tt.want[i] {
						t.Errorf("first difference at %d: got %q, want %q", i, got[i], tt.want[i])
						break
					}
				}
			}
		})
	}
}

func TestPosterArgs(t *testing.T) {
	tests := []struct {
		duration float64
		at       string
	}{
		{120, "5"},
		{8, "0.8"},
		{1.234, "0.123"},
	}
	for _, tt := range tests {
		info := videoInfo(1920, 1080, 90, 30, true)
		info.Duration = tt.duration
		j, err := Plan(info, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := PosterArgs(PosterTime(j), Input{Path: "/src/a.mov", Formats: "mov", VideoStream: 0, AudioStream: 1}, "/work/poster.jpg")
		want := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-ss", tt.at,
			"-protocol_whitelist", "file", "-format_whitelist", "mov", "-i", "file:/src/a.mov",
			"-map", "0:0", "-frames:v", "1", "-vf", "scale=w='min(1280,iw)':h=-2", "-q:v", "3", "-an", "-sn", "-dn",
			"-f", "image2", "-update", "1", "/work/poster.jpg"}
		if !slices.Equal(got, want) {
			t.Errorf("duration %v:\n got %q\nwant %q", tt.duration, got, want)
		}
	}
}

// TestTranscodeArgsNoShell guards the untrusted-input rules: the input is
// always a file: URL behind both allowlists, whatever its name looks like.
func TestTranscodeArgsNoShell(t *testing.T) {
	j, err := Plan(videoInfo(640, 360, 0, 30, true), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/x/http:evil.mp4", "/x/concat:a|b.mp4", "/x/-y.mp4", "/x/a b;rm -rf.mp4"} {
		args := TranscodeArgs(j, Input{Path: name, Formats: DemuxerAllowlist(), VideoStream: 0, AudioStream: 1}, "/w")
		i := slices.Index(args, "-i")
		if i < 4 || args[i+1] != "file:"+name || args[i-4] != "-protocol_whitelist" || args[i-2] != "-format_whitelist" {
			t.Errorf("%q: input args %q", name, args[max(0, i-4):i+2])
		}
	}
}

// TestInputMaxPixels checks that the pixel cap reaches the decoders (an
// input option, before -i) and that a poster at 0 does not seek.
func TestInputMaxPixels(t *testing.T) {
	in := Input{Path: "/src/a.ts", Formats: "mpegts", MaxPixels: 36_000_000, VideoStream: 0, AudioStream: -1}
	got := PosterArgs(0, in, "/work/poster.jpg")
	want := []string{"-nostdin", "-hide_banner", "-loglevel", "error",
		"-max_pixels", "36000000", "-protocol_whitelist", "file", "-format_whitelist", "mpegts", "-i", "file:/src/a.ts"}
	if !slices.Equal(got[:len(want)], want) {
		t.Errorf("PosterArgs(0):\n got %q\nwant %q...", got, want)
	}
}
