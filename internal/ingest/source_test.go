package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// TestRunSourceVariant checks that a source variant is listed first from
// the start of a progressive run and that the final master keeps it only
// when asked to and strictly taller than the top rung.
func TestRunSourceVariant(t *testing.T) {
	skipShort(t)
	// short.mp4 is 320x240 H.264 + AAC; its source rendition is served
	// elsewhere (internal/server), only its listing matters here.
	src := func(keep bool) *SourceVariant {
		return &SourceVariant{
			Variant: hls.Variant{URI: "source/video/index.m3u8", Bandwidth: 500000, Codecs: "avc1.64000d,mp4a.40.2",
				Width: 320, Height: 240, FrameRate: 30, Audio: SourceGroup},
			Alternative: &hls.Alternative{Type: "AUDIO", GroupID: SourceGroup, Name: "source", Default: true,
				Autoselect: true, URI: "source/audio/index.m3u8"},
			Keep: keep,
		}
	}
	tests := []struct {
		name     string
		keep     bool
		ladder   []int
		wantKept bool
	}{
		{"taller than the ladder", true, []int{144}, true},
		{"dropped by the flag", false, []int{144}, false},
		{"as tall as the top rung", true, []int{240, 144}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "media")
			var seen int
			check := func(when string) {
				data, err := os.ReadFile(filepath.Join(out, masterName))
				if err != nil {
					t.Errorf("%s: %v", when, err)
					return
				}
				mv, err := hls.ParseMultivariant(data)
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if len(mv.Variants) == 0 || mv.Variants[0].URI != "source/video/index.m3u8" ||
					len(mv.Alternatives) == 0 || mv.Alternatives[0].GroupID != SourceGroup {
					t.Errorf("%s: master does not list the source first:\n%s", when, data)
				}
				seen++
			}
			res, err := Run(context.Background(), Options{
				Input: testmedia.Path(t, "short.mp4"), Output: out, Ladder: tt.ladder, Progressive: true,
				Source:   src(tt.keep),
				Progress: func(Progress) { check("while encoding") },
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if seen == 0 {
				t.Fatal("no progress report: the master was never checked while encoding")
			}
			data, err := os.ReadFile(filepath.Join(out, masterName))
			if err != nil {
				t.Fatal(err)
			}
			mv, err := hls.ParseMultivariant(data)
			if err != nil {
				t.Fatal(err)
			}
			kept := mv.Variants[0].URI == "source/video/index.m3u8"
			if kept != tt.wantKept || len(mv.Variants) != len(res.Renditions)-1+btoi(kept) {
				t.Errorf("final master (source kept %v, want %v):\n%s", kept, tt.wantKept, data)
			}
			if kept != (len(mv.Alternatives) == 2) {
				t.Errorf("final master: source audio group listed %v, source variant %v:\n%s", len(mv.Alternatives) == 2, kept, data)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
