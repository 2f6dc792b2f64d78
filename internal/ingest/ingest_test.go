package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/ingest/ingesttest"
	"github.com/hlsd/hlsd/internal/testmedia"
)

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs ffmpeg")
	}
}

// probeDuration is the source duration as Run sees it.
func probeDuration(t *testing.T, path string) float64 {
	t.Helper()
	info, err := (&ffmpeg.Prober{}).Probe(context.Background(), path)
	if err != nil {
		t.Fatalf("probe %s: %v", path, err)
	}
	return info.Duration
}

var codecRE = regexp.MustCompile(`^avc1\.64[0-9a-f]{4}$`)

// TestRunDefaultLadder is the one full-size run: a 1080p30 H.264+AAC source
// through the default ladder, checked end to end. It logs wall time and
// speed, the figure the issue asks for.
func TestRunDefaultLadder(t *testing.T) {
	skipShort(t)
	src := testmedia.Path(t, "video-1080p.mp4")
	out := filepath.Join(t.TempDir(), "out")
	var mu sync.Mutex
	var reports []Progress
	res, err := Run(context.Background(), Options{Input: src, Output: out, Progress: func(p Progress) {
		mu.Lock()
		reports = append(reports, p)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("default ladder on %s: wall %v, speed %.2fx realtime, %d bytes", filepath.Base(src), res.Wall.Round(time.Millisecond), res.Speed, res.Bytes)
	p := ingesttest.Check(t, out, res.Duration)
	ingesttest.CheckKeyframes(t, p)
	ingesttest.Decode(t, out)

	wantRes := []string{"1920x1080", "1280x720", "854x480", "640x360"}
	var gotRes []string
	for _, v := range p.Master.Variants {
		gotRes = append(gotRes, fmtSize(v.Width, v.Height))
		if v.Audio != "audio" || !strings.HasSuffix(v.Codecs, ",mp4a.40.2") || !codecRE.MatchString(strings.TrimSuffix(v.Codecs, ",mp4a.40.2")) {
			t.Errorf("variant %s: AUDIO=%q CODECS=%q, want the audio group and avc1.64xxxx,mp4a.40.2", v.URI, v.Audio, v.Codecs)
		}
		if v.FrameRate != 30 {
			t.Errorf("variant %s: FRAME-RATE %v, want 30", v.URI, v.FrameRate)
		}
	}
	if !slices.Equal(gotRes, wantRes) {
		t.Errorf("resolutions %v, want %v", gotRes, wantRes)
	}
	if c := p.Master.Variants[0].Codecs; c != "avc1.640028,mp4a.40.2" {
		t.Errorf("1080p CODECS %q, want avc1.640028,mp4a.40.2 (High@4.0)", c)
	}
	if len(p.Master.Alternatives) != 1 || p.Master.Alternatives[0].URI != "audio/index.m3u8" || !p.Master.Alternatives[0].Default {
		t.Errorf("alternatives %+v, want one default audio/index.m3u8", p.Master.Alternatives)
	}
	for _, name := range []string{"1080p", "720p", "480p", "360p", "audio"} {
		if _, err := os.Stat(filepath.Join(out, name, "init.mp4")); err != nil {
			t.Errorf("rendition %s: %v", name, err)
		}
	}
	if w, h, _ := ingesttest.StreamInfo(t, filepath.Join(out, "poster.jpg")); w != 1280 || h != 720 {
		t.Errorf("poster is %dx%d, want 1280x720", w, h)
	}
	if len(res.Renditions) != 5 || res.Kind != hlsd.KindVideo || res.Format != "fmp4" || res.Output != out {
		t.Errorf("result %+v: want 5 video renditions in fmp4 at %s", res, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) == 0 {
		t.Fatal("no progress reported")
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Done < reports[i-1].Done {
			t.Errorf("progress went back from %v to %v", reports[i-1].Done, reports[i].Done)
		}
	}
	if last := reports[len(reports)-1]; last.Fraction() < 0.95 || last.Total <= 0 {
		t.Errorf("last progress %+v (%.2f), want about done", last, last.Fraction())
	}
}

func fmtSize(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }

// TestRun runs the other sources through small ladders and checks each
// presentation with our parser, ffprobe and an ffmpeg decode.
func TestRun(t *testing.T) {
	skipShort(t)
	tests := []struct {
		name    string
		fixture string
		opts    Options
		kind    hlsd.Kind
		// sizes are the expected video RESOLUTIONs, highest first; nil for audio-only.
		sizes []string
		// audio is how the sound comes: "group" (EXT-X-MEDIA), "muxed" (in
		// every video rendition, TS), "variants" (audio-only), "" none.
		audio string
		fps   float64
	}{
		{"mpeg2 720x405 without audio", "mpeg2-720x405.mpg", Options{SegmentDuration: 2 * time.Second}, hlsd.KindVideo,
			[]string{"720x404", "640x360"}, "", 25},
		{"mp3 with cover art", "cover.mp3", Options{SegmentDuration: 2 * time.Second}, hlsd.KindAudio, nil, "variants", 0},
		{"flac", "tone.flac", Options{}, hlsd.KindAudio, nil, "variants", 0},
		{"opus", "tone.opus", Options{SegmentDuration: 4 * time.Second}, hlsd.KindAudio, nil, "variants", 0},
		{"rotated phone video", "rotated.mp4", Options{Ladder: []int{360, 240}, SegmentDuration: 2 * time.Second}, hlsd.KindVideo,
			[]string{"360x640", "240x426"}, "group", 30},
		{"shorter than a segment", "short.mp4", Options{}, hlsd.KindVideo, []string{"320x240"}, "group", 30},
		{"ts segments", "short.mp4", Options{Format: "ts", Ladder: []int{240, 144}, SegmentDuration: time.Second}, hlsd.KindVideo,
			[]string{"320x240", "192x144"}, "muxed", 30},
		{"ts without audio", "noaudio.mp4", Options{Format: "ts", Ladder: []int{144}, SegmentDuration: 2 * time.Second}, hlsd.KindVideo,
			[]string{"256x144"}, "", 30},
		{"120 fps capped to 60", "60fps-over.mp4", Options{Ladder: []int{180}, SegmentDuration: time.Second}, hlsd.KindVideo,
			[]string{"320x180"}, "group", 60},
		{"video without audio", "noaudio.mp4", Options{Ladder: []int{240}, SegmentDuration: 2 * time.Second}, hlsd.KindVideo,
			[]string{"426x240"}, "", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := testmedia.Path(t, tt.fixture)
			parent := t.TempDir()
			opts := tt.opts
			opts.Input, opts.Output = src, filepath.Join(parent, "out")
			res, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := ingesttest.Entries(t, parent); !slices.Equal(got, []string{"out"}) {
				t.Errorf("parent holds %v, want only out", got)
			}
			if res.Kind != tt.kind {
				t.Errorf("kind %q, want %q", res.Kind, tt.kind)
			}
			if d := probeDuration(t, src); math.Abs(res.Duration-d) > 0.001 {
				t.Errorf("result duration %.3f, probe %.3f", res.Duration, d)
			}
			p := ingesttest.Check(t, opts.Output, res.Duration)
			ingesttest.CheckKeyframes(t, p)
			ingesttest.Decode(t, opts.Output)

			var sizes []string
			for _, v := range p.Video() {
				sizes = append(sizes, fmtSize(v.Width, v.Height))
				if v.FrameRate != tt.fps {
					t.Errorf("%s FRAME-RATE %v, want %v", v.URI, v.FrameRate, tt.fps)
				}
				if w, h, codec := ingesttest.StreamInfo(t, filepath.Join(opts.Output, v.URI)); fmtSize(w, h) != fmtSize(v.Width, v.Height) || codec != "h264" {
					t.Errorf("%s: ffprobe sees %s %dx%d, playlist says %dx%d", v.URI, codec, w, h, v.Width, v.Height)
				}
			}
			if !slices.Equal(sizes, tt.sizes) {
				t.Errorf("video resolutions %v, want %v", sizes, tt.sizes)
			}
			_, posterErr := os.Stat(filepath.Join(opts.Output, "poster.jpg"))
			if (posterErr == nil) != (tt.kind == hlsd.KindVideo) {
				t.Errorf("poster.jpg: %v; want one for video only", posterErr)
			}
			switch tt.audio {
			case "group":
				if len(p.Master.Alternatives) != 1 {
					t.Fatalf("alternatives %+v, want one audio group", p.Master.Alternatives)
				}
				for _, v := range p.Master.Variants {
					if v.Audio != "audio" || !strings.HasSuffix(v.Codecs, ",mp4a.40.2") {
						t.Errorf("%s: AUDIO=%q CODECS=%q, want audio group and mp4a.40.2", v.URI, v.Audio, v.Codecs)
					}
				}
			case "muxed":
				if len(p.Master.Alternatives) != 0 {
					t.Errorf("alternatives %+v, want none: the audio is in the video renditions", p.Master.Alternatives)
				}
				for _, v := range p.Master.Variants {
					if v.Audio != "" || !codecRE.MatchString(strings.TrimSuffix(v.Codecs, ",mp4a.40.2")) || !strings.HasSuffix(v.Codecs, ",mp4a.40.2") {
						t.Errorf("%s: AUDIO=%q CODECS=%q, want no group and avc1.64xxxx,mp4a.40.2", v.URI, v.Audio, v.Codecs)
					}
					if got := ingesttest.StreamTypes(t, filepath.Join(opts.Output, v.URI)); !slices.Equal(got, []string{"video", "audio"}) {
						t.Errorf("%s: ffprobe sees streams %q, want video and audio", v.URI, got)
					}
				}
				if _, err := os.Stat(filepath.Join(opts.Output, "audio")); !os.IsNotExist(err) {
					t.Errorf("audio folder: %v, want none", err)
				}
				if len(res.Renditions) != len(tt.sizes) {
					t.Errorf("renditions %+v, want only the %d video ones", res.Renditions, len(tt.sizes))
				}
			case "variants":
				var uris []string
				for _, v := range p.Master.Variants {
					uris = append(uris, v.URI)
					if v.Codecs != "mp4a.40.2" || v.Width != 0 || v.Audio != "" {
						t.Errorf("%s: CODECS=%q RESOLUTION %dx%d AUDIO=%q, want an audio-only variant", v.URI, v.Codecs, v.Width, v.Height, v.Audio)
					}
				}
				if want := []string{"aac_128k/index.m3u8", "aac_64k/index.m3u8"}; !slices.Equal(uris, want) {
					t.Errorf("variants %v, want %v", uris, want)
				}
				if len(p.Master.Alternatives) != 0 {
					t.Errorf("audio-only master has alternatives %+v", p.Master.Alternatives)
				}
			case "":
				if len(p.Master.Alternatives) != 0 || strings.Contains(p.Master.Variants[0].Codecs, "mp4a") {
					t.Errorf("source without audio got audio: %v", p)
				}
			}
			segExt := ".m4s"
			if opts.Format == "ts" {
				segExt = ".ts"
			}
			for uri, m := range p.Media {
				if (m.Map != nil) != (segExt == ".m4s") {
					t.Errorf("%s: EXT-X-MAP %v with %s segments", uri, m.Map, segExt)
				}
				if m.Segments[0].URI != "seg_00001"+segExt {
					t.Errorf("%s: first segment %q, want seg_00001%s", uri, m.Segments[0].URI, segExt)
				}
			}
		})
	}
}

// TestRunBadInput checks that every kind of bad input gets one clear line
// and leaves nothing in the output's parent.
func TestRunBadInput(t *testing.T) {
	skipShort(t)
	tests := []struct {
		name, fixture string
		code          string
		input         string // when set, used instead of a fixture
		opts          Options
	}{
		{name: "truncated mp4", fixture: "truncated.mp4", code: hlsd.EUNSUPPORTED},
		{name: "truncated faststart mp4", fixture: "truncated-faststart.mp4", code: hlsd.EUNSUPPORTED},
		{name: "not media", fixture: "not-media.txt", code: hlsd.EUNSUPPORTED},
		{name: "crafted playlist", fixture: "playlist.m3u8", code: hlsd.EUNSUPPORTED},
		{name: "concat script", fixture: "concat.txt", code: hlsd.EUNSUPPORTED},
		{name: "empty file", fixture: "empty.bin", code: hlsd.EUNSUPPORTED},
		{name: "missing file", input: "/nonexistent/video.mp4"},
		{name: "ffmpeg missing", fixture: "short.mp4", code: hlsd.EUNAVAILABLE, opts: Options{FFmpeg: "/nonexistent/ffmpeg"}},
		{name: "bad format", fixture: "short.mp4", code: hlsd.EINVALID, opts: Options{Format: "webm"}},
		{name: "bad preset", fixture: "short.mp4", code: hlsd.EINVALID, opts: Options{Preset: "warp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.input
			if src == "" {
				src = testmedia.Path(t, tt.fixture)
			}
			parent := t.TempDir()
			opts := tt.opts
			opts.Input, opts.Output = src, filepath.Join(parent, "out")
			_, err := Run(context.Background(), opts)
			assertUserError(t, err, tt.code)
			if got := ingesttest.Entries(t, parent); len(got) != 0 {
				t.Errorf("parent holds %v after a failure, want nothing", got)
			}
		})
	}
}

func assertUserError(t *testing.T, err error, code string) {
	t.Helper()
	var he *hlsd.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v (%T), want *hlsd.Error", err, err)
	}
	if code != "" && he.Code != code {
		t.Errorf("code %q, want %q (message %q)", he.Code, code, he.Message)
	}
	if strings.Contains(he.Message, "\n") || len(he.Message) > 300 || he.Message == "" {
		t.Errorf("message %q: want one short line", he.Message)
	}
	t.Logf("error: %s", he.Message)
}

func TestRunOutputErrors(t *testing.T) {
	skipShort(t)
	src := testmedia.Path(t, "short.mp4")
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	notHLS := filepath.Join(dir, "photos")
	if err := os.MkdirAll(notHLS, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notHLS, "cat.jpg"), []byte("meow"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, out, want string }{
		{"parent is a file", filepath.Join(file, "out"), "not a directory"},
		{"parent missing", filepath.Join(dir, "no", "such", "out"), "no such directory"},
		{"output is a file", file, "is not a directory"},
		{"output is another folder", notHLS, "not an HLS presentation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), Options{Input: src, Output: tt.out})
			assertUserError(t, err, hlsd.EINVALID)
			if err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
	if got := ingesttest.Entries(t, dir); !slices.Equal(got, []string{"file.txt", "photos"}) {
		t.Errorf("dir holds %v, want only what the test made", got)
	}
	if got := ingesttest.Entries(t, notHLS); !slices.Equal(got, []string{"cat.jpg"}) {
		t.Errorf("photos holds %v, want it untouched", got)
	}
}

// snapshot maps every file under dir to its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		m[strings.TrimPrefix(p, dir)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRunReplace publishes over an earlier presentation: the new one takes
// its place whole and nothing else remains in the parent.
func TestRunReplace(t *testing.T) {
	skipShort(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if _, err := Run(context.Background(), Options{Input: testmedia.Path(t, "short.mp4"), Output: out, Ladder: []int{144}}); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	res, err := Run(context.Background(), Options{Input: testmedia.Path(t, "tone.wav"), Output: out})
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if got := ingesttest.Entries(t, parent); !slices.Equal(got, []string{"out"}) {
		t.Errorf("parent holds %v, want only out", got)
	}
	if got := ingesttest.Entries(t, out); !slices.Equal(got, []string{"aac_128k", "aac_64k", "master.m3u8"}) {
		t.Errorf("out holds %v, want only the audio presentation", got)
	}
	ingesttest.Check(t, out, res.Duration)
	ingesttest.Decode(t, out)
}

// TestRunCancel cancels a long encode: Run returns context.Canceled, the
// temporary folder is gone and the earlier presentation is untouched.
func TestRunCancel(t *testing.T) {
	skipShort(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if _, err := Run(context.Background(), Options{Input: testmedia.Path(t, "short.mp4"), Output: out, Ladder: []int{144}}); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	before := snapshot(t, out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sawTemp := false
	_, err := Run(ctx, Options{
		Input: testmedia.Path(t, "video-720p-long.mp4"), Output: out, Ladder: []int{240, 144},
		Progress: func(p Progress) {
			if p.Done >= time.Second {
				sawTemp = sawTemp || len(ingesttest.Entries(t, parent)) == 2
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !sawTemp {
		t.Errorf("no temporary folder beside out while encoding")
	}
	if got := ingesttest.Entries(t, parent); !slices.Equal(got, []string{"out"}) {
		t.Errorf("parent holds %v after cancel, want only out", got)
	}
	if !equalSnapshots(before, snapshot(t, out)) {
		t.Errorf("earlier presentation changed by a cancelled run")
	}
}

// TestRunProgressive shows the "watch early" mode: while ffmpeg is still
// encoding, master.m3u8 and growing EVENT playlists already exist and parse;
// at the end they are VOD playlists with measured values. The planned
// master has the final one's shape: an audio group for fMP4, audio muxed
// into the video variants for TS.
func TestRunProgressive(t *testing.T) {
	skipShort(t)
	tests := []struct {
		format string
		// media are the playlists written while encoding.
		media []string
		group string // the variants' AUDIO group
	}{
		{"fmp4", []string{"240p/index.m3u8", "144p/index.m3u8", "audio/index.m3u8"}, "audio"},
		{"ts", []string{"240p/index.m3u8", "144p/index.m3u8"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "media")
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
			var midRun []string
			var planned *hls.Multivariant
			res, err := Run(context.Background(), Options{
				Input: testmedia.Path(t, "video-720p-long.mp4"), Output: out, Ladder: []int{240, 144},
				SegmentDuration: 2 * time.Second, Progressive: true, Format: tt.format,
				Progress: func(p Progress) {
					if p.Done < 5*time.Second || p.Fraction() > 0.8 || planned != nil {
						return
					}
					data, err := os.ReadFile(filepath.Join(out, "master.m3u8"))
					if err != nil {
						t.Errorf("mid-run: %v", err)
						return
					}
					if planned, err = hls.ParseMultivariant(data); err != nil {
						t.Errorf("mid-run master.m3u8: %v", err)
						return
					}
					for _, uri := range tt.media {
						data, err := os.ReadFile(filepath.Join(out, uri))
						if err != nil {
							t.Errorf("mid-run: %v", err)
							continue
						}
						m, err := hls.ParseMedia(data)
						if err != nil {
							t.Errorf("mid-run %s: %v", uri, err)
							continue
						}
						if m.PlaylistType != hls.TypeEvent || m.EndList || len(m.Segments) == 0 {
							t.Errorf("mid-run %s: type %q, endlist %v, %d segments; want a growing EVENT playlist", uri, m.PlaylistType, m.EndList, len(m.Segments))
						}
						for _, s := range m.Segments {
							if fi, err := os.Stat(filepath.Join(out, filepath.Dir(uri), s.URI)); err != nil || fi.Size() == 0 {
								t.Errorf("mid-run %s lists %s: %v", uri, s.URI, err)
							}
						}
						midRun = append(midRun, uri)
					}
				},
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !slices.Equal(midRun, tt.media) {
				t.Fatalf("checked %v mid-run, want %v", midRun, tt.media)
			}
			if c := planned.Variants[0].Codecs; c != "avc1.64001e,mp4a.40.2" {
				t.Errorf("planned CODECS %q, want avc1.64001e,mp4a.40.2", c)
			}
			p := ingesttest.Check(t, out, res.Duration)
			ingesttest.CheckKeyframes(t, p)
			ingesttest.Decode(t, out)
			if p.Master.Variants[0].Codecs != planned.Variants[0].Codecs {
				t.Errorf("measured CODECS %q differ from planned %q", p.Master.Variants[0].Codecs, planned.Variants[0].Codecs)
			}
			for name, m := range map[string]*hls.Multivariant{"planned": planned, "measured": p.Master} {
				if len(m.Alternatives) != len(tt.media)-2 {
					t.Errorf("%s master: alternatives %+v, want %d", name, m.Alternatives, len(tt.media)-2)
				}
				for _, v := range m.Variants {
					if v.Audio != tt.group {
						t.Errorf("%s master: %s AUDIO=%q, want %q", name, v.URI, v.Audio, tt.group)
					}
				}
			}
			filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
				if err == nil && strings.Contains(d.Name(), ".tmp") {
					t.Errorf("temporary file left: %s", p)
				}
				return err
			})
		})
	}
}

func TestProgressFraction(t *testing.T) {
	tests := []struct {
		p    Progress
		want float64
	}{
		{Progress{Done: 5 * time.Second, Total: 10 * time.Second}, 0.5},
		{Progress{Done: 0, Total: 10 * time.Second}, 0},
		{Progress{Done: 12 * time.Second, Total: 10 * time.Second}, 1},
		{Progress{Done: 3 * time.Second}, 0},
		{Progress{Done: -time.Second, Total: time.Second}, 0},
	}
	for _, tt := range tests {
		if got := tt.p.Fraction(); got != tt.want {
			t.Errorf("%+v.Fraction() = %v, want %v", tt.p, got, tt.want)
		}
	}
}

// TestRunPanic: a panic in the caller's progress function still kills
// ffmpeg and removes the temporary folder before it propagates.
func TestRunPanic(t *testing.T) {
	skipShort(t)
	parent := t.TempDir()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the progress function's panic", r)
			}
		}()
		Run(context.Background(), Options{
			Input: testmedia.Path(t, "video-720p-long.mp4"), Output: filepath.Join(parent, "out"), Ladder: []int{144},
			Progress: func(p Progress) {
				if p.Done >= time.Second {
					panic("boom")
				}
			},
		})
		t.Error("Run returned instead of panicking")
	}()
	if got := ingesttest.Entries(t, parent); len(got) != 0 {
		t.Errorf("parent holds %v after a panic, want nothing", got)
	}
}

// TestRunProgressiveCancel: a cancelled progressive run removes what it
// wrote into the caller's folder and leaves the folder itself.
func TestRunProgressiveCancel(t *testing.T) {
	skipShort(t)
	out := filepath.Join(t.TempDir(), "media")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sawMaster := false
	_, err := Run(ctx, Options{
		Input: testmedia.Path(t, "video-720p-long.mp4"), Output: out, Ladder: []int{144}, Progressive: true,
		// Cancel as soon as the presentation is published (playable), which
		// must happen long before the 30 s source is encoded.
		Progress: func(p Progress) {
			if _, err := os.Stat(filepath.Join(out, "master.m3u8")); err == nil {
				sawMaster = true
				cancel()
			} else if p.Done >= 15*time.Second {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !sawMaster {
		t.Error("master.m3u8 not published within 15 s of encoding in progressive mode")
	}
	if got := ingesttest.Entries(t, out); len(got) != 0 {
		t.Errorf("output holds %v after cancel, want it empty", got)
	}
}
