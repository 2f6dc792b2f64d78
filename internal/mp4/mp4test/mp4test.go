// Package mp4test makes the MP4 sources the on-the-fly packager is tested
// against, each exercising one timing or layout case (B-frames, edit
// lists, variable frame rate, moov at the end, fragmented, audio only).
// They are generated with ffmpeg on first use and cached under
// testdata/.cache/mp4 at the repository root, like internal/testmedia's
// fixtures (flock per fixture, written to a temporary name and renamed).
package mp4test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/testmedia"
)

// Source is one test source and what a check of its presentation needs.
type Source struct {
	Name string
	// FrameDur is the longest video frame duration in seconds (the
	// tolerance of duration checks); for audio only, an AAC frame.
	FrameDur float64
	// AudioOnly is set for sources without video.
	AudioOnly bool
	// Width and Height are the video's size.
	Width, Height int
	// VideoCodec is the start of the video's codec string ("avc1." when
	// empty); AudioCodec is the audio's ("mp4a.40.2" when empty).
	VideoCodec, AudioCodec string
	// steps are ffmpeg argument lists, run in order; "{prev}" stands for
	// the previous step's output. The last step's output is the source.
	steps [][]string
}

const in = "{prev}"

var avInputs = []string{
	"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=8",
	"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8",
}

// bframes is x264's default (-preset medium, High profile): 3 B-frames,
// B-pyramid; keyframes every 2 s so that segments are cut at 6 s.
var bframes = slices.Concat(avInputs, []string{
	"-c:v", "libx264", "-preset", "medium", "-profile:v", "high", "-g", "60", "-pix_fmt", "yuv420p",
	"-c:a", "aac", "-b:a", "96k",
})

// Sources lists every test source.
var Sources = []Source{
	{Name: "faststart.mp4", FrameDur: 1.0 / 30, Width: 320, Height: 240, steps: [][]string{slices.Concat(avInputs, []string{
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
		"-movflags", "+faststart", "-f", "mp4"})}},
	{Name: "bframes.mp4", FrameDur: 1.0 / 30, Width: 320, Height: 240, steps: [][]string{slices.Concat(bframes, []string{"-movflags", "+faststart", "-f", "mp4"})}},
	{Name: "moov-at-end.mp4", FrameDur: 1.0 / 30, Width: 320, Height: 240, steps: [][]string{slices.Concat(bframes, []string{"-f", "mp4"})}},
	// Cut with -ss and stream copy: the video keeps its frames from the
	// keyframe before the cut, and edit lists hide them and the audio
	// before the cut.
	{Name: "edit-cut.mp4", FrameDur: 1.0 / 30, Width: 320, Height: 240, steps: [][]string{
		slices.Concat(bframes, []string{"-movflags", "+faststart", "-f", "mp4"}),
		{"-ss", "1.3", "-i", in, "-c", "copy", "-f", "mp4"},
	}},
	// The video delayed by half a second: an empty edit on its track.
	{Name: "edit-delay.mp4", FrameDur: 1.0 / 30, Width: 320, Height: 240, steps: [][]string{
		slices.Concat(bframes, []string{"-movflags", "+faststart", "-f", "mp4"}),
		{"-i", in, "-itsoffset", "0.5", "-i", in, "-map", "0:a", "-map", "1:v", "-c", "copy", "-f", "mp4"},
	}},
	// 30 fps for 3 s, then every other frame dropped with the original
	// timestamps kept: 15 fps.
	{Name: "vfr.mp4", FrameDur: 1.0 / 15, Width: 320, Height: 240, steps: [][]string{slices.Concat(avInputs, []string{
		"-vf", `select='lt(t\,3)+not(mod(n\,2))'`, "-fps_mode", "vfr",
		"-c:v", "libx264", "-preset", "medium", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
		"-movflags", "+faststart", "-f", "mp4"})}},
	{Name: "fragmented.mp4", FrameDur: 1.0 / 30, Width: 320, Height: 240, steps: [][]string{slices.Concat(bframes, []string{
		"-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4"})}},
	// HEVC (x265's default B-frames) with MP3 audio.
	{Name: "hevc-mp3.mp4", FrameDur: 1.0 / 25, Width: 320, Height: 240, VideoCodec: "hvc1.", AudioCodec: "mp4a.40.34", steps: [][]string{{
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6",
		"-c:v", "libx265", "-x265-params", "log-level=error:keyint=50", "-tag:v", "hvc1", "-pix_fmt", "yuv420p",
		"-c:a", "libmp3lame", "-ac", "2", "-b:a", "128k", "-movflags", "+faststart", "-f", "mp4"}}},
	// QuickTime: the sound description is version 1 with its esds in a
	// wave box.
	{Name: "camera.mov", FrameDur: 1.0 / 30, Width: 320, Height: 240, steps: [][]string{slices.Concat(bframes, []string{"-f", "mov"})}},
	// Tiny sources: the fuzz target's seeds.
	{Name: "tiny.mp4", FrameDur: 1.0 / 10, Width: 32, Height: 32, steps: [][]string{tiny("+faststart")}},
	{Name: "tiny-moov-at-end.mp4", FrameDur: 1.0 / 10, Width: 32, Height: 32, steps: [][]string{tiny("")}},
	{Name: "tiny-fragmented.mp4", FrameDur: 1.0 / 10, Width: 32, Height: 32, steps: [][]string{tiny("frag_keyframe+empty_moov+default_base_moof")}},
	{Name: "tiny.m4a", FrameDur: 1024.0 / 8000, AudioOnly: true, steps: [][]string{{
		"-f", "lavfi", "-i", "sine=frequency=659:sample_rate=8000:duration=0.5",
		"-c:a", "aac", "-b:a", "16k", "-f", "ipod"}}},
	{Name: "tone.m4a", FrameDur: 1024.0 / 44100, AudioOnly: true, steps: [][]string{{
		"-f", "lavfi", "-i", "sine=frequency=659:sample_rate=44100:duration=6",
		"-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-f", "ipod"}}},
}

