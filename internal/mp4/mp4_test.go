package mp4_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/mp4"
	"github.com/hlsd/hlsd/internal/mp4/mp4test"
	"github.com/hlsd/hlsd/internal/testmedia"
)

func parseFile(tb testing.TB, path string) (*mp4.Index, *os.File) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	x, err := mp4.Parse(f, fi.Size(), filepath.Base(path), mp4.Options{})
	if err != nil {
		tb.Fatalf("parse %s: %v", path, err)
	}
	return x, f
}

// TestPresentations packages every test source, writes the presentation
// to disk and has ffmpeg decode it: no decoding error, duration within one
// frame of the source, first video and audio frames where the source has
// them.
func TestPresentations(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes with ffmpeg: skipped with -short")
	}
	for _, src := range mp4test.Sources {
		t.Run(src.Name, func(t *testing.T) {
			path := src.Path(t)
			x, f := parseFile(t, path)
			dir := t.TempDir()
			if err := x.WriteFiles(dir, f); err != nil {
				t.Fatal(err)
			}
			mp4test.Check(t, src, path, filepath.Join(dir, mp4.MasterName))
			checkPlaylists(t, x, src)
			checkSegments(t, x, f, src)
		})
	}
}

// checkPlaylists parses the playlists back and checks the layout and the
// attributes players rely on.
func checkPlaylists(t *testing.T, x *mp4.Index, src mp4test.Source) {
	mv, err := hls.ParseMultivariant(x.Master())
	if err != nil {
		t.Fatalf("master: %v\n%s", err, x.Master())
	}
	if len(mv.Variants) != 1 {
		t.Fatalf("master has %d variants, want 1:\n%s", len(mv.Variants), x.Master())
	}
	v := mv.Variants[0]
	if v.Bandwidth <= 0 || v.AverageBandwidth <= 0 || v.AverageBandwidth > v.Bandwidth {
		t.Errorf("BANDWIDTH %d AVERAGE-BANDWIDTH %d", v.Bandwidth, v.AverageBandwidth)
	}
	if src.AudioOnly {
		if v.Codecs != "mp4a.40.2" || v.URI != "audio/index.m3u8" || len(mv.Alternatives) != 0 {
			t.Errorf("audio-only variant %+v, alternatives %d", v, len(mv.Alternatives))
		}
	} else {
		vc, ac := src.VideoCodec, src.AudioCodec
		if vc == "" {
			vc = "avc1."
		}
		if ac == "" {
			ac = "mp4a.40.2"
		}
		if !strings.HasPrefix(v.Codecs, vc) || !strings.HasSuffix(v.Codecs, ","+ac) || (vc == "avc1." && len(v.Codecs) != len("avc1.64000d,")+len(ac)) {
			t.Errorf("CODECS %q, want %s...,%s", v.Codecs, vc, ac)
		}
		if v.Width != src.Width || v.Height != src.Height || v.FrameRate <= 0 || v.Audio != "audio" || v.URI != "video/index.m3u8" {
			t.Errorf("variant %+v", v)
		}
		if len(mv.Alternatives) != 1 || mv.Alternatives[0].URI != "audio/index.m3u8" || mv.Alternatives[0].Type != "AUDIO" {
			t.Errorf("alternatives %+v", mv.Alternatives)
		}
	}
	var durs []float64
	for _, tr := range x.Tracks {
		m, err := hls.ParseMedia(tr.Playlist())
		if err != nil {
			t.Fatalf("%s playlist: %v", tr.Name, err)
		}
		if m.PlaylistType != hls.TypeVOD || !m.EndList || m.Map == nil || m.Map.URI != mp4.InitName || len(m.Segments) != tr.Segments() {
			t.Errorf("%s playlist:\n%s", tr.Name, tr.Playlist())
		}
		var d float64
		for i, s := range m.Segments {
			if s.Duration <= 0 {
				t.Errorf("%s segment %d lasts %g", tr.Name, i+1, s.Duration)
			}
			d += s.Duration
		}
		durs = append(durs, d)
	}
	// Audio segments cut at the video's presentation times: the two
	// playlists' segment boundaries line up to within an audio frame.
	if len(x.Tracks) == 2 {
		vm, _ := hls.ParseMedia(x.Tracks[0].Playlist())
		am, _ := hls.ParseMedia(x.Tracks[1].Playlist())
		var vt, at float64
		for i := 0; i < min(len(vm.Segments), len(am.Segments))-1; i++ {
			vt += vm.Segments[i].Duration
			at += am.Segments[i].Duration
			if d := vt - at; d > 0.03 || d < -0.03 {
				t.Errorf("segment %d ends at %.3fs in video, %.3fs in audio", i+1, vt, at)
			}
		}
	}
}

