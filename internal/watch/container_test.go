package watch

import (
	"bytes"
	"os"
	"testing"

	"github.com/hlsd/hlsd/internal/testmedia"
)

// TestCheckContainer runs the MP4 completeness check on real files and on
// real files cut short.
func TestCheckContainer(t *testing.T) {
	tests := []struct {
		fixture string
		keep    float64 // fraction of the file given to the check
		ok      bool
	}{
		{"short.mp4", 1, true},
		{"short.mp4", 0.5, false},
		{"short.mp4", 0.999, false},
		{"tone.m4a", 1, true},
		{"truncated.mp4", 1, false},           // progressive, moov never written
		{"truncated-faststart.mp4", 1, false}, // moov first, mdat cut
		{"tone.flac", 0.5, true},              // not ISO BMFF: not checked
	}
	for _, tt := range tests {
		b, err := os.ReadFile(testmedia.Path(t, tt.fixture))
		if err != nil {
			t.Fatal(err)
		}
		b = b[:int(float64(len(b))*tt.keep)]
		err = checkContainer(bytes.NewReader(b), int64(len(b)))
		if (err == nil) != tt.ok {
			t.Errorf("%s (%d bytes): checkContainer = %v, want ok %v", tt.fixture, len(b), err, tt.ok)
		}
	}
}
