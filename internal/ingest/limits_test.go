package ingest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk/disktest"
	"github.com/hlsd/hlsd/internal/ffmpeg"
	"github.com/hlsd/hlsd/internal/ingest/ingesttest"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// TestRunPixelLimitEveryFrame feeds a stream that is 320x240 for a second
// and then 9000x4500: the probe, which reads the start, accepts it, so the
// frame limit must be held by the decoders on every frame. Run must refuse
// the source naming the limit, and leave nothing behind.
func TestRunPixelLimitEveryFrame(t *testing.T) {
	skipShort(t)
	src := testmedia.Path(t, "size-jump.ts")
	info, err := (&ffmpeg.Prober{}).Probe(context.Background(), src)
	if err != nil {
		t.Fatalf("the probe must accept the start of the stream: %v", err)
	}
	if v := info.Video(); v == nil || v.Width != 320 {
		t.Fatalf("probe saw %+v, want a 320x240 start", v)
	}
	for _, progressive := range []bool{false, true} {
		parent := t.TempDir()
		_, err := Run(context.Background(), Options{Input: src, Output: filepath.Join(parent, "out"), Progressive: progressive})
		assertUserError(t, err, hlsd.ETOOLARGE)
		if msg := hlsd.ErrorMessage(err); !strings.Contains(msg, "9024x4500") || !strings.Contains(msg, "the limit is 36.0 megapixels") {
			t.Errorf("progressive %v: message %q, want the frame size and the limit", progressive, msg)
		}
		// In progressive mode the output folder is the caller's: it stays, empty.
		left := ingesttest.Entries(t, parent)
		if progressive {
			left = ingesttest.Entries(t, filepath.Join(parent, "out"))
		}
		if len(left) != 0 {
			t.Errorf("progressive %v: %v left after a refusal, want nothing", progressive, left)
		}
	}
}

// TestRunTinyMedia ingests media a fraction of a second long: a 0.2 s
// H.264/AAC clip (ffmpeg writes EXT-X-TARGETDURATION:0 for it), a video of
// one frame (a poster seek passes it) and an audio file of one sample.
// Each is a presentation like any other, and ffmpeg decodes what was
// written.
func TestRunTinyMedia(t *testing.T) {
	skipShort(t)
	for _, tt := range []struct {
		fixture string
		kind    hlsd.Kind
	}{
		{"tiny.mp4", hlsd.KindVideo},
		{"one-frame.mp4", hlsd.KindVideo},
		{"one-sample.wav", hlsd.KindAudio},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			res, err := Run(context.Background(), Options{Input: testmedia.Path(t, tt.fixture), Output: out})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Kind != tt.kind {
				t.Errorf("kind %s, want %s", res.Kind, tt.kind)
			}
			checkTiny(t, out, res.Duration)
		})
	}
}

// checkTiny checks a presentation of very short media: every playlist
// parses (target durations of at least 1) with renditions as long as the
// source, and ffmpeg decodes it from master.m3u8 without an error, for
// about the source's duration.
func checkTiny(t *testing.T, dir string, duration float64) {
	t.Helper()
	p := ingesttest.Check(t, dir, duration)
	for uri, m := range p.Media {
		if m.TargetDuration < 1 {
			t.Errorf("%s: target duration %d", uri, m.TargetDuration)
		}
	}
	ingesttest.Decode(t, dir)
	// AAC frames are 1024 samples: audio may end up to a frame (23 ms at
	// 44.1 kHz) past the source, and a video frame lasts up to 40 ms here.
	if got := decodedSeconds(t, filepath.Join(dir, "master.m3u8")); got <= 0 || got > duration+0.1 {
		t.Errorf("ffmpeg decodes %.3fs, the source lasts %.3fs", got, duration)
	}
}

// decodedSeconds decodes an HLS playlist with ffmpeg and returns the time
// of the last frame decoded.
func decodedSeconds(t *testing.T, playlist string) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", playlist, "-f", "null", "-progress", "pipe:1", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg cannot decode %s: %v\n%s", playlist, err, out)
	}
	var p ffmpeg.ProgressParser
	var last ffmpeg.Progress
	for line := range strings.SplitSeq(string(out), "\n") {
		if pr, ok := p.Line(line); ok {
			last = pr
		}
	}
	return last.OutTime.Seconds()
}

// TestRunDiskFull ingests onto a full file system. ffmpeg's HLS muxer
// hides the failed writes (it exits 0, leaving empty playlists); Run must
// still say the disk is full (ENOSPACE), not that a playlist is malformed,
// and leave nothing behind.
func TestRunDiskFull(t *testing.T) {
	skipShort(t)
	dir := disktest.Tmpfs(t, "3m")
	disktest.Fill(t, filepath.Join(dir, "filler"))
	disktest.Free(t, filepath.Join(dir, "filler"), 32<<10) // room for folders, not segments
	for _, progressive := range []bool{false, true} {
		out := filepath.Join(dir, "out")
		_, err := Run(context.Background(), Options{Input: testmedia.Path(t, "short.mp4"), Output: out, Progressive: progressive})
		assertUserError(t, err, hlsd.ENOSPACE)
		left := ingesttest.Entries(t, dir)
		if progressive {
			left = ingesttest.Entries(t, out)
			os.RemoveAll(out)
		}
		if len(left) != 0 && !(len(left) == 1 && left[0] == "filler") {
			t.Errorf("progressive %v: %v left behind", progressive, left)
		}
	}
}
