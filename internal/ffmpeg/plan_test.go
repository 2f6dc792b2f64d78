package ffmpeg

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
)

func videoInfo(w, h, rot int, fps float64, audio bool) *Info {
	in := &Info{Duration: 10, Streams: []Stream{{Index: 0, Kind: "video", Codec: "h264", Width: w, Height: h, Rotation: rot, FPS: fps}}}
	if audio {
		in.Streams = append(in.Streams, Stream{Index: 1, Kind: "audio", Codec: "aac", SampleRate: 48000, Channels: 2})
	}
	return in
}

// rung summarises a planned video rendition for comparison.
func rung(v VideoRendition) string {
	return fmt.Sprintf("%s %dx%d %dk L%d", v.Name, v.Width, v.Height, v.MaxRate/1000, v.Level)
}

func TestPlanVideoLadder(t *testing.T) {
	tests := []struct {
		name   string
		info   *Info
		ladder []int
		want   []string
		fps    float64
		gop    int
	}{
		{"1080p source", videoInfo(1920, 1080, 0, 30, true), nil,
			[]string{"1080p 1920x1080 5000k L40", "720p 1280x720 2800k L31", "480p 854x480 1400k L31", "360p 640x360 800k L30"}, 30, 180},
		{"720x405 source gets a 405p top rung", videoInfo(720, 405, 0, 25, false), nil,
			[]string{"405p 720x404 1002k L30", "360p 640x360 800k L30"}, 25, 150},
		{"portrait rotated phone video", videoInfo(1920, 1080, 90, 30, true), []int{1080, 360},
			[]string{"1080p 1080x1920 5000k L40", "360p 360x640 800k L30"}, 30, 180},
		{"portrait without rotation", videoInfo(720, 1280, 0, 30, true), nil,
			[]string{"720p 720x1280 2800k L31", "480p 480x854 1400k L31", "360p 360x640 800k L30"}, 30, 180},
		{"4K source keeps the default top", videoInfo(3840, 2160, 0, 30, true), nil,
			[]string{"1080p 1920x1080 5000k L40", "720p 1280x720 2800k L31", "480p 854x480 1400k L31", "360p 640x360 800k L30"}, 30, 180},
		{"tiny source", videoInfo(160, 90, 0, 30, true), nil,
			[]string{"90p 160x90 150k L30"}, 30, 180},
		{"120 fps capped to 60", videoInfo(1280, 720, 0, 120, true), []int{720, 360},
			[]string{"720p 1280x720 4200k L32", "360p 640x360 1200k L31"}, 60, 360},
		{"119.88 fps becomes 59.94", videoInfo(640, 360, 0, 119.88, true), []int{360},
			[]string{"360p 640x360 1200k L31"}, 59.94, 360},
		{"custom ladder, unsorted with duplicates", videoInfo(1920, 1080, 0, 24, true), []int{360, 720, 360},
			[]string{"720p 1280x720 2800k L31", "360p 640x360 800k L30"}, 24, 144},
		{"custom ladder above the source", videoInfo(1280, 720, 0, 30, true), []int{1080, 720, 540},
			[]string{"720p 1280x720 2800k L31", "540p 960x540 1697k L31"}, 30, 180},
		{"odd aspect 4:3", videoInfo(1440, 1080, 0, 30, true), []int{720, 240},
			[]string{"720p 960x720 2170k L31", "240p 320x240 267k L30"}, 30, 180},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Plan(tt.info, PlanOptions{Ladder: tt.ladder})
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			var got []string
			for _, v := range j.Video {
				got = append(got, rung(v))
				if v.GOP != tt.gop || v.CRF != 21 || v.Profile != "high" {
					t.Errorf("%s: GOP %d CRF %d profile %q, want GOP %d, CRF 21, high", v.Name, v.GOP, v.CRF, v.Profile, tt.gop)
				}
				if v.Width%2 != 0 || v.Height%2 != 0 {
					t.Errorf("%s: odd size %dx%d", v.Name, v.Width, v.Height)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("rungs\n got %q\nwant %q", got, tt.want)
			}
			if j.FPS != tt.fps {
				t.Errorf("FPS %v, want %v", j.FPS, tt.fps)
			}
			if j.Kind != hlsd.KindVideo || !j.Poster || j.Format != FormatFMP4 || j.Segment != 6*time.Second || j.Preset != "veryfast" {
				t.Errorf("job %+v: want video, poster, fmp4, 6s, veryfast", j)
			}
			wantAudio := tt.info.Audio() != nil
			if got := len(j.Audio) == 1 && j.Audio[0].Name == "audio" && j.Audio[0].Bitrate == 128000 && j.Audio[0].Channels == 2; got != wantAudio {
				t.Errorf("audio %+v, want one 128k stereo \"audio\" rendition: %v", j.Audio, wantAudio)
			}
		})
	}
}

