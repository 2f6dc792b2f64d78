package llhls

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/browsertest"
)

// TestHLSJSPlaysLive publishes the 10 s clip in real time (each access unit
// written when its timestamp comes due, as a live encoder sends it) and has
// hls.js, in low-latency mode, in headless Chromium play the live stream
// through blocking reloads and parts, past 6 s, with no error.
func TestHLSJSPlaysLive(t *testing.T) {
	c := loadClip(t, 10)
	b := browsertest.New(t)
	m := New(Config{})
	if err := m.Start(c.tracks(true, true)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		m.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	done := make(chan struct{})
	stop := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		for _, e := range c.events(true, true) {
			select {
			case <-stop:
				return
			case <-time.After(time.Until(start.Add(e.ts))):
			}
			if e.video != nil {
				m.WriteVideo(e.video.dts, e.video.dts, e.video.key, e.video.nalus)
			} else {
				m.WriteAudio(e.ts, e.audio)
			}
		}
		m.End()
	}()
	defer func() { close(stop); <-done }()

	pb, err := b.Play(t, srv.URL+"/"+PlaylistName, browsertest.PlayOptions{MinTime: 6, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if pb.VideoWidth != 320 || pb.VideoHeight != 240 {
		t.Errorf("video %dx%d, want 320x240", pb.VideoWidth, pb.VideoHeight)
	}
	// A figure, not an assertion: how far behind the publisher's clock the
	// player was when it passed 6 s (the page is polled every 200 ms).
	t.Logf("played to %.2f s, %.2f s behind the publisher; warnings %v", pb.CurrentTime, time.Since(start).Seconds()-pb.CurrentTime, pb.Warnings)
}
