package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// wantStream is what a test expects of one stream; zero fields are not checked
// except where noted.
type wantStream struct {
	kind, codec, profile string
	width, height        int
	rotation             int
	fps                  float64
	sampleRate, channels int
	attachedPic          bool
}

func TestProbeFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffprobe on generated fixtures")
	}
	tests := []struct {
		name      string
		container string
		duration  float64
		streams   []wantStream
		// display size of the main video after rotation; 0 when no video
		displayW, displayH int
	}{
		{"video-1080p.mp4", "mov,mp4,m4a,3gp,3g2,mj2", 8, []wantStream{
			{kind: "video", codec: "h264", profile: "High", width: 1920, height: 1080, fps: 30},
			{kind: "audio", codec: "aac", profile: "LC", sampleRate: 48000, channels: 2},
		}, 1920, 1080},
		{"video-720p-long.mp4", "mov,mp4,m4a,3gp,3g2,mj2", 30, []wantStream{
			{kind: "video", codec: "h264", width: 1280, height: 720, fps: 30},
			{kind: "audio", codec: "aac", sampleRate: 48000, channels: 2},
		}, 1280, 720},
		{"mpeg2-720x405.mpg", "mpeg", 5, []wantStream{
			{kind: "video", codec: "mpeg2video", width: 720, height: 405, fps: 25},
		}, 720, 405},
		{"cover.mp3", "mp3", 6, []wantStream{
			{kind: "audio", codec: "mp3", sampleRate: 44100, channels: 2},
			{kind: "video", codec: "mjpeg", width: 320, height: 320, attachedPic: true},
		}, 0, 0},
		{"tone.flac", "flac", 6, []wantStream{{kind: "audio", codec: "flac", sampleRate: 44100, channels: 2}}, 0, 0},
		{"tone.ogg", "ogg", 6, []wantStream{{kind: "audio", codec: "vorbis", sampleRate: 44100, channels: 2}}, 0, 0},
		{"tone.opus", "ogg", 6, []wantStream{{kind: "audio", codec: "opus", sampleRate: 48000, channels: 2}}, 0, 0},
		{"tone.wav", "wav", 6, []wantStream{{kind: "audio", codec: "pcm_s16le", sampleRate: 44100, channels: 1}}, 0, 0},
		{"tone.m4a", "mov,mp4,m4a,3gp,3g2,mj2", 6, []wantStream{{kind: "audio", codec: "aac", sampleRate: 44100, channels: 2}}, 0, 0},
		{"rotated.mp4", "mov,mp4,m4a,3gp,3g2,mj2", 4, []wantStream{
			{kind: "video", codec: "h264", width: 640, height: 360, rotation: 90, fps: 30},
			{kind: "audio", codec: "aac", channels: 2},
		}, 360, 640},
		{"short.mp4", "mov,mp4,m4a,3gp,3g2,mj2", 2, []wantStream{
			{kind: "video", codec: "h264", width: 320, height: 240, fps: 30},
			{kind: "audio", codec: "aac", channels: 2},
		}, 320, 240},
		{"noaudio.mp4", "mov,mp4,m4a,3gp,3g2,mj2", 4, []wantStream{
			{kind: "video", codec: "h264", width: 640, height: 360, fps: 30},
		}, 640, 360},
		{"60fps-over.mp4", "mov,mp4,m4a,3gp,3g2,mj2", 2, []wantStream{
			{kind: "video", codec: "h264", width: 320, height: 180, fps: 120},
			{kind: "audio", codec: "aac", channels: 2},
		}, 320, 180},
	}
	var p Prober
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testmedia.Path(t, tt.name)
			in, err := p.Probe(context.Background(), path)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if in.Container != tt.container {
				t.Errorf("Container = %q, want %q", in.Container, tt.container)
			}
			if math.Abs(in.Duration-tt.duration) > 0.5 {
				t.Errorf("Duration = %.3f, want %g ± 0.5", in.Duration, tt.duration)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if in.Size != fi.Size() {
				t.Errorf("Size = %d, want %d", in.Size, fi.Size())
			}
			if in.Bitrate <= 0 {
				t.Errorf("Bitrate = %d, want > 0", in.Bitrate)
			}
			if len(in.Streams) != len(tt.streams) {
				t.Fatalf("got %d streams %+v, want %d", len(in.Streams), in.Streams, len(tt.streams))
			}
			for i, w := range tt.streams {
				checkStream(t, in.Streams[i], i, w)
			}
			v := in.Video()
			if tt.displayW == 0 {
				if v != nil {
					t.Errorf("Video() = %+v, want nil (audio-only file)", v)
				}
			} else if v == nil {
				t.Errorf("Video() = nil, want the video stream")
			} else if w, h := v.DisplaySize(); w != tt.displayW || h != tt.displayH {
				t.Errorf("DisplaySize = %dx%d, want %dx%d", w, h, tt.displayW, tt.displayH)
			}
		})
	}
}

