package llhls

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"
)

// get fetches name from the muxer's server, returning status, headers, body.
func get(t *testing.T, srv *httptest.Server, name string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/live/x/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// serve starts a real HTTP server on 127.0.0.1 mounting m under /live/x/.
func serve(t *testing.T, m *Muxer) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/live/x/", m)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// firstSampleSync reports whether the first video sample of a part is a sync
// sample (keyframe), reading the part's moof as a player would.
func firstSampleSync(t *testing.T, init, part []byte) bool {
	t.Helper()
	f, err := mp4ff.DecodeFile(bytes.NewReader(append(append([]byte(nil), init...), part...)))
	if err != nil {
		t.Fatalf("decode part: %v", err)
	}
	trex := f.Init.Moov.Mvex.Trexs[0]
	samples, err := f.Segments[0].Fragments[0].GetFullSamples(trex)
	if err != nil || len(samples) == 0 {
		t.Fatalf("part samples: %v (%d)", err, len(samples))
	}
	return mp4ff.IsSyncSampleFlags(samples[0].Flags)
}

// segmentFile writes init followed by seg to a file, as a player would
// append them to its buffer, and returns its path.
func segmentFile(t *testing.T, init, seg []byte) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "seg*.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(append([]byte(nil), init...), seg...)); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// probeFrames decodes file with ffmpeg (no error allowed) and counts the
// frames ffprobe reads in the given stream type ("v" or "a").
func probeFrames(t *testing.T, file, stream string) int {
	t.Helper()
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", file, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg decode of %s: %v\n%s", file, err, out)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", stream,
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("ffprobe frames %q: %v", out, err)
	}
	return n
}

// TestSpecChecks feeds a real 4 s H.264+AAC clip and checks the playlist and
// media against RFC 8216bis: parts no longer than PART-TARGET, independent
// parts exactly those starting on a keyframe, segments starting with an
// independent part and no longer than the target duration, server control
// values, ENDLIST after the end, and each segment (init + its parts) decoding
// with ffmpeg to the right number of frames.
func TestSpecChecks(t *testing.T) {
	c := loadClip(t, 4)
	m := New(Config{PartSegments: 100, Window: 100})
	if err := m.Start(c.tracks(true, true)); err != nil {
		t.Fatal(err)
	}
	feed(t, m, c.events(true, true))
	m.End()
	srv := serve(t, m)

	code, h, body := get(t, srv, "index.m3u8")
	if code != 200 || h.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Fatalf("playlist: %d %q", code, h.Get("Content-Type"))
	}
	p := parsePlaylist(t, string(body))
	if p.version < 9 || !p.blockReload || p.partTarget <= 0 || p.partTarget > 0.5 || p.partTarget < 0.2 {
		t.Fatalf("header: %+v", p)
	}
	if p.partHoldBack < 3*p.partTarget-1e-9 || p.canSkipUntil < 6*p.target {
		t.Fatalf("PART-HOLD-BACK %v (part target %v), CAN-SKIP-UNTIL %d (target %d)", p.partHoldBack, p.partTarget, p.canSkipUntil, p.target)
	}
	if !p.ended || p.hint != "" {
		t.Fatalf("ended playlist: ENDLIST %v, preload hint %q", p.ended, p.hint)
	}
	if len(p.segs) != 4 {
		t.Fatalf("%d segments for a 4 s clip with 1 s segments and 0.5 s GOPs:\n%s", len(p.segs), body)
	}
	_, _, init := get(t, srv, p.segs[0].mapURI)
	var total float64
	for _, s := range p.segs {
		if s.uri == "" || s.pdt == "" || s.mapURI == "" {
			t.Fatalf("segment %d incomplete in an ended playlist: %+v", s.msn, s)
		}
		if math.Round(s.dur) > float64(p.target) {
			t.Errorf("segment %d lasts %v > target %d", s.msn, s.dur, p.target)
		}
		if len(s.parts) == 0 || !s.parts[0].indep {
			t.Errorf("segment %d does not start with an independent part", s.msn)
		}
		var joined []byte
		var partSum float64
		for _, pt := range s.parts {
			if pt.dur > p.partTarget+1e-9 {
				t.Errorf("part %s lasts %v > PART-TARGET %v", pt.uri, pt.dur, p.partTarget)
			}
			code, h, b := get(t, srv, pt.uri)
			if code != 200 || h.Get("Content-Type") != "video/mp4" || !strings.Contains(h.Get("Cache-Control"), "immutable") {
				t.Fatalf("part %s: %d %q %q", pt.uri, code, h.Get("Content-Type"), h.Get("Cache-Control"))
			}
			if sync := firstSampleSync(t, init, b); sync != pt.indep {
				t.Errorf("part %s: INDEPENDENT=%v but first sample sync=%v", pt.uri, pt.indep, sync)
			}
			joined = append(joined, b...)
			partSum += pt.dur
		}
		if math.Abs(partSum-s.dur) > 1e-3 {
			t.Errorf("segment %d: EXTINF %v but parts sum to %v", s.msn, s.dur, partSum)
		}
		_, _, seg := get(t, srv, s.uri)
		if !bytes.Equal(seg, joined) {
			t.Errorf("segment %d is not its parts joined", s.msn)
		}
		file := segmentFile(t, init, seg)
		want := int(math.Round(s.dur * clipFPS))
		if got := probeFrames(t, file, "v"); got != want {
			t.Errorf("segment %d (%v s) decodes to %d video frames, want %d", s.msn, s.dur, got, want)
		}
		if got := probeFrames(t, file, "a"); got == 0 {
			t.Errorf("segment %d has no audio", s.msn)
		}
		total += s.dur
	}
	if math.Abs(total-4) > 1e-6 {
		t.Errorf("segments last %v s in all, the clip 4 s", total)
	}
}