// tiny is a 32x32 H.264 + AAC source of half a second with B-frames and
// a keyframe every 2 frames, small enough to fuzz with.
func tiny(movflags string) []string {
	a := []string{
		"-f", "lavfi", "-i", "testsrc2=size=32x32:rate=10:duration=0.5",
		"-f", "lavfi", "-i", "sine=sample_rate=8000:duration=0.5",
		"-c:v", "libx264", "-preset", "medium", "-g", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "16k",
	}
	if movflags != "" {
		a = append(a, "-movflags", movflags)
	}
	return append(a, "-f", "mp4")
}

// Lookup returns the source named name.
func Lookup(tb testing.TB, name string) Source {
	tb.Helper()
	for _, s := range Sources {
		if s.Name == name {
			return s
		}
	}
	tb.Fatalf("mp4test: unknown source %q", name)
	return Source{}
}

// Path returns the path of the source, generating it on first use. It
// fails the test when ffmpeg is missing or fails.
func (s Source) Path(tb testing.TB) string {
	tb.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		tb.Fatalf("mp4test: ffmpeg not found: install the Debian package ffmpeg")
	}
	h := sha256.New()
	fmt.Fprintf(h, "mp4test-1\x00%q", s.steps)
	return testmedia.Cached(tb, "mp4", hex.EncodeToString(h.Sum(nil))[:10], s.Name, func(tmp string) error {
		prev := ""
		for i, step := range s.steps {
			out := tmp
			if i < len(s.steps)-1 {
				out = filepath.Join(filepath.Dir(tmp), fmt.Sprintf(".tmp-%d-%s", i, s.Name))
				defer os.Remove(out)
			}
			args := []string{"-nostdin", "-hide_banner", "-v", "error", "-y"}
			for _, a := range step {
				if a == in {
					a = prev
				}
				args = append(args, a)
			}
			args = append(args, out)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			cmd := exec.CommandContext(ctx, "ffmpeg", args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			cancel()
			if err != nil {
				return fmt.Errorf("ffmpeg %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
			}
			prev = out
		}
		return nil
	})
}