func checkStream(t *testing.T, s Stream, i int, w wantStream) {
	t.Helper()
	if s.Index != i || s.Kind != w.kind || s.Codec != w.codec {
		t.Errorf("stream %d = #%d %s %s, want #%d %s %s", i, s.Index, s.Kind, s.Codec, i, w.kind, w.codec)
	}
	if w.profile != "" && s.Profile != w.profile {
		t.Errorf("stream %d profile = %q, want %q", i, s.Profile, w.profile)
	}
	if s.Width != w.width || s.Height != w.height {
		t.Errorf("stream %d size = %dx%d, want %dx%d", i, s.Width, s.Height, w.width, w.height)
	}
	if s.Rotation != w.rotation {
		t.Errorf("stream %d rotation = %d, want %d", i, s.Rotation, w.rotation)
	}
	if math.Abs(s.FPS-w.fps) > 0.01 {
		t.Errorf("stream %d fps = %g, want %g", i, s.FPS, w.fps)
	}
	if w.sampleRate != 0 && s.SampleRate != w.sampleRate {
		t.Errorf("stream %d sample rate = %d, want %d", i, s.SampleRate, w.sampleRate)
	}
	if s.Channels != w.channels {
		t.Errorf("stream %d channels = %d, want %d", i, s.Channels, w.channels)
	}
	if s.AttachedPic != w.attachedPic {
		t.Errorf("stream %d attached_pic = %v, want %v", i, s.AttachedPic, w.attachedPic)
	}
	if w.kind == "video" && !w.attachedPic && s.PixFmt == "" {
		t.Errorf("stream %d has no pixel format", i)
	}
}

// wantErr checks that err is an *hlsd.Error with the code and a message
// containing sub, on one line.
func wantErr(t *testing.T, err error, code, sub string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s error containing %q", code, sub)
	}
	var he *hlsd.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v (%T), want an *hlsd.Error", err, err)
	}
	if he.Code != code || !strings.Contains(he.Message, sub) {
		t.Errorf("err = %s %q, want %s containing %q", he.Code, he.Message, code, sub)
	}
	if strings.Contains(he.Message, "\n") || strings.Contains(he.Message, "/") {
		t.Errorf("message %q should be one line naming the file without its folder", he.Message)
	}
}

func TestProbeBadInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffprobe on generated fixtures")
	}
	tests := []struct {
		fixture, code, sub string
	}{
		{"truncated.mp4", hlsd.EUNSUPPORTED, "truncated or corrupt"},
		{"truncated-faststart.mp4", hlsd.EUNSUPPORTED, `is truncated: the file ends inside its "mdat" box`},
		{"not-media.txt", hlsd.EUNSUPPORTED, "is not a media file hlsd can read"},
		{"empty.bin", hlsd.EUNSUPPORTED, "is empty"},
		{"playlist.m3u8", hlsd.EUNSUPPORTED, "input is an HLS playlist, not a media file; hlsd accepts media files only"},
		{"ssrf.m3u8", hlsd.EUNSUPPORTED, "input is an HLS playlist"},
		{"concat.txt", hlsd.EUNSUPPORTED, "input is an ffconcat script"},
	}
	var p Prober
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			_, err := p.Probe(context.Background(), testmedia.Path(t, tt.fixture))
			wantErr(t, err, tt.code, tt.sub)
		})
	}
	dir := t.TempDir()
	t.Run("missing", func(t *testing.T) {
		_, err := p.Probe(context.Background(), filepath.Join(dir, "nope.mp4"))
		wantErr(t, err, hlsd.ENOTFOUND, "cannot read nope.mp4: no such file")
	})
	t.Run("through a file", func(t *testing.T) {
		_, err := p.Probe(context.Background(), filepath.Join(testmedia.Path(t, "short.mp4"), "x.mp4"))
		wantErr(t, err, hlsd.EINVALID, "cannot read x.mp4: not a directory")
	})
	t.Run("directory", func(t *testing.T) {
		_, err := p.Probe(context.Background(), dir)
		wantErr(t, err, hlsd.EINVALID, "is a directory, not a media file")
	})
	t.Run("no audio or video", func(t *testing.T) {
		// Subtitles and an attached cover picture, but nothing to play.
		srt := filepath.Join(dir, "sub.srt")
		if err := os.WriteFile(srt, []byte("1\n00:00:00,000 --> 00:00:02,000\nhello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		jpg := filepath.Join(dir, "cover.jpg")
		mkv := filepath.Join(dir, "subs.mkv")
		ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x64:duration=1", "-frames:v", "1", jpg)
		ffmpeg(t, "-i", srt, "-attach", jpg, "-metadata:s:t", "mimetype=image/jpeg", "-c:s", "ass", mkv)
		_, err := p.Probe(context.Background(), mkv)
		wantErr(t, err, hlsd.EUNSUPPORTED, "subs.mkv has no audio or video stream")
	})
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append([]string{"-nostdin", "-hide_banner", "-v", "error", "-y"}, args...)
	if out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

func TestProbeLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffprobe on generated fixtures")
	}
	path := testmedia.Path(t, "video-1080p.mp4")
	tests := []struct {
		name   string
		limits Limits
		sub    string
	}{
		{"size", Limits{MaxWidth: 1280, MaxHeight: 720}, "video is 1920x1080; the limit is 1280x720"},
		{"pixels", Limits{MaxPixels: 1_000_000}, "video is 1920x1080 (2.1 megapixels); the limit is 1.0 megapixels"},
		{"duration", Limits{MaxDuration: 5 * time.Second}, "video-1080p.mp4 lasts 8s; the limit is 5s"},
		{"streams", Limits{MaxStreams: 1}, "video-1080p.mp4 has 2 streams; the limit is 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Prober{Limits: tt.limits}
			_, err := p.Probe(context.Background(), path)
			wantErr(t, err, hlsd.ETOOLARGE, tt.sub)
		})
	}
	t.Run("defaults pass", func(t *testing.T) {
		p := Prober{Limits: DefaultLimits()}
		if _, err := p.Probe(context.Background(), path); err != nil {
			t.Errorf("Probe with DefaultLimits: %v", err)
		}
	})
}