// TestAudioOnly publishes only the AAC track (live radio): parts and
// segments are cut on the audio's own timeline and served as audio/mp4.
func TestAudioOnly(t *testing.T) {
	c := loadClip(t, 4)
	m := New(Config{PartSegments: 100})
	if err := m.Start(c.tracks(false, true)); err != nil {
		t.Fatal(err)
	}
	feed(t, m, c.events(false, true))
	m.End()
	srv := serve(t, m)
	_, _, body := get(t, srv, "index.m3u8")
	p := parsePlaylist(t, string(body))
	if len(p.segs) < 4 {
		t.Fatalf("%d segments:\n%s", len(p.segs), body)
	}
	_, _, init := get(t, srv, p.segs[0].mapURI)
	for _, s := range p.segs {
		for _, pt := range s.parts {
			if pt.dur > p.partTarget+1e-9 || !pt.indep {
				t.Errorf("part %s: %v s, independent %v", pt.uri, pt.dur, pt.indep)
			}
		}
		if math.Round(s.dur) > float64(p.target) || s.dur > DefaultSegmentTarget.Seconds()+1e-9 {
			t.Errorf("segment %d lasts %v", s.msn, s.dur)
		}
	}
	code, h, seg := get(t, srv, p.segs[1].uri)
	if code != 200 || h.Get("Content-Type") != "audio/mp4" {
		t.Fatalf("segment: %d %q", code, h.Get("Content-Type"))
	}
	file := segmentFile(t, init, seg)
	want := int(math.Round(p.segs[1].dur * clipRate / aacFrameSamples))
	if got := probeFrames(t, file, "a"); got != want {
		t.Errorf("audio segment decodes to %d frames, want %d", got, want)
	}
}

