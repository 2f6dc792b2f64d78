package mp4_test

import (
	"os"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/mp4"
)

func TestScratchBig(t *testing.T) {
	p := os.Getenv("BIG")
	if p == "" {
		t.Skip()
	}
	f, _ := os.Open(p)
	fi, _ := f.Stat()
	start := time.Now()
	x, err := mp4.Parse(f, fi.Size(), "big.mp4", mp4.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("parse %v, mem %d, segs %d, dur %.1f", time.Since(start), x.MemSize(), x.Tracks[0].Segments(), x.Duration)
	start = time.Now()
	b, err := x.Tracks[0].Segment(f, 5)
	t.Logf("segment %v: %d bytes, err %v", time.Since(start), len(b), err)
	t.Logf("%s", x.Master())
}