func TestLimitsCheck(t *testing.T) {
	tests := []struct {
		name string
		in   Info
		sub  string // "" means accepted
	}{
		{"8K ok", Info{Streams: []Stream{{Kind: "video", Width: 7680, Height: 4320}}}, ""},
		{"huge", Info{Streams: []Stream{{Kind: "video", Width: 20000, Height: 20000}}}, "video is 20000x20000; the limit is 8192x8192"},
		{"tall", Info{Streams: []Stream{{Kind: "video", Width: 100, Height: 9000}}}, "video is 100x9000; the limit is 8192x8192"},
		{"pixels", Info{Streams: []Stream{{Kind: "video", Width: 8000, Height: 8000}}}, "(64.0 megapixels); the limit is 36.0 megapixels"},
		{"huge cover art", Info{Streams: []Stream{{Kind: "audio"}, {Kind: "video", Width: 30000, Height: 30000, AttachedPic: true}}}, "video is 30000x30000"},
		{"long", Info{Duration: 25 * 3600, Streams: []Stream{{Kind: "audio"}}}, "x lasts 25h0m0s; the limit is 24h0m0s"},
		{"day ok", Info{Duration: 24 * 3600, Streams: []Stream{{Kind: "audio"}}}, ""},
		{"streams", Info{Streams: make([]Stream, 33)}, "x has 33 streams; the limit is 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DefaultLimits().check(&tt.in, "x")
			if tt.sub == "" {
				if err != nil {
					t.Errorf("check = %v, want nil", err)
				}
				return
			}
			wantErr(t, err, hlsd.ETOOLARGE, tt.sub)
		})
	}
}

func TestProbeFFprobeMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.mp4")
	if err := os.WriteFile(path, []byte("\x00\x00\x00\x18ftypisom"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("explicit path", func(t *testing.T) {
		p := Prober{FFprobe: filepath.Join(t.TempDir(), "ffprobe")}
		_, err := p.Probe(context.Background(), path)
		wantErr(t, err, hlsd.EUNAVAILABLE, "ffprobe not found: install the Debian package ffmpeg")
	})
	t.Run("not in PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		var p Prober
		_, err := p.Probe(context.Background(), path)
		wantErr(t, err, hlsd.EUNAVAILABLE, "ffprobe not found: install the Debian package ffmpeg")
	})
}

func TestProbeTimeoutAndCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffprobe on generated fixtures")
	}
	path := testmedia.Path(t, "short.mp4")
	t.Run("own time limit", func(t *testing.T) {
		// A limit that has expired before ffprobe can start.
		p := Prober{Timeout: time.Nanosecond}
		_, err := p.Probe(context.Background(), path)
		wantErr(t, err, hlsd.EUNSUPPORTED, "probing short.mp4 took longer than 1ns")
	})
	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var p Prober
		_, err := p.Probe(ctx, path)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name, head, sub string // sub "" means not refused
	}{
		{"hls", "#EXTM3U\n#EXTINF:10,\nseg.ts\n", "an HLS playlist"},
		{"hls with BOM", "\ufeff#EXTM3U\n", "an HLS playlist"},
		{"hls after junk", "junk\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://x/y.ts\n", "an HLS playlist"},
		{"m3u", "\n\n#EXTINF:123,Artist - Song\nsong.mp3\n", "an HLS playlist"},
		{"ffconcat", "ffconcat version 1.0\nfile a.mp4\n", "an ffconcat script"},
		{"concat lines", "# list\nfile '/etc/passwd'\n", "an ffconcat script"},
		{"sdp", "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nm=video 5004 RTP/AVP 96\n", "an SDP session description"},
		{"dash", "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\">", "a DASH manifest"},
		{"imf", "<?xml version=\"1.0\"?><CompositionPlaylist>", "an IMF composition playlist"},
		{"pls", "[playlist]\nFile1=http://x/\n", "a playlist"},
		{"plain text", "hello, this is text about a file\n", ""},
		{"binary with text", "\x00\x00\x00\x18ftypisom#EXTM3U", ""},
		{"word file alone", "filename.mp4\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sniff([]byte(tt.head), "in")
			if tt.sub == "" {
				if err != nil {
					t.Errorf("sniff = %v, want nil", err)
				}
				return
			}
			wantErr(t, err, hlsd.EUNSUPPORTED, "in: input is "+tt.sub+", not a media file")
		})
	}
}

