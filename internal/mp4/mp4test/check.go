package mp4test

import (
	"bytes"
	"context"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Check decodes the presentation at playlist (a file path or an http URL
// of its master.m3u8) with ffmpeg and compares it with the source at
// sourcePath: decoding must succeed with no error message, the total
// duration must be within one frame of the source's, and the first
// presented video and audio frames (the first at or after time 0, as edit
// lists hide earlier ones) must start within one frame of the source's.
func Check(tb testing.TB, src Source, sourcePath, playlist string) {
	tb.Helper()
	if out, err := run("ffmpeg", "-nostdin", "-v", "error", "-i", playlist, "-f", "null", "-"); err != nil || strings.TrimSpace(out) != "" {
		tb.Errorf("%s: ffmpeg decode of %s: err %v, output %q", src.Name, playlist, err, out)
	}
	want, got := Duration(tb, sourcePath), Duration(tb, playlist)
	if math.Abs(got-want) > src.FrameDur+1e-3 {
		tb.Errorf("%s: presentation lasts %.4fs, source %.4fs (more than one frame, %.4fs, apart)", src.Name, got, want, src.FrameDur)
	}
	sv, sa := FirstFrames(tb, sourcePath)
	hv, ha := FirstFrames(tb, playlist)
	audioFrame := 1024.0 / 44100
	if !src.AudioOnly {
		if math.IsNaN(hv) || math.Abs(hv-sv) > src.FrameDur+1e-3 {
			tb.Errorf("%s: first video frame at %.4fs, source's at %.4fs", src.Name, hv, sv)
		}
	}
	if math.IsNaN(ha) || math.Abs(ha-sa) > audioFrame+1e-3 {
		tb.Errorf("%s: first audio frame at %.4fs, source's at %.4fs", src.Name, ha, sa)
	}
	tb.Logf("%s: duration %.4f (source %.4f), first video %.4f (source %.4f), first audio %.4f (source %.4f)", src.Name, got, want, hv, sv, ha, sa)
}

// Duration returns ffprobe's format duration of input in seconds.
func Duration(tb testing.TB, input string) float64 {
	tb.Helper()
	out, err := run("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", input)
	if err != nil {
		tb.Fatalf("ffprobe %s: %v: %s", input, err, out)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil {
		tb.Fatalf("ffprobe %s: duration %q: %v", input, out, err)
	}
	return d
}

// FirstFrames decodes input with ffprobe and returns the presentation time
// of its first video and first audio frame at or after 0 (NaN when none).
func FirstFrames(tb testing.TB, input string) (video, audio float64) {
	tb.Helper()
	out, err := run("ffprobe", "-v", "error", "-show_entries", "frame=media_type,pts_time", "-of", "csv=p=0", input)
	if err != nil {
		tb.Fatalf("ffprobe %s: %v: %s", input, err, out)
	}
	video, audio = math.Inf(1), math.Inf(1)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimRight(line, ","), ",")
		if len(f) < 2 {
			continue
		}
		t, err := strconv.ParseFloat(f[1], 64)
		if err != nil || t < -1e-6 {
			continue
		}
		switch f[0] {
		case "video":
			video = min(video, t)
		case "audio":
			audio = min(audio, t)
		}
	}
	if math.IsInf(video, 1) {
		video = math.NaN()
	}
	if math.IsInf(audio, 1) {
		audio = math.NaN()
	}
	return video, audio
}

func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}
