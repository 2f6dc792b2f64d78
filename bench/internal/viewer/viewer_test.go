package viewer

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// origin is a test HLS server on 127.0.0.1 that logs every request path.
type origin struct {
	mu    sync.Mutex
	paths []string
	media func(n int) string // media playlist for its n-th request
	delay map[string]time.Duration
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.paths = append(o.paths, r.URL.Path)
	n := 0
	for _, p := range o.paths {
		if p == "/a/index.m3u8" {
			n++
		}
	}
	o.mu.Unlock()
	time.Sleep(o.delay[r.URL.Path])
	switch {
	case r.URL.Path == "/master.m3u8":
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000\nb/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=100000\na/index.m3u8\n")
	case r.URL.Path == "/a/index.m3u8":
		fmt.Fprint(w, o.media(n))
	case strings.HasPrefix(r.URL.Path, "/a/"):
		w.Write(make([]byte, 1000))
	default:
		http.NotFound(w, r)
	}
}

func (o *origin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.paths...)
}

// playlist is a media playlist of segments first..last-1 of dur seconds.
func playlist(first, last int, dur float64, end bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-MAP:URI=\"init.mp4\"\n", first)
	for i := first; i < last; i++ {
		fmt.Fprintf(&b, "#EXTINF:%.3f,\ns%d.m4s\n", dur, i)
	}
	if end {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.String()
}

func run(t *testing.T, o *origin) *Stats {
	t.Helper()
	srv := httptest.NewServer(o) // 127.0.0.1
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/master.m3u8")
	stats := &Stats{}
	f := &H1{Dialer: &Dialer{}}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v := &Viewer{Fetcher: f, Recorder: stats}
	if err := v.Run(ctx, u); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return stats
}

// TestViewerPlaysLikeAPlayer checks the order of a viewer's requests: the
// multivariant playlist, the variant of lowest bandwidth, its init segment,
// then every segment once.
func TestViewerPlaysLikeAPlayer(t *testing.T) {
	o := &origin{media: func(int) string { return playlist(0, 5, 0.01, true) }}
	stats := run(t, o)
	want := []string{"/master.m3u8", "/a/index.m3u8", "/a/init.mp4", "/a/s0.m4s", "/a/s1.m4s", "/a/s2.m4s", "/a/s3.m4s", "/a/s4.m4s"}
	if got := o.requests(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("requests:\n%v\nwant:\n%v", got, want)
	}
	if w := stats.Take(); w.Requests != len(want) || w.Failed != 0 {
		t.Errorf("recorded %d requests, %d failed; want %d, 0", w.Requests, w.Failed, len(want))
	}
}

// TestViewerCountsStall checks that a segment arriving after the playhead
// reached it is a stall: segments last 10 ms and one takes 300 ms to come.
func TestViewerCountsStall(t *testing.T) {
	o := &origin{
		media: func(int) string { return playlist(0, 6, 0.01, true) },
		delay: map[string]time.Duration{"/a/s4.m4s": 300 * time.Millisecond},
	}
	if w := run(t, o).Take(); w.Stalls < 1 {
		t.Errorf("stalls = %d, want at least 1 (a 300 ms segment in a 30 ms buffer)", w.Stalls)
	}
}

// TestViewerReloadsGrowingPlaylist checks the EVENT/live behaviour: without
// ENDLIST the playlist is fetched again and new segments are played from
// where the viewer was, until ENDLIST.
func TestViewerReloadsGrowingPlaylist(t *testing.T) {
	o := &origin{media: func(n int) string {
		if n >= 3 {
			return playlist(0, 5, 0.01, true)
		}
		return playlist(0, 2+n, 0.01, false) // 3 segments, then 4
	}}
	run(t, o)
	var segs, reloads int
	for _, p := range o.requests() {
		switch {
		case p == "/a/index.m3u8":
			reloads++
		case strings.HasSuffix(p, ".m4s"):
			segs++
		}
	}
	if reloads != 3 || segs != 5 {
		t.Errorf("%d playlist fetches and %d segments (%v), want 3 and 5", reloads, segs, o.requests())
	}
}

// TestDialerOnlyLoopback checks that the simulator refuses any host but
// 127.0.0.1.
func TestDialerOnlyLoopback(t *testing.T) {
	d := &Dialer{LocalIPs: 4}
	if _, err := d.DialContext(context.Background(), "tcp", "192.0.2.1:80"); err == nil {
		t.Error("dial 192.0.2.1 succeeded, want a refusal")
	}
}