// checkSegments decodes every generated segment with mp4ff: one track
// fragment per segment, sequence number = segment number, tfdt growing
// without gaps, and video segments opening on a sync sample.
func checkSegments(t *testing.T, x *mp4.Index, f *os.File, src mp4test.Source) {
	for _, tr := range x.Tracks {
		var next uint64
		for n := 1; n <= tr.Segments(); n++ {
			b, err := tr.Segment(f, n)
			if err != nil {
				t.Fatalf("%s segment %d: %v", tr.Name, n, err)
			}
			mf, err := mp4ff.DecodeFile(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s segment %d: decode: %v", tr.Name, n, err)
			}
			if len(mf.Segments) != 1 || len(mf.Segments[0].Fragments) != 1 {
				t.Fatalf("%s segment %d: want one fragment", tr.Name, n)
			}
			frag := mf.Segments[0].Fragments[0]
			if frag.Moof.Mfhd.SequenceNumber != uint32(n) {
				t.Errorf("%s segment %d: mfhd sequence %d", tr.Name, n, frag.Moof.Mfhd.SequenceNumber)
			}
			traf := frag.Moof.Traf
			tfdt := traf.Tfdt.BaseMediaDecodeTime()
			if n > 1 && tfdt != next {
				t.Errorf("%s segment %d: tfdt %d, previous segment ended at %d", tr.Name, n, tfdt, next)
			}
			samples := traf.Trun.GetSamples()
			if len(samples) == 0 {
				t.Fatalf("%s segment %d: no samples", tr.Name, n)
			}
			if tr.Video && samples[0].Flags&0x10000 != 0 {
				t.Errorf("%s segment %d: first sample is not a sync sample", tr.Name, n)
			}
			next = tfdt
			for _, s := range samples {
				next += uint64(s.Dur)
			}
		}
		if _, err := tr.Segment(f, tr.Segments()+1); !errors.Is(err, mp4.ErrNoSegment) {
			t.Errorf("%s: segment past the end: %v", tr.Name, err)
		}
		if _, err := mp4ff.DecodeFile(bytes.NewReader(tr.Init())); err != nil {
			t.Errorf("%s init: %v", tr.Name, err)
		}
	}
}

// TestBFramesTiming checks the timing model on x264's default B-frames:
// the init segment's edit list takes back the composition delay, so the
// first frame is presented at 0, and the offsets are non-negative.
func TestBFramesTiming(t *testing.T) {
	x, f := parseFile(t, mp4test.Lookup(t, "bframes.mp4").Path(t))
	v := x.Track("video")
	if v == nil {
		t.Fatal("no video track")
	}
	init, err := mp4ff.DecodeFile(bytes.NewReader(v.Init()))
	if err != nil {
		t.Fatal(err)
	}
	trak := init.Init.Moov.Trak
	if trak.Edts == nil || len(trak.Edts.Elst) != 1 || len(trak.Edts.Elst[0].Entries) != 1 {
		t.Fatal("video init segment has no single-entry edit list")
	}
	shift := trak.Edts.Elst[0].Entries[0].MediaTime
	b, err := v.Segment(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := mp4ff.DecodeFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	traf := mf.Segments[0].Fragments[0].Moof.Traf
	minPTS := int64(1 << 62)
	reordered := false
	dts := int64(traf.Tfdt.BaseMediaDecodeTime())
	for i, s := range traf.Trun.GetSamples() {
		if s.CompositionTimeOffset < 0 {
			t.Fatalf("sample %d has a negative composition offset %d", i, s.CompositionTimeOffset)
		}
		pts := dts + int64(s.CompositionTimeOffset) - shift
		if pts < dts-shift {
			reordered = true
		}
		if i > 0 && s.CompositionTimeOffset != traf.Trun.Samples[0].CompositionTimeOffset {
			reordered = true
		}
		minPTS = min(minPTS, pts)
		dts += int64(s.Dur)
	}
	if minPTS != 0 {
		t.Errorf("first frame presented at %d, want 0", minPTS)
	}
	if !reordered {
		t.Error("no composition offsets: the source was expected to have B-frames")
	}
}

// TestErrors checks that sources that cannot be packaged get one clear
// EUNSUPPORTED error naming the file.
func TestErrors(t *testing.T) {
	faststart := mp4test.Lookup(t, "faststart.mp4").Path(t)
	good, err := os.ReadFile(faststart)
	if err != nil {
		t.Fatal(err)
	}
	lyingStsz := patchBox(t, good, "stsz", func(p []byte) { binary.BigEndian.PutUint32(p[16:], 0xfffffff0) })
	lyingStco := patchBox(t, good, "stco", func(p []byte) { binary.BigEndian.PutUint32(p[12:], 0x7ffffff0) })
	hugeMoov := append([]byte(nil), good...)
	i := bytes.Index(hugeMoov, []byte("moov"))
	binary.BigEndian.PutUint32(hugeMoov[i-4:], 0xfffffff0)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated.mp4", read(t, testmedia.Path(t, "truncated.mp4")), "truncated.mp4 is truncated: its moov box is missing"},
		{"truncated-faststart.mp4", read(t, testmedia.Path(t, "truncated-faststart.mp4")), "truncated-faststart.mp4 is truncated: its sample tables point past the end of the file"},
		{"movie.mp4", hugeMoov, "movie.mp4 is truncated: its moov box is missing"},
		{"notes.mp4", []byte("this is not a video at all, just some text long enough"), "notes.mp4 is not an MP4 file"},
		{"empty.mp4", nil, "empty.mp4 is truncated: its moov box is missing"},
		{"sizes.mp4", lyingStsz, "sizes.mp4 is damaged: track 1: 4294967280 samples declared in a "},
		{"chunks.mp4", lyingStco, "chunks.mp4 is damaged"},
		{"cover.mp3", read(t, testmedia.Path(t, "cover.mp3")), "cover.mp3 is not an MP4 file"},
		{"mpeg2.mpg", read(t, testmedia.Path(t, "mpeg2-720x405.mpg")), "mpeg2.mpg is not an MP4 file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mp4.Parse(bytes.NewReader(tt.data), int64(len(tt.data)), tt.name, mp4.Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if hlsd.ErrorCode(err) != hlsd.EUNSUPPORTED || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q (code %s), want %q (unsupported_media)", err, hlsd.ErrorCode(err), tt.want)
			}
		})
	}
}