// waitWaiting returns once n requests are blocked in the muxer, so a test
// knows its request is parked before it publishes what it waits for.
func waitWaiting(m *Muxer, n int) {
	for {
		m.mu.Lock()
		w := m.waiting
		m.mu.Unlock()
		if w >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBlockingReload checks blocking playlist reload over a real HTTP
// server: a request for the next part is answered once that part exists
// (its playlist lists it), the preload-hinted part is served once written,
// many viewers waiting on one part all get it, a request more than two
// segments ahead is 400, malformed directives are 400, and End answers
// waiting requests with ENDLIST.
func TestBlockingReload(t *testing.T) {
	c := loadClip(t, 4)
	ev := c.events(true, true)
	m := New(Config{})
	if err := m.Start(c.tracks(true, true)); err != nil {
		t.Fatal(err)
	}
	half := len(ev) / 2
	feed(t, m, ev[:half])
	srv := serve(t, m)

	_, h, body := get(t, srv, "index.m3u8")
	if h.Get("Cache-Control") != cachePlaylist {
		t.Errorf("plain playlist Cache-Control %q", h.Get("Cache-Control"))
	}
	p := parsePlaylist(t, string(body))
	last := p.segs[len(p.segs)-1]
	msn, next := last.msn, len(last.parts)
	if last.uri != "" { // the last listed segment is complete: next is part 0 of the next one
		msn, next = msn+1, 0
	}
	if want := partName(msn, next); p.hint != want {
		t.Fatalf("preload hint %q, want %q", p.hint, want)
	}
	lastDone := p.mediaSeq + uint64(len(p.segs)) - 1
	if last.uri == "" {
		lastDone--
	}

	// Bad requests, answered at once.
	for _, q := range []string{
		"_HLS_msn=" + strconv.FormatUint(lastDone+3, 10),
		"_HLS_part=1",
		"_HLS_msn=abc",
		"_HLS_msn=1&_HLS_msn=2",
		"_HLS_msn=-1",
		"_HLS_skip=NO",
	} {
		if code, _, _ := get(t, srv, "index.m3u8?"+q); code != 400 {
			t.Errorf("?%s: status %d, want 400", q, code)
		}
	}

	// Viewers waiting for the next part, and for the hinted part itself.
	const viewers = 20
	type answer struct {
		code int
		h    http.Header
		body []byte
	}
	answers := make(chan answer, viewers+1)
	var wg sync.WaitGroup
	for i := 0; i < viewers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, h, b := get(t, srv, "index.m3u8?_HLS_msn="+strconv.FormatUint(msn, 10)+"&_HLS_part="+strconv.Itoa(next))
			answers <- answer{code, h, b}
		}()
	}
	hinted := make(chan answer, 1)
	go func() {
		code, h, b := get(t, srv, p.hint)
		hinted <- answer{code, h, b}
	}()
	waitWaiting(m, viewers+1)
	feed(t, m, ev[half:])
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.code != 200 || a.h.Get("Cache-Control") != cacheBlocking {
			t.Fatalf("blocking reload: %d %q", a.code, a.h.Get("Cache-Control"))
		}
		bp := parsePlaylist(t, string(a.body))
		found := false
		for _, s := range bp.segs {
			for i, pt := range s.parts {
				found = found || (s.msn == msn && i == next && pt.uri == p.hint)
			}
		}
		if !found {
			t.Fatalf("blocking reload answered without part %s:\n%s", p.hint, a.body)
		}
	}
	ha := <-hinted
	_, _, want := get(t, srv, p.hint)
	if ha.code != 200 || len(ha.body) == 0 || !bytes.Equal(ha.body, want) {
		t.Fatalf("hinted part: %d, %d bytes", ha.code, len(ha.body))
	}

	// A request for the segment after the live edge waits; End answers it.
	_, _, body = get(t, srv, "index.m3u8")
	p = parsePlaylist(t, string(body))
	ahead := p.segs[len(p.segs)-1].msn + 1
	ended := make(chan answer, 1)
	go func() {
		code, h, b := get(t, srv, "index.m3u8?_HLS_msn="+strconv.FormatUint(ahead, 10))
		ended <- answer{code, h, b}
	}()
	waitWaiting(m, 1)
	m.End()
	a := <-ended
	if a.code != 200 || !parsePlaylist(t, string(a.body)).ended {
		t.Fatalf("request waiting at End: %d\n%s", a.code, a.body)
	}
}

// TestBlockingTimeout checks that a blocking request that cannot be
// satisfied is answered 503 after about three target durations, not held.
func TestBlockingTimeout(t *testing.T) {
	c := loadClip(t, 4)
	m := New(Config{})
	m.Start(c.tracks(true, true))
	feed(t, m, c.events(true, true)[:60])
	srv := serve(t, m)
	m.mu.Lock()
	next := m.lastComplete() + 2
	m.mu.Unlock()
	code, _, _ := get(t, srv, "index.m3u8?_HLS_msn="+strconv.FormatInt(next, 10))
	if code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", code)
	}
	if code, _, _ := get(t, srv, partName(uint64(next), 9)); code != 404 {
		t.Fatalf("part far past the hint: %d, want 404", code)
	}
}

