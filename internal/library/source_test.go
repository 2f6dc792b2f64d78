package library

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/ingest"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// TestSourceVariant checks which uploads get a source rendition: H.264
// video with AAC or no audio, in an MP4 the packager parses; and that the
// variant carries the source's own description.
func TestSourceVariant(t *testing.T) {
	if testing.Short() {
		t.Skip("makes fixtures with ffmpeg")
	}
	tests := []struct {
		fixture string
		want    bool
		audio   bool
		w, h    int
	}{
		{"short.mp4", true, true, 320, 240},
		{"noaudio.mp4", true, false, 640, 360},
		{"mpeg2-720x405.mpg", false, false, 0, 0},
		{"tone.m4a", false, false, 0, 0},
		{"truncated.mp4", false, false, 0, 0},
		{"not-media.txt", false, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			// Stored as the library stores it: source.EXT.
			src := filepath.Join(t.TempDir(), "source"+filepath.Ext(tt.fixture))
			data, err := os.ReadFile(testmedia.Path(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			sv, err := sourceVariant(src, true)
			if err != nil {
				t.Fatalf("sourceVariant: %v", err)
			}
			if (sv != nil) != tt.want {
				t.Fatalf("source variant %+v, want one: %v", sv, tt.want)
			}
			if sv == nil {
				return
			}
			v := sv.Variant
			if v.URI != "source/video/index.m3u8" || v.Width != tt.w || v.Height != tt.h || v.FrameRate != 30 ||
				v.Bandwidth <= 0 || v.AverageBandwidth <= 0 || v.AverageBandwidth > v.Bandwidth || !strings.HasPrefix(v.Codecs, "avc1.") || !sv.Keep {
				t.Errorf("variant %+v", v)
			}
			if tt.audio != (sv.Alternative != nil) || tt.audio != strings.Contains(v.Codecs, ",mp4a.40.2") ||
				tt.audio != (v.Audio == ingest.SourceGroup) {
				t.Errorf("audio: alternative %+v, variant %+v", sv.Alternative, v)
			}
			if sv.Alternative != nil && sv.Alternative.URI != "source/audio/index.m3u8" {
				t.Errorf("audio URI %q", sv.Alternative.URI)
			}
		})
	}
}
