package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/s3"
	"github.com/hlsd/hlsd/internal/s3test"
	"github.com/hlsd/hlsd/internal/storecache"
	"github.com/hlsd/hlsd/internal/storetest"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// The presentation read: segments of a 720p rendition (about 1 MiB each,
// 4 s at 2 Mb/s) and its media playlist.
const (
	segments    = 20
	segmentSize = 1 << 20
	playlist    = "media/bench/720p/index.m3u8"
)

func segmentKey(i int) string { return fmt.Sprintf("media/bench/720p/seg_%05d.m4s", i) }

func fill(b *testing.B, s hlsd.Store) {
	b.Helper()
	var pl bytes.Buffer
	pl.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n")
	for i := range segments {
		storetest.Put(b, s, segmentKey(i), bytes.Repeat([]byte{byte(i)}, segmentSize))
		fmt.Fprintf(&pl, "#EXTINF:4.000,\nseg_%05d.m4s\n", i)
	}
	pl.WriteString("#EXT-X-ENDLIST\n")
	storetest.Put(b, s, playlist, pl.Bytes())
}

func newS3(b *testing.B) *s3.Store { return s3test.NewStore(b, s3test.Shared(b), "") }

// stores returns the stores compared, filled with the same presentation.
func stores(b *testing.B) map[string]hlsd.Store {
	d, err := disk.NewStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	fill(b, d)
	origin := newS3(b)
	fill(b, origin)
	c, err := storecache.New(origin, storecache.Options{Dir: b.TempDir(), MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	// Warm the cache.
	for i := range segments {
		storetest.Read(b, c, segmentKey(i))
	}
	storetest.Read(b, c, playlist)
	return map[string]hlsd.Store{"disk": d, "s3-warm-cache": c, "s3-direct": origin}
}

// BenchmarkServe measures requests/s of segments and of the playlist, with
// 8 concurrent keep-alive clients per core.
func BenchmarkServe(b *testing.B) {
	all := stores(b)
	names := []string{"disk", "s3-warm-cache", "s3-direct"}
	if os.Getenv("BENCH_STORE_REVERSE") != "" {
		// bench/store.sh alternates the order between runs, so a load
		// change during a run does not always favour the same store.
		slices.Reverse(names)
	}
	for _, name := range names {
		srv := httptest.NewServer(storetest.Handler(all[name]))
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		client := &http.Client{Transport: tr}
		for _, kind := range []string{"segment", "playlist"} {
			b.Run(name+"/"+kind, func(b *testing.B) {
				var next atomic.Int64
				b.SetParallelism(8)
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						key := playlist
						if kind == "segment" {
							key = segmentKey(int(next.Add(1)) % segments)
						}
						resp, err := client.Get(srv.URL + "/" + key)
						if err != nil {
							b.Error(err)
							return
						}
						n, _ := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || n == 0 {
							b.Errorf("GET %s: %d, %d bytes", key, resp.StatusCode, n)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			})
		}
		tr.CloseIdleConnections()
		srv.Close()
	}
}

// BenchmarkColdFirstByte measures the time from opening a segment that is
// in no cache to its first byte: one S3 GET through a fresh cache (which
// then fills the cache with the whole segment), and through S3 directly.
func BenchmarkColdFirstByte(b *testing.B) {
	origin := newS3(b)
	fill(b, origin)
	for _, via := range []string{"cache", "direct"} {
		b.Run(via, func(b *testing.B) {
			var lat []time.Duration
			for i := 0; i < b.N; i++ {
				var s hlsd.Store = origin
				if via == "cache" {
					b.StopTimer()
					c, err := storecache.New(origin, storecache.Options{Dir: b.TempDir(), MaxBytes: 1 << 30})
					if err != nil {
						b.Fatal(err)
					}
					s = c
					b.StartTimer()
				}
				start := time.Now()
				obj, err := s.Open(context.Background(), segmentKey(i%segments))
				if err != nil {
					b.Fatal(err)
				}
				one := make([]byte, 1)
				if _, err := io.ReadFull(obj, one); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				obj.Close()
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
		})
	}
}