// TestPlanVideoAudio checks where a video's sound goes: a shared audio
// rendition for fMP4, muxed into every rung for TS, nowhere without audio.
func TestPlanVideoAudio(t *testing.T) {
	audio := AudioRendition{Name: "audio", Bitrate: 128000, SampleRate: 48000, Channels: 2}
	muxed := AudioRendition{Bitrate: 128000, SampleRate: 48000, Channels: 2}
	tests := []struct {
		name   string
		format string
		audio  bool
		want   []AudioRendition
		muxed  *AudioRendition
		names  []string
	}{
		{"fmp4 with audio", FormatFMP4, true, []AudioRendition{audio}, nil, []string{"360p", "audio"}},
		{"ts with audio", FormatTS, true, nil, &muxed, []string{"360p"}},
		{"fmp4 without audio", FormatFMP4, false, nil, nil, []string{"360p"}},
		{"ts without audio", FormatTS, false, nil, nil, []string{"360p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Plan(videoInfo(640, 360, 0, 30, tt.audio), PlanOptions{Format: tt.format})
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if !slices.Equal(j.Audio, tt.want) {
				t.Errorf("Audio %+v, want %+v", j.Audio, tt.want)
			}
			if (j.MuxedAudio == nil) != (tt.muxed == nil) || (j.MuxedAudio != nil && *j.MuxedAudio != *tt.muxed) {
				t.Errorf("MuxedAudio %+v, want %+v", j.MuxedAudio, tt.muxed)
			}
			if got := j.RenditionNames(); !slices.Equal(got, tt.names) {
				t.Errorf("RenditionNames %q, want %q", got, tt.names)
			}
		})
	}
}

func TestPlanAudio(t *testing.T) {
	tests := []struct {
		name string
		info *Info
		rate int
	}{
		{"mp3 with cover art at 44.1 kHz", &Info{Duration: 6, Streams: []Stream{
			{Index: 0, Kind: "audio", Codec: "mp3", SampleRate: 44100, Channels: 2},
			{Index: 1, Kind: "video", Codec: "mjpeg", Width: 320, Height: 320, AttachedPic: true},
		}}, 44100},
		{"opus at 48 kHz", &Info{Streams: []Stream{{Kind: "audio", Codec: "opus", SampleRate: 48000, Channels: 2}}}, 48000},
		{"mono wav at 22 kHz", &Info{Streams: []Stream{{Kind: "audio", Codec: "pcm_s16le", SampleRate: 22050, Channels: 1}}}, 48000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Plan(tt.info, PlanOptions{})
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			want := []AudioRendition{{"aac_128k", 128000, tt.rate, 2}, {"aac_64k", 64000, tt.rate, 2}}
			if j.Kind != hlsd.KindAudio || len(j.Video) != 0 || j.Poster || !slices.Equal(j.Audio, want) {
				t.Errorf("job %+v, want audio-only with %+v", j, want)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	v := videoInfo(1280, 720, 0, 30, true)
	tests := []struct {
		name string
		info *Info
		opts PlanOptions
		code string
	}{
		{"no streams", &Info{Streams: []Stream{{Kind: "subtitle"}}}, PlanOptions{}, hlsd.EUNSUPPORTED},
		{"cover art only", &Info{Streams: []Stream{{Kind: "video", Width: 300, Height: 300, AttachedPic: true}}}, PlanOptions{}, hlsd.EUNSUPPORTED},
		{"zero-size video", videoInfo(0, 0, 0, 30, false), PlanOptions{}, hlsd.EUNSUPPORTED},
		{"unknown format", v, PlanOptions{Format: "dash"}, hlsd.EINVALID},
		{"segment too short", v, PlanOptions{SegmentDuration: 500 * time.Millisecond}, hlsd.EINVALID},
		{"segment too long", v, PlanOptions{SegmentDuration: time.Hour}, hlsd.EINVALID},
		{"unknown preset", v, PlanOptions{Preset: "turbo"}, hlsd.EINVALID},
		{"absurd rung", v, PlanOptions{Ladder: []int{100000}}, hlsd.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Plan(tt.info, tt.opts)
			if err == nil {
				t.Fatalf("Plan = %+v, want an error", j)
			}
			if got := hlsd.ErrorCode(err); got != tt.code {
				t.Errorf("code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func TestVideoRenditionCodecs(t *testing.T) {
	tests := []struct {
		v    VideoRendition
		want string
	}{
		{VideoRendition{Profile: "high", Level: 40}, "avc1.640028"},
		{VideoRendition{Profile: "high", Level: 31}, "avc1.64001f"},
		{VideoRendition{Profile: "high", Level: 30}, "avc1.64001e"},
		{VideoRendition{Profile: "main", Level: 42}, "avc1.4d002a"},
	}
	for _, tt := range tests {
		if got := tt.v.Codecs(); got != tt.want {
			t.Errorf("%s@%d: Codecs() = %q, want %q", tt.v.Profile, tt.v.Level, got, tt.want)
		}
	}
}

func TestParseLadder(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"1080p,720p,480p,360p", []int{1080, 720, 480, 360}, false},
		{"720p, 360", []int{720, 360}, false},
		{"720P", []int{720}, false},
		{"", nil, true},
		{"hd", nil, true},
		{"720p,,", []int{720}, false},
		{"-360p", nil, true},
		{"99999p", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLadder(tt.in)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Errorf("ParseLadder(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