// TestDeltaUpdate checks _HLS_skip=YES: the segments more than CAN-SKIP-UNTIL
// before the end are replaced by EXT-X-SKIP, and the rest is the same as in
// the full playlist.
func TestDeltaUpdate(t *testing.T) {
	c := loadClip(t, 10)
	m := New(Config{})
	m.Start(c.tracks(true, true))
	feed(t, m, c.events(true, true))
	srv := serve(t, m)
	_, _, fb := get(t, srv, "index.m3u8")
	_, _, db := get(t, srv, "index.m3u8?_HLS_skip=YES")
	full, delta := parsePlaylist(t, string(fb)), parsePlaylist(t, string(db))
	// Expected: leading complete segments ending at least CAN-SKIP-UNTIL
	// before the end of the playlist.
	var total float64
	for _, s := range full.segs {
		if s.uri != "" {
			total += s.dur
		} else {
			for _, p := range s.parts {
				total += p.dur
			}
		}
	}
	want, end := 0, 0.0
	for _, s := range full.segs {
		end += s.dur
		if s.uri == "" || total-end < float64(full.canSkipUntil) {
			break
		}
		want++
	}
	if want == 0 || delta.skipped != want {
		t.Fatalf("SKIPPED-SEGMENTS=%d, want %d (>0)\n%s", delta.skipped, want, db)
	}
	if delta.mediaSeq != full.mediaSeq || len(delta.segs) != len(full.segs)-want {
		t.Fatalf("delta: seq %d, %d segments; full: seq %d, %d segments", delta.mediaSeq, len(delta.segs), full.mediaSeq, len(full.segs))
	}
	for i, s := range delta.segs {
		if f := full.segs[i+want]; f.uri != s.uri || f.msn != s.msn || len(f.parts) != len(s.parts) {
			t.Fatalf("delta segment %d: %+v, full: %+v", i, s, f)
		}
	}
	if delta.segs[0].mapURI == "" {
		t.Errorf("delta update lacks EXT-X-MAP")
	}
}

// TestReconnect checks a publisher dropping and coming back: the playlist
// goes on with one EXT-X-DISCONTINUITY and a new init section, media
// sequence numbers continue, and the segment after the discontinuity decodes.
func TestReconnect(t *testing.T) {
	c := loadClip(t, 4)
	ev := c.events(true, true)
	m := New(Config{Window: 100})
	m.Start(c.tracks(true, true))
	feed(t, m, ev[:len(ev)/2])
	m.Disconnect()
	if err := m.Start(c.tracks(true, true)); err != nil {
		t.Fatal(err)
	}
	feed(t, m, ev) // the new session's clock starts at 0 again
	m.End()
	srv := serve(t, m)
	_, _, body := get(t, srv, "index.m3u8")
	p := parsePlaylist(t, string(body))
	discs := 0
	var after plSeg
	for i, s := range p.segs {
		if s.msn != p.mediaSeq+uint64(i) {
			t.Fatalf("segment %d has msn %d", i, s.msn)
		}
		if s.disc {
			discs++
			after = s
			if s.mapURI == p.segs[0].mapURI {
				t.Errorf("no new EXT-X-MAP after the discontinuity")
			}
		}
	}
	if discs != 1 || !p.ended {
		t.Fatalf("%d discontinuities, ended %v:\n%s", discs, p.ended, body)
	}
	_, _, init := get(t, srv, after.mapURI)
	_, _, seg := get(t, srv, after.uri)
	file := segmentFile(t, init, seg)
	if got, want := probeFrames(t, file, "v"), int(math.Round(after.dur*clipFPS)); got != want {
		t.Errorf("segment after the discontinuity: %d frames, want %d", got, want)
	}
	if err := m.WriteAudio(0, []byte{1}); err != ErrEnded {
		t.Errorf("write after End: %v", err)
	}
}

