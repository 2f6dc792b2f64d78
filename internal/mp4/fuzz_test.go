package mp4_test

import (
	"bytes"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/mp4"
	"github.com/hlsd/hlsd/internal/mp4/mp4test"
)

// FuzzIndex feeds arbitrary bytes to the box parser and index builder and,
// when they are accepted, generates every playlist, init and media segment:
// nothing may panic, and every refusal is a user-facing EUNSUPPORTED error
// (a hostile file is the user's problem, never an internal error). Seeds
// are small real sources of each layout (progressive with the moov first
// or last, fragmented, audio only).
func FuzzIndex(f *testing.F) {
	for _, name := range []string{"tiny.mp4", "tiny-moov-at-end.mp4", "tiny-fragmented.mp4", "tiny.m4a"} {
		f.Add(read(f, mp4test.Lookup(f, name).Path(f)))
	}
	f.Add([]byte("\x00\x00\x00\x08moov"))
	f.Add([]byte("\x00\x00\x00\x01mdat\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		x, err := mp4.Parse(r, int64(len(data)), "fuzz.mp4", mp4.Options{})
		if err != nil {
			if hlsd.ErrorCode(err) != hlsd.EUNSUPPORTED {
				t.Fatalf("error %v has code %s, want unsupported_media", err, hlsd.ErrorCode(err))
			}
			return
		}
		if len(x.Master()) == 0 {
			t.Fatal("empty master playlist")
		}
		for _, tr := range x.Tracks {
			if len(tr.Init()) == 0 || len(tr.Playlist()) == 0 {
				t.Fatalf("%s: empty init or playlist", tr.Name)
			}
			for n := 1; n <= tr.Segments() && n <= 50; n++ {
				if _, err := tr.Segment(r, n); err != nil {
					t.Fatalf("%s segment %d: %v", tr.Name, n, err)
				}
			}
		}
	})
}
