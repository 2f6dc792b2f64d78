package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/ffmpeg"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// runCLI runs hlsd in-process with the given environment and returns its
// exit code and output.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code = m.exitCode(m.Run(context.Background(), args))
	return code, out.String(), errb.String()
}

func TestProbeCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffprobe on generated fixtures")
	}
	t.Run("video", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "probe", testmedia.Path(t, "rotated.mp4"))
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		var in ffmpeg.Info
		if err := json.Unmarshal([]byte(stdout), &in); err != nil {
			t.Fatalf("stdout is not Info JSON: %v\n%s", err, stdout)
		}
		v := in.Video()
		if v == nil || v.Codec != "h264" || v.Width != 640 || v.Height != 360 || v.Rotation != 90 || in.Audio() == nil {
			t.Errorf("probe printed %+v, want h264 640x360 rotated 90 with audio", in)
		}
		if !strings.Contains(stdout, "\n  \"container\": \"mov,mp4,m4a,3gp,3g2,mj2\",\n") {
			t.Errorf("stdout is not indented JSON with the container:\n%s", stdout)
		}
		for _, key := range []string{`"duration"`, `"kind": "video"`, `"profile": "High"`, `"fps": 30`, `"pix_fmt": "yuv420p"`, `"sample_rate": 48000`, `"channels": 2`, `"bitrate"`} {
			if !strings.Contains(stdout, key) {
				t.Errorf("stdout lacks %s:\n%s", key, stdout)
			}
		}
	})
	t.Run("audio with cover", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "probe", testmedia.Path(t, "cover.mp3"))
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if !strings.Contains(stdout, `"attached_pic": true`) || !strings.Contains(stdout, `"codec": "mp3"`) {
			t.Errorf("stdout:\n%s", stdout)
		}
	})

	errs := []struct {
		name string
		env  map[string]string
		args []string
		code int
		line string
	}{
		{"playlist", nil, []string{"probe", testmedia.Path(t, "playlist.m3u8")}, 1,
			"hlsd: playlist.m3u8: input is an HLS playlist, not a media file; hlsd accepts media files only\n"},
		{"not media", nil, []string{"probe", testmedia.Path(t, "not-media.txt")}, 1,
			"hlsd: not-media.txt is not a media file hlsd can read\n"},
		{"truncated", nil, []string{"probe", testmedia.Path(t, "truncated.mp4")}, 1,
			"hlsd: truncated.mp4 is truncated or corrupt: its MP4 index (moov box) is missing\n"},
		{"missing", nil, []string{"probe", filepath.Join(t.TempDir(), "gone.mp4")}, 1,
			"hlsd: cannot read gone.mp4: no such file\n"},
		{"ffprobe flag", nil, []string{"probe", "--ffprobe", "/nonexistent/ffprobe", testmedia.Path(t, "short.mp4")}, 1,
			"hlsd: ffprobe not found: install the Debian package ffmpeg\n"},
		{"ffprobe env", map[string]string{"HLSD_FFPROBE": "/nonexistent/ffprobe"}, []string{"probe", testmedia.Path(t, "short.mp4")}, 1,
			"hlsd: ffprobe not found: install the Debian package ffmpeg\n"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.env, tt.args...)
			if code != tt.code || stderr != tt.line || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, no stdout, stderr %q", code, stdout, stderr, tt.code, tt.line)
			}
		})
	}
	t.Run("usage", func(t *testing.T) {
		code, _, stderr := runCLI(t, nil, "probe")
		if code != 2 || !strings.Contains(stderr, "usage: hlsd probe [flags] FILE") {
			t.Errorf("exit %d, stderr %q; want 2 and usage", code, stderr)
		}
	})
}
