package library_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// TestTranscodeReportsToolError: with an ffmpeg that the start-up check
// found too old (a script answering as ffmpeg 4.4 would, and failing like
// one), a failed transcode says what the start-up line said instead of
// ffmpeg's last line.
func TestTranscodeReportsToolError(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffprobe")
	}
	old := filepath.Join(t.TempDir(), "ffmpeg")
	script := "#!/bin/sh\nif [ \"$1\" = -hide_banner ] && [ \"$2\" = -version ]; then echo 'ffmpeg version 4.4.2 Copyright'; exit 0; fi\necho 'Unrecognized option hls_fmp4_init_filename' >&2\nexit 1\n"
	if err := os.WriteFile(old, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, toolErr := ffmpeg.CheckTool(context.Background(), "ffmpeg", old)
	if hlsd.ErrorCode(toolErr) != hlsd.EUNAVAILABLE {
		t.Fatalf("CheckTool = %v, want EUNAVAILABLE", toolErr)
	}
	tr := library.IngestTranscoder{FFmpeg: old, ToolError: toolErr}
	_, err := tr.Transcode(context.Background(), library.TranscodeJob{
		Input: testmedia.Path(t, "short.mp4"), Output: filepath.Join(t.TempDir(), "out"),
	})
	if !errors.Is(err, toolErr) {
		t.Errorf("Transcode = %v, want the start-up check's %v", err, toolErr)
	}
}