// TestRenditionReports checks EXT-X-RENDITION-REPORT: each rendition
// reports where its sibling's live edge is.
func TestRenditionReports(t *testing.T) {
	c := loadClip(t, 4)
	ev := c.events(true, true)
	a, b := New(Config{}), New(Config{})
	a.SetSiblings([]Sibling{{URI: "../b/index.m3u8", Source: b}})
	b.SetSiblings([]Sibling{{URI: "../a/index.m3u8", Source: a}})
	a.Start(c.tracks(true, true))
	b.Start(c.tracks(false, true))
	feed(t, a, ev[:len(ev)/2])
	feed(t, b, c.events(false, true)[:100])
	pa := parsePlaylist(t, string(a.Playlist()))
	pb := parsePlaylist(t, string(b.Playlist()))
	if len(pa.reports) != 1 || len(pb.reports) != 1 {
		t.Fatalf("reports: %v / %v", pa.reports, pb.reports)
	}
	lastOf := func(p mediaPlaylist) (string, string) {
		s := p.segs[len(p.segs)-1]
		return strconv.FormatUint(s.msn, 10), strconv.Itoa(len(s.parts) - 1)
	}
	msn, part := lastOf(pb)
	if r := pa.reports[0]; r["URI"] != "../b/index.m3u8" || r["LAST-MSN"] != msn || r["LAST-PART"] != part {
		t.Errorf("a reports %v, b's last part is %s.%s", r, msn, part)
	}
	msn, part = lastOf(pa)
	if r := pb.reports[0]; r["LAST-MSN"] != msn || r["LAST-PART"] != part {
		t.Errorf("b reports %v, a's last part is %s.%s", r, msn, part)
	}
}

// TestStall checks a publisher stalling for 2 s mid-stream: no part grows
// past PART-TARGET, segments still start independent, and the segment
// holding the stall decodes.
func TestStall(t *testing.T) {
	c := loadClip(t, 4)
	m := New(Config{PartSegments: 100, Window: 100})
	m.Start(c.tracks(true, true))
	ev := c.events(true, true)
	half := len(ev) / 2
	feed(t, m, ev[:half])
	for _, e := range ev[half:] {
		if e.video != nil {
			m.WriteVideo(e.video.dts+2*time.Second, e.video.dts+2*time.Second, e.video.key, e.video.nalus)
		} else {
			m.WriteAudio(e.ts+2*time.Second, e.audio)
		}
	}
	m.End()
	p := parsePlaylist(t, string(m.Playlist()))
	srv := serve(t, m)
	_, _, init := get(t, srv, p.segs[0].mapURI)
	for _, s := range p.segs {
		if !s.parts[0].indep {
			t.Errorf("segment %d does not start independent", s.msn)
		}
		for _, pt := range s.parts {
			if pt.dur > p.partTarget+1e-9 {
				t.Errorf("part %s lasts %v", pt.uri, pt.dur)
			}
		}
		_, _, seg := get(t, srv, s.uri)
		file := segmentFile(t, init, seg)
		if got, want := probeFrames(t, file, "v"), int(math.Round(s.dur*clipFPS)); got != want {
			t.Errorf("segment %d: %d frames, want %d", s.msn, got, want)
		}
	}
}

// TestWindow checks the sliding window: the playlist keeps Window complete
// segments, its media sequence follows the first of them, and what slid out
// is gone (404) while what is listed is served.
func TestWindow(t *testing.T) {
	c := loadClip(t, 10)
	m := New(Config{Window: 3})
	m.Start(c.tracks(true, true))
	feed(t, m, c.events(true, true))
	srv := serve(t, m)
	_, _, body := get(t, srv, "index.m3u8")
	p := parsePlaylist(t, string(body))
	complete := 0
	for _, s := range p.segs {
		if s.uri != "" {
			complete++
		}
	}
	if complete != 3 || p.mediaSeq != p.segs[0].msn || p.mediaSeq < 5 {
		t.Fatalf("window of 3 after 10 s: %d complete segments from %d:\n%s", complete, p.mediaSeq, body)
	}
	for _, name := range []string{segName(0), partName(0, 0), segName(p.mediaSeq - 1)} {
		if code, _, _ := get(t, srv, name); code != 404 {
			t.Errorf("%s slid out of the window but answers %d", name, code)
		}
	}
	for _, s := range p.segs {
		if s.uri == "" {
			continue
		}
		if code, h, _ := get(t, srv, s.uri); code != 200 || h.Get("Cache-Control") != cacheImmutable {
			t.Errorf("%s: %d %q", s.uri, code, h.Get("Cache-Control"))
		}
	}
	if code, h, _ := get(t, srv, p.segs[0].mapURI); code != 200 || h.Get("Content-Type") != "video/mp4" {
		t.Errorf("init: %d %q", code, h.Get("Content-Type"))
	}
	resp, err := srv.Client().Post(srv.URL+"/live/x/index.m3u8", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}