func TestParseProbe(t *testing.T) {
	out := `{"streams":[
	 {"index":0,"codec_type":"video","codec_name":"h264","width":1920,"height":1080,"avg_frame_rate":"30000/1001","r_frame_rate":"30000/1001",
	  "side_data_list":[{"side_data_type":"Display Matrix","rotation":90}],"tags":{"language":"eng"}},
	 {"index":1,"codec_type":"video","codec_name":"h264","width":10,"height":10,"avg_frame_rate":"0/0","r_frame_rate":"25/1","tags":{"rotate":"270"}},
	 {"index":2,"codec_type":"video","codec_name":"hevc","width":10,"height":10,"avg_frame_rate":"0/0","r_frame_rate":"0/0",
	  "side_data_list":[{"side_data_type":"Display Matrix","rotation":-180.0}]},
	 {"index":3,"codec_type":"video","codec_name":"png","width":600,"height":600,"avg_frame_rate":"0/0","r_frame_rate":"90000/1","disposition":{"attached_pic":1}},
	 {"index":4,"codec_type":"audio","codec_name":"aac","sample_rate":"44100","channels":6,"bit_rate":"384000","tags":{"language":"und"}}
	],"format":{"format_name":"matroska,webm","duration":"12.5","size":"1000","bit_rate":"640"}}`
	in, err := parseProbe([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Container: "matroska,webm", Duration: 12.5, Size: 1000, Bitrate: 640, Streams: []Stream{
		{Index: 0, Kind: "video", Codec: "h264", Width: 1920, Height: 1080, Rotation: 270, FPS: 30000.0 / 1001, Language: "eng"},
		{Index: 1, Kind: "video", Codec: "h264", Width: 10, Height: 10, Rotation: 270, FPS: 25},
		{Index: 2, Kind: "video", Codec: "hevc", Width: 10, Height: 10, Rotation: 180},
		{Index: 3, Kind: "video", Codec: "png", Width: 600, Height: 600, AttachedPic: true},
		{Index: 4, Kind: "audio", Codec: "aac", SampleRate: 44100, Channels: 6, Bitrate: 384000},
	}}
	if got, wantS := fmt.Sprintf("%+v", *in), fmt.Sprintf("%+v", want); got != wantS {
		t.Errorf("parseProbe =\n%s\nwant\n%s", got, wantS)
	}
}

func TestNormaliseRotation(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want int
	}{{0, 0}, {90, 90}, {-90, 270}, {180, 180}, {-180, 180}, {270, 270}, {360, 0}, {-270, 90}, {89.6, 90}, {450, 90}} {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			if got := normaliseRotation(tt.in); got != tt.want {
				t.Errorf("normaliseRotation(%g) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// connCounter accepts connections on 127.0.0.1 and counts them; sync makes
// a connection of its own and waits for it, so every connection made
// before sync was called has been counted (the accept queue is FIFO).
type connCounter struct {
	ln    net.Listener
	conns chan net.Addr
}

func newConnCounter(t *testing.T) *connCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &connCounter{ln: ln, conns: make(chan net.Addr, 100)}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				close(c.conns)
				return
			}
			c.conns <- conn.RemoteAddr()
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

// others returns how many connections other than its own sentinel arrived.
func (c *connCounter) others(t *testing.T) int {
	t.Helper()
	conn, err := net.Dial("tcp", c.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := 0
	for addr := range c.conns {
		if addr.String() == conn.LocalAddr().String() {
			return n
		}
		n++
	}
	t.Fatal("listener closed")
	return n
}

// TestProbeMakesNoConnection proves that a crafted playlist cannot make the
// probe reach the network or read other files, both through the sniffer and
// with it switched off (the ffprobe allowlists alone). A control run without
// the allowlists shows the same input does make ffprobe connect, so the test
// can fail.
func TestProbeMakesNoConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffprobe")
	}
	c := newConnCounter(t)
	dir := t.TempDir()
	seg := "http://" + c.ln.Addr().String() + "/x.ts"
	playlist := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n" + seg + "\n#EXT-X-ENDLIST\n"
	short := testmedia.Path(t, "short.mp4")
	// A local media file the crafted inputs point at: readable, valid, and still not to be followed.
	ts := filepath.Join(dir, "seg.ts")
	ffmpeg(t, "-i", short, "-c", "copy", "-f", "mpegts", ts)
	inputs := map[string]string{
		"net.m3u8":          playlist,
		"bom.m3u8":          "\ufeff" + playlist,
		"local.m3u8":        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nfile:" + ts + "\n#EXT-X-ENDLIST\n",
		"concat-net.txt":    "ffconcat version 1.0\nfile " + seg + "\n",
		"concat-local.txt":  "ffconcat version 1.0\nfile " + ts + "\n",
		"concat-local.ffc":  "ffconcat version 1.0\nfile 'file:" + ts + "'\n",
		"hls-no-ext.bin":    playlist,
		"sdp.sdp":           "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video " + portOf(c) + " RTP/AVP 96\na=rtpmap:96 H264/90000\n",
		"ssrf-fixture.m3u8": "",
	}
	for name, body := range inputs {
		path := filepath.Join(dir, name)
		if body == "" {
			path = testmedia.Path(t, "ssrf.m3u8")
		} else if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, noSniff := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/noSniff=%v", name, noSniff), func(t *testing.T) {
				p := Prober{noSniff: noSniff}
				in, err := p.Probe(context.Background(), path)
				if err == nil {
					t.Fatalf("Probe accepted a crafted input: %+v", in)
				}
				t.Logf("refused: %v", err)
				if hlsd.ErrorCode(err) != hlsd.EUNSUPPORTED {
					t.Errorf("err = %v (code %s), want %s", err, hlsd.ErrorCode(err), hlsd.EUNSUPPORTED)
				}
				if n := c.others(t); n != 0 {
					t.Errorf("the probe made %d connection(s) to the listener", n)
				}
			})
		}
	}
	t.Run("control without allowlists", func(t *testing.T) {
		path := filepath.Join(dir, "net.m3u8")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = exec.CommandContext(ctx, "ffprobe", "-v", "quiet", "-protocol_whitelist", "file,http,tcp", path).Run()
		if n := c.others(t); n == 0 {
			t.Errorf("ffprobe without allowlists made no connection; the test above proves nothing")
		}
		out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv",
			"-protocol_whitelist", "file", filepath.Join(dir, "local.m3u8")).Output()
		if err != nil || !strings.Contains(string(out), "video") {
			t.Errorf("ffprobe without the demuxer allowlist did not read the local segment (%v, %q); the test above proves nothing", err, out)
		}
	})
}

func portOf(c *connCounter) string {
	return fmt.Sprint(c.ln.Addr().(*net.TCPAddr).Port)
}

func TestDemuxerAllowlist(t *testing.T) {
	list := "," + DemuxerAllowlist() + ","
	for _, bad := range []string{"hls", "concat", "dash", "sdp", "rtp", "rtsp", "tee", "image2", "imf", "data", "lavfi", "webm_dash_manifest", "ffmetadata"} {
		if strings.Contains(list, ","+bad+",") {
			t.Errorf("allowlist contains %q", bad)
		}
	}
	if testing.Short() {
		return
	}
	// Every name must be a demuxer this ffmpeg knows, or -format_whitelist silently ignores it.
	out, err := exec.Command("ffprobe", "-hide_banner", "-demuxers").Output()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasPrefix(f[0], "D") {
			for _, n := range strings.Split(f[1], ",") {
				known[n] = true
			}
		}
	}
	for _, n := range strings.Split(DemuxerAllowlist(), ",") {
		if !known[n] {
			t.Errorf("allowlist names %q, which is not an ffmpeg demuxer here", n)
		}
	}
}
