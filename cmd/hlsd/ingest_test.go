package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/ingest"
	"github.com/hlsd/hlsd/internal/ingest/ingesttest"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// runIngestCLI runs hlsd in-process and returns its exit code and output.
func runIngestCLI(t *testing.T, terminal bool, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, IsTerminal: terminal,
		Getenv: func(k string) string { return env[k] }}
	code = m.exitCode(m.Run(context.Background(), append([]string{"ingest"}, args...)))
	return code, out.String(), errb.String()
}

func skipShortIngest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs ffmpeg")
	}
}

func TestIngestCommandJSON(t *testing.T) {
	skipShortIngest(t)
	out := filepath.Join(t.TempDir(), "clip")
	code, stdout, stderr := runIngestCLI(t, true, nil, "-o", out, "--json", "--ladder", "240p", "--segment-duration", "1s", testmedia.Path(t, "short.mp4"))
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stdout, "\r") {
		t.Errorf("--json output has a progress bar: %q", stdout)
	}
	var s ingestSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("stdout is not one JSON summary: %v\n%s", err, stdout)
	}
	var names []string
	for _, r := range s.Renditions {
		names = append(names, r.Name)
		if r.Bandwidth <= 0 || r.Bytes <= 0 || r.Codecs == "" || math.Abs(r.Duration-s.Duration) > 0.5 {
			t.Errorf("rendition %+v: want measured bandwidth, bytes, codecs and duration", r)
		}
	}
	if !slices.Equal(names, []string{"240p", "audio"}) || s.Output != out || s.Format != "fmp4" || s.Kind != "video" ||
		math.Abs(s.Duration-2) > 0.1 || s.Bytes <= 0 || s.WallSeconds <= 0 || s.Speed <= 0 {
		t.Errorf("summary %+v: want 240p and audio, 2 s, with bytes, wall time and speed", s)
	}
	p := ingesttest.Check(t, out, s.Duration)
	if p.Master.Variants[0].Height != 240 {
		t.Errorf("variant %+v, want 240 lines", p.Master.Variants[0])
	}
}

func TestIngestCommandPlainAndTerminal(t *testing.T) {
	skipShortIngest(t)
	src := testmedia.Path(t, "cover.mp3")
	t.Run("not a terminal: one summary line, env sets the format", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "song")
		code, stdout, stderr := runIngestCLI(t, false, map[string]string{"HLSD_FORMAT": "ts"}, "-o", out, src)
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, "wrote "+out+": aac_128k aac_64k, 0:06 of ts") || strings.Contains(stdout, "\r") {
			t.Errorf("stdout %q, want one summary line for a ts presentation", stdout)
		}
		if _, err := os.Stat(filepath.Join(out, "aac_64k", "seg_00001.ts")); err != nil {
			t.Errorf("HLSD_FORMAT=ts not honoured: %v", err)
		}
	})
	t.Run("terminal: progress bar then summary", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "song")
		code, stdout, stderr := runIngestCLI(t, true, nil, "-o", out, src)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if !strings.HasPrefix(stderr, "\rprobing ") || !strings.Contains(stderr, "\r[") || !strings.Contains(stderr, "] 100%") {
			t.Errorf("stderr %q, want \"probing\", then a bar reaching 100%%", stderr)
		}
		if !strings.HasPrefix(stdout, "wrote "+out) {
			t.Errorf("stdout %q, want only the summary", stdout)
		}
	})
}

func TestIngestCommandDefaultOutput(t *testing.T) {
	skipShortIngest(t)
	src := testmedia.Path(t, "short.mp4")
	dir := t.TempDir()
	t.Chdir(dir)
	code, _, stderr := runIngestCLI(t, false, nil, "--ladder", "144p", src)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if got := ingesttest.Entries(t, dir); !slices.Equal(got, []string{"short_hls"}) {
		t.Errorf("current dir holds %v, want short_hls", got)
	}
}

func TestIngestCommandErrors(t *testing.T) {
	skipShortIngest(t)
	tests := []struct {
		name string
		args func(t *testing.T) []string
		code int
		want string
	}{
		{"not media", func(t *testing.T) []string { return []string{testmedia.Path(t, "not-media.txt")} }, 1, "hlsd: not-media.txt is not a media file"},
		{"truncated", func(t *testing.T) []string { return []string{testmedia.Path(t, "truncated.mp4")} }, 1, "hlsd: truncated.mp4 is truncated"},
		{"playlist", func(t *testing.T) []string { return []string{testmedia.Path(t, "playlist.m3u8")} }, 1, "hlsd: playlist.m3u8: input is an HLS playlist"},
		{"bad ladder", func(t *testing.T) []string { return []string{"--ladder", "hd", testmedia.Path(t, "short.mp4")} }, 1, `hlsd: invalid ladder rung "hd"`},
		{"ffmpeg missing", func(t *testing.T) []string {
			return []string{"--ffmpeg", "/nonexistent/ffmpeg", testmedia.Path(t, "short.mp4")}
		}, 1, "hlsd: ffmpeg not found at /nonexistent/ffmpeg: install the Debian package ffmpeg"},
		{"no input", func(t *testing.T) []string { return nil }, 2, "usage: hlsd ingest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			args := append([]string{"-o", filepath.Join(parent, "out")}, tt.args(t)...)
			code, stdout, stderr := runIngestCLI(t, false, nil, args...)
			if code != tt.code || !strings.HasPrefix(stderr, tt.want) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tt.code, tt.want)
			}
			if tt.code == 1 && strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q, want exactly one line", stderr)
			}
			if got := ingesttest.Entries(t, parent); len(got) != 0 {
				t.Errorf("left behind %v", got)
			}
		})
	}
}

func TestProgressBarLine(t *testing.T) {
	tests := []struct {
		p    ingest.Progress
		want string
	}{
		{ingest.Progress{Done: 4200 * time.Millisecond, Total: 10 * time.Second, Speed: 3.1}, "[####------]  42% 3.1x ETA 0:02"},
		{ingest.Progress{Total: 10 * time.Second}, "[----------]   0%"},
		{ingest.Progress{Done: 10 * time.Minute, Total: 20 * time.Minute, Speed: 0.5}, "[#####-----]  50% 0.5x ETA 20:00"},
		{ingest.Progress{Done: 2 * time.Hour, Total: 2 * time.Hour, Speed: 2}, "[##########] 100% 2.0x ETA 0:00"},
		{ingest.Progress{Done: 30 * time.Minute, Total: 4 * time.Hour, Speed: 1}, "[#---------]  12% 1.0x ETA 3:30:00"},
	}
	for _, tt := range tests {
		b := &progressBar{width: 10}
		if got := strings.TrimSuffix(b.line(tt.p), "\x1b[K"); got != tt.want {
			t.Errorf("line(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestDefaultOutput(t *testing.T) {
	tests := map[string]string{
		"/videos/holiday.mp4":  "holiday_hls",
		"song.final.flac":      "song.final_hls",
		"noext":                "noext_hls",
		"../x/My Clip (1).mov": "My Clip (1)_hls",
	}
	for in, want := range tests {
		if got := defaultOutput(in); got != want {
			t.Errorf("defaultOutput(%q) = %q, want %q", in, got, want)
		}
	}
}
