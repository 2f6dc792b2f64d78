package llhls

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// hasPart reports whether m has published part of segment msn or later.
func hasPart(m *Muxer, msn uint64, part int) bool {
	lm, lp, ok := m.LastPart()
	return ok && (lm > msn || lm == msn && lp >= part)
}

// BenchmarkBlockedViewers measures waking 1,000 viewers holding blocking
// playlist reloads over real HTTP on 127.0.0.1: each iteration parks them
// all on the next part, publishes it, and waits until every one has its
// playlist. Run: go test -run XXX -bench BlockedViewers ./internal/llhls
func BenchmarkBlockedViewers(b *testing.B) {
	const viewers = 1000
	c := loadClip(b, 10)
	m := New(Config{})
	m.Start(c.tracks(true, false))
	ev := c.events(true, false)
	srv := httptest.NewServer(m)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: viewers, MaxConnsPerHost: viewers}}
	i := 0
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		m.mu.Lock()
		msn, part := m.nextMSN, 0
		if m.open != nil {
			msn, part = m.open.msn, len(m.open.parts)
		}
		m.mu.Unlock()
		url := srv.URL + "/index.m3u8?_HLS_msn=" + strconv.FormatUint(msn, 10) + "&_HLS_part=" + strconv.Itoa(part)
		var wg sync.WaitGroup
		for v := 0; v < viewers; v++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		waitWaiting(m, viewers)
		// Publish until the part exists (6 frames at 30 fps, one held back).
		for !hasPart(m, msn, part) {
			e := ev[i%len(ev)]
			loop := time.Duration(i/len(ev)) * 10 * time.Second // the clip again, later
			i++
			m.WriteVideo(e.video.dts+loop, e.video.dts+loop, e.video.key, e.video.nalus)
		}
		wg.Wait()
	}
}