// TestUnsupportedCodecs checks that a source whose video or audio hlsd
// cannot pass through says which codec it has.
func TestUnsupportedCodecs(t *testing.T) {
	if testing.Short() {
		t.Skip("generates with ffmpeg: skipped with -short")
	}
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"mpeg4.mp4", []string{"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=1", "-c:v", "mpeg4"}, "mpeg4.mp4 has mp4v video, not H.264 or HEVC"},
		{"ac3.mp4", []string{"-f", "lavfi", "-i", "sine=duration=1", "-c:a", "ac3"}, "ac3.mp4 has ac-3 audio, not AAC or MP3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, tt.name)
			args := append([]string{"-nostdin", "-v", "error", "-y"}, tt.args...)
			if b, err := runCmd(t, "ffmpeg", append(args, out)...); err != nil {
				t.Fatalf("ffmpeg: %v: %s", err, b)
			}
			data := read(t, out)
			_, err := mp4.Parse(bytes.NewReader(data), int64(len(data)), tt.name, mp4.Options{})
			if hlsd.ErrorCode(err) != hlsd.EUNSUPPORTED || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestNeverReadsMediaData checks that indexing reads only box headers and
// the moov box: a fraction of the file, wherever the moov is.
func TestNeverReadsMediaData(t *testing.T) {
	for _, name := range []string{"faststart.mp4", "moov-at-end.mp4", "fragmented.mp4"} {
		t.Run(name, func(t *testing.T) {
			data := read(t, mp4test.Lookup(t, name).Path(t))
			r := &countingReader{r: bytes.NewReader(data)}
			x, err := mp4.Parse(r, int64(len(data)), name, mp4.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.n*5 > int64(len(data)) {
				t.Errorf("indexing read %d of %d bytes", r.n, len(data))
			}
			// A segment reads its samples only.
			r.n = 0
			seg, err := x.Tracks[0].Segment(r, 1)
			if err != nil {
				t.Fatal(err)
			}
			if r.n > int64(len(seg)) {
				t.Errorf("segment of %d bytes read %d bytes of the source", len(seg), r.n)
			}
		})
	}
}

type countingReader struct {
	r interface {
		ReadAt([]byte, int64) (int, error)
	}
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestCache(t *testing.T) {
	path := mp4test.Lookup(t, "faststart.mp4").Path(t)
	data := read(t, path)
	r := bytes.NewReader(data)
	mod := time.Unix(1700000000, 0)
	c := mp4.NewCache(1<<20, mp4.Options{})
	a, err := c.Index("a.mp4", int64(len(data)), mod, r, "a.mp4")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Index("a.mp4", int64(len(data)), mod, r, "a.mp4")
	if a != b {
		t.Error("same path, size and mtime parsed twice")
	}
	c2, _ := c.Index("a.mp4", int64(len(data)), mod.Add(time.Second), r, "a.mp4")
	if c2 == a {
		t.Error("a changed mtime did not parse again")
	}
	if n, used := c.Stats(); n != 2 || used != a.MemSize()+c2.MemSize() {
		t.Errorf("stats %d entries %d bytes, want 2 and %d", n, used, a.MemSize()+c2.MemSize())
	}
	// A bound of about one index keeps the most recent one only.
	small := mp4.NewCache(a.MemSize()+a.MemSize()/2, mp4.Options{})
	for i := range 3 {
		if _, err := small.Index("a.mp4", int64(len(data)), mod.Add(time.Duration(i)), r, "a.mp4"); err != nil {
			t.Fatal(err)
		}
	}
	if n, used := small.Stats(); n != 1 || used > a.MemSize()+a.MemSize()/2 {
		t.Errorf("bounded cache holds %d entries, %d bytes", n, used)
	}
	// Concurrent first requests share one parse.
	shared := mp4.NewCache(0, mp4.Options{})
	got := make(chan *mp4.Index, 8)
	for range 8 {
		go func() {
			x, _ := shared.Index("b.mp4", int64(len(data)), mod, r, "b.mp4")
			got <- x
		}()
	}
	first := <-got
	for range 7 {
		if x := <-got; x != first || x == nil {
			t.Fatal("concurrent requests got different indexes")
		}
	}
	// Failures are not cached.
	if _, err := c.Index("bad.mp4", 10, mod, bytes.NewReader(make([]byte, 10)), "bad.mp4"); err == nil {
		t.Error("no error for a bad file")
	}
	if n, _ := c.Stats(); n != 2 {
		t.Errorf("%d entries after a failure, want 2", n)
	}
}

func read(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// patchBox returns a copy of data with fn applied to the first box of
// type typ (fn gets the box from its size field on).
func patchBox(tb testing.TB, data []byte, typ string, fn func([]byte)) []byte {
	tb.Helper()
	out := append([]byte(nil), data...)
	i := bytes.Index(out, []byte(typ))
	if i < 4 {
		tb.Fatalf("no %s box", typ)
	}
	fn(out[i-4:])
	return out
}

func runCmd(tb testing.TB, name string, args ...string) ([]byte, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// TestPartsReader checks that the seekable reader over a segment's parts
// (what Range requests are served from) yields the segment's bytes, from
// the start and from any position.
func TestPartsReader(t *testing.T) {
	x, f := parseFile(t, mp4test.Lookup(t, "moov-at-end.mp4").Path(t))
	for _, tr := range x.Tracks {
		want, err := tr.Segment(f, 1)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tr.SegmentParts(1)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Ranges) < 2 {
			t.Errorf("%s: %d source ranges; interleaved samples were expected", tr.Name, len(p.Ranges))
		}
		r := p.Reader(f)
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: reader gave %d bytes (err %v), want the segment's %d", tr.Name, len(got), err, len(want))
		}
		for _, off := range []int64{0, 1, int64(len(p.Header)) - 1, int64(len(p.Header)) + 3, p.Size / 2, p.Size - 1} {
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 1000)
			n, _ := io.ReadFull(r, b)
			if !bytes.Equal(b[:n], want[off:min(off+1000, int64(len(want)))]) {
				t.Errorf("%s: read at %d differs", tr.Name, off)
			}
		}
	}
}

func TestSegmentCache(t *testing.T) {
	x, f := parseFile(t, mp4test.Lookup(t, "bframes.mp4").Path(t))
	a := x.Track("audio")
	want, err := a.Segment(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := mp4.NewSegmentCache(int64(len(want)) + 10)
	got, err := c.Segment(x, a, 1, f)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("first: err %v, equal %v", err, bytes.Equal(got, want))
	}
	// Served from memory: a reader that fails proves no read happens.
	again, err := c.Segment(x, a, 1, failingReader{})
	if err != nil || !bytes.Equal(again, want) {
		t.Fatalf("cached: err %v", err)
	}
	// The bound holds one segment: the second evicts the first.
	if _, err := c.Segment(x, a, 2, f); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Segment(x, a, 1, failingReader{}); err == nil {
		t.Error("segment 1 still cached past the bound")
	}
	off := mp4.NewSegmentCache(-1)
	if _, err := off.Segment(x, a, 1, f); err != nil {
		t.Fatal(err)
	}
	if _, err := off.Segment(x, a, 1, failingReader{}); err == nil {
		t.Error("a disabled cache kept a segment")
	}
}

type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("read") }
