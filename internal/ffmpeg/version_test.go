package ffmpeg

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out          string
		major, minor int
		ok           bool
	}{
		{"ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers", 5, 1, true},
		{"ffprobe version n6.1.1 Copyright", 6, 1, true},
		{"ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright", 4, 4, true},
		{"ffmpeg version N-113245-g1234abcd Copyright", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		major, minor, ok := ParseVersion(tt.out)
		if major != tt.major || minor != tt.minor || ok != tt.ok {
			t.Errorf("ParseVersion(%q) = %d, %d, %v; want %d, %d, %v", tt.out, major, minor, ok, tt.major, tt.minor, tt.ok)
		}
	}
}

// TestCheckTool runs the real ffmpeg and ffprobe, a missing binary, and a
// script that answers -version as an old ffmpeg would (no old release is
// installable here).
func TestCheckTool(t *testing.T) {
	for _, name := range []string{"ffmpeg", "ffprobe"} {
		if v, err := CheckTool(context.Background(), name, ""); err != nil || v == "" {
			t.Errorf("CheckTool(%s) = %q, %v; want the installed version", name, v, err)
		}
	}
	_, err := CheckTool(context.Background(), "ffmpeg", "/nonexistent/ffmpeg")
	if err == nil || err.Error() != "ffmpeg not found at /nonexistent/ffmpeg: install the Debian package ffmpeg" {
		t.Errorf("missing: %v", err)
	}
	old := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(old, []byte("#!/bin/sh\necho 'ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = CheckTool(context.Background(), "ffmpeg", old)
	if err == nil || !strings.HasPrefix(err.Error(), "ffmpeg 4.4 at "+old+" is older than 5.1, the oldest version hlsd is tested with") {
		t.Errorf("old: %v", err)
	}
}
