package ffmpeg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
)

func TestExitErrorLastLine(t *testing.T) {
	tests := []struct {
		name    string
		tail    []string
		want    string
		noSpace bool
	}{
		{"demuxer prefix removed", []string{"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c8a4e940] moov atom not found", "file:/x/in.mp4: Invalid data found when processing input"},
			"file:/x/in.mp4: Invalid data found when processing input", false},
		{"boring lines skipped", []string{"[h264 @ 0x5600] error while decoding MB 10 4, bytestream -7", "Conversion failed!"},
			"error while decoding MB 10 4, bytestream -7", false},
		{"disk full", []string{"[hls @ 0x1] Failed to open file '/o/720p/seg_00004.m4s'", "av_interleaved_write_frame(): No space left on device", "Conversion failed!"},
			"av_interleaved_write_frame(): No space left on device", true},
		{"long line cut", []string{strings.Repeat("a", 300)}, strings.Repeat("a", 200) + "...", false},
		{"nothing", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &ExitError{Err: errors.New("exit status 1"), Tail: tt.tail}
			if got := e.LastLine(); got != tt.want {
				t.Errorf("LastLine() = %q, want %q", got, tt.want)
			}
			if got := e.NoSpace(); got != tt.noSpace {
				t.Errorf("NoSpace() = %v, want %v", got, tt.noSpace)
			}
		})
	}
}

func TestTailWriter(t *testing.T) {
	w := &tailWriter{max: 2}
	for _, s := range []string{"one\ntw", "o\r\n\nthree\n", "fo", "ur"} {
		w.Write([]byte(s))
	}
	if got, want := strings.Join(w.lines(), "|"), "two|three|four"; got != want {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs ffmpeg")
	}
	if _, err := LookFFmpeg(""); err != nil {
		t.Fatalf("%v (the README's test command installs it)", err)
	}
}

func TestRunnerProgress(t *testing.T) {
	needFFmpeg(t)
	var got []Progress
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-progress", "pipe:1", "-nostats",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-f", "null", "-"}
	if err := (&Runner{}).Run(context.Background(), args, func(p Progress) { got = append(got, p) }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(got) == 0 {
		t.Fatal("progress never called")
	}
	last := got[len(got)-1]
	if !last.End || last.OutTime < 2900*time.Millisecond || last.OutTime > 3100*time.Millisecond {
		t.Errorf("last progress %+v, want the end at about 3s", last)
	}
}

func TestRunnerFailure(t *testing.T) {
	needFFmpeg(t)
	missing := filepath.Join(t.TempDir(), "missing.mp4")
	var log strings.Builder
	err := (&Runner{Log: &log}).Run(context.Background(), []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-i", "file:" + missing, "-f", "null", "-"}, nil)
	e, ok := IsExit(err)
	if !ok {
		t.Fatalf("err = %v (%T), want *ExitError", err, err)
	}
	if l := e.LastLine(); !strings.Contains(l, "No such file or directory") || strings.Contains(l, "\n") {
		t.Errorf("LastLine() = %q, want ffmpeg's one line about the missing file", l)
	}
	if !strings.Contains(log.String(), "No such file or directory") {
		t.Errorf("Log got %q, want ffmpeg's stderr", log.String())
	}
}

func TestRunnerCancel(t *testing.T) {
	needFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := filepath.Join(t.TempDir(), "out.ts")
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-progress", "pipe:1", "-nostats", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=600", "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts", out}
	calls := 0
	err := (&Runner{}).Run(ctx, args, func(p Progress) {
		calls++
		if p.OutTime > 0 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if calls == 0 {
		t.Error("progress never called")
	}
	// The killed ffmpeg no longer writes: the file stops growing.
	fi1, err1 := os.Stat(out)
	time.Sleep(300 * time.Millisecond)
	fi2, err2 := os.Stat(out)
	if err1 == nil && err2 == nil && fi2.Size() != fi1.Size() {
		t.Errorf("output still growing after cancel: %d -> %d bytes", fi1.Size(), fi2.Size())
	}
}

func TestLookFFmpegMissing(t *testing.T) {
	for _, path := range []string{"/nonexistent/ffmpeg", filepath.Join(t.TempDir(), "ffmpeg")} {
		_, err := LookFFmpeg(path)
		if hlsd.ErrorCode(err) != hlsd.EUNAVAILABLE || !strings.Contains(err.Error(), "install the Debian package ffmpeg") {
			t.Errorf("LookFFmpeg(%q) = %v, want EUNAVAILABLE naming the package", path, err)
		}
	}
	if err := (&Runner{Path: "/nonexistent/ffmpeg"}).Run(context.Background(), nil, nil); hlsd.ErrorCode(err) != hlsd.EUNAVAILABLE {
		t.Errorf("Run with a missing binary: %v, want EUNAVAILABLE", err)
	}
}
