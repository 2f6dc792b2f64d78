package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
)

func TestFFmpegError(t *testing.T) {
	exit := errors.New("exit status 1")
	tests := []struct {
		name string
		err  error
		code string
		want string
	}{
		{"decode failure names the file only", &ffmpeg.ExitError{Err: exit, Tail: []string{
			"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5581] stream 0, offset 0x30: partial file",
			"file:/home/u/My Videos/clip.mp4: Invalid data found when processing input"}},
			hlsd.EUNSUPPORTED, "could not decode clip.mp4: Invalid data found when processing input"},
		{"decoder line", &ffmpeg.ExitError{Err: exit, Tail: []string{"[h264 @ 0x1] /home/u/My Videos/clip.mp4 is broken", "Conversion failed!"}},
			hlsd.EUNSUPPORTED, "could not decode clip.mp4: clip.mp4 is broken"},
		{"disk full", &ffmpeg.ExitError{Err: exit, Tail: []string{"Error writing trailer of /o/.out.tmp-1/720p/index.m3u8: No space left on device"}},
			hlsd.ENOSPACE, "disk full while writing /o/out"},
		{"no stderr", &ffmpeg.ExitError{Err: errors.New("signal: killed")},
			hlsd.EUNSUPPORTED, "could not decode clip.mp4: ffmpeg failed (signal: killed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ffmpegError("/home/u/My Videos/clip.mp4", "/o/out", tt.err)
			if hlsd.ErrorCode(err) != tt.code || err.Error() != tt.want {
				t.Errorf("got %s %q, want %s %q", hlsd.ErrorCode(err), err, tt.code, tt.want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		err  error
		code string
		want string
	}{
		{&fs.PathError{Op: "write", Path: "/o/x", Err: syscall.ENOSPC}, hlsd.ENOSPACE, "disk full while writing /o"},
		{&fs.PathError{Op: "mkdirtemp", Path: "/o/x", Err: syscall.EACCES}, hlsd.EINVALID, "cannot write to /o: permission denied"},
		{&fs.PathError{Op: "mkdirtemp", Path: "/o/x", Err: syscall.EROFS}, hlsd.EINVALID, "cannot write to /o: permission denied"},
		{fmt.Errorf("wrapped: %w", os.ErrNotExist), hlsd.EINVALID, "cannot write to /o: no such directory"},
		{errors.New("odd"), hlsd.EINTERNAL, "write /o: odd"},
	}
	for _, tt := range tests {
		err := writeError("/o", tt.err)
		if hlsd.ErrorCode(err) != tt.code || err.Error() != tt.want {
			t.Errorf("writeError(%v) = %s %q, want %s %q", tt.err, hlsd.ErrorCode(err), err, tt.code, tt.want)
		}
	}
	if err := classifyWrite("a.mp4", "/o/out", fmt.Errorf("x: %w", syscall.ENOSPC)); err.Error() != "disk full while writing /o/out" {
		t.Errorf("classifyWrite(ENOSPC) = %v", err)
	}
}

func TestPeakBandwidth(t *testing.T) {
	tests := []struct {
		name   string
		sizes  []int64
		durs   []float64
		target float64
		want   int
	}{
		{"even segments", []int64{750000, 750000}, []float64{6, 6}, 6, 1000000},
		{"busiest segment wins", []int64{750000, 1500000, 750000}, []float64{6, 6, 6}, 6, 2000000},
		{"short tail joins the one before", []int64{750000, 60000}, []float64{6, 0.04}, 6, 1072848},
		{"single short clip", []int64{100000}, []float64{1}, 6, 800000},
		{"zero duration ignored", []int64{100, 750000}, []float64{0, 6}, 6, 1000000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := peakBandwidth(tt.sizes, tt.durs, tt.target); got != tt.want {
				t.Errorf("peakBandwidth = %d, want %d", got, tt.want)
			}
		})
	}
}
