package storecache_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/s3test"
	"github.com/hlsd/hlsd/internal/storecache"
	"github.com/hlsd/hlsd/internal/storetest"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// counting is a real store whose Open calls are counted, to see which reads
// reach the origin.
type counting struct {
	hlsd.Store
	opens atomic.Int64
}

func (c *counting) Open(ctx context.Context, key string) (hlsd.Object, error) {
	c.opens.Add(1)
	return c.Store.Open(ctx, key)
}

func newS3(t *testing.T, srv *s3test.Server) *counting {
	t.Helper()
	return &counting{Store: s3test.NewStore(t, srv, "")}
}

func newCache(t *testing.T, origin hlsd.Store, opt storecache.Options) *storecache.Cache {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	if opt.MaxBytes == 0 {
		opt.MaxBytes = 64 << 20
	}
	c, err := storecache.New(origin, opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCacheOverS3Conformance(t *testing.T) {
	srv := s3test.Shared(t)
	storetest.Run(t, func(t *testing.T) hlsd.Store { return newCache(t, newS3(t, srv), storecache.Options{}) })
}

// TestCacheHit checks that a second read is served from the cache, from a
// file net/http can send with sendfile, with the origin's ETag.
func TestCacheHit(t *testing.T) {
	origin := newS3(t, s3test.Shared(t))
	c := newCache(t, origin, storecache.Options{})
	storetest.Put(t, c, "media/a/720p/seg_00001.m4s", []byte("segment one"))
	first, info := storetest.Read(t, c, "media/a/720p/seg_00001.m4s")
	second, info2 := storetest.Read(t, c, "media/a/720p/seg_00001.m4s")
	if string(first) != "segment one" || string(second) != "segment one" {
		t.Errorf("reads = %q, %q", first, second)
	}
	if n := origin.opens.Load(); n != 1 {
		t.Errorf("two reads opened the origin %d times, want 1", n)
	}
	want, err := origin.Stat(context.Background(), "media/a/720p/seg_00001.m4s")
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != want.ETag || info2.ETag != want.ETag || info2.Size != want.Size {
		t.Errorf("cached ETags %s, %s; origin %s", info.ETag, info2.ETag, want.ETag)
	}
	obj, err := c.Open(context.Background(), "media/a/720p/seg_00001.m4s")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if _, ok := obj.(syscall.Conn); !ok {
		t.Errorf("a cached object is a %T, not a syscall.Conn: no sendfile", obj)
	}
}

// TestCacheCoalescesMisses opens one uncached object from many goroutines
// at once: the origin is read once.
func TestCacheCoalescesMisses(t *testing.T) {
	origin := newS3(t, s3test.Shared(t))
	content := bytes.Repeat([]byte("0123456789"), 200_000)
	storetest.Put(t, origin, "media/a/seg", content)
	// Waiters wait for the fill however long it takes (a busy machine).
	c := newCache(t, origin, storecache.Options{WaitFill: time.Hour})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			<-start
			obj, err := c.Open(context.Background(), "media/a/seg")
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			defer obj.Close()
			if b, err := io.ReadAll(obj); err != nil || !bytes.Equal(b, content) {
				t.Errorf("read %d bytes, %v", len(b), err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := origin.opens.Load(); n != 1 {
		t.Errorf("16 concurrent misses opened the origin %d times, want 1", n)
	}
}

// TestCacheEvictsLRU fills a cache of three objects' size with four: the
// least recently used goes, the bytes on disk stay within the limit.
func TestCacheEvictsLRU(t *testing.T) {
	origin := newS3(t, s3test.Shared(t))
	const size = 1000
	for _, k := range []string{"a", "b", "c", "d"} {
		storetest.Put(t, origin, "m/"+k, bytes.Repeat([]byte(k), size))
	}
	dir := t.TempDir()
	c := newCache(t, origin, storecache.Options{Dir: dir, MaxBytes: 3 * size, MaxObject: size})
	read := func(k string) { storetest.Read(t, c, "m/"+k) }
	read("a")
	read("b")
	read("c")
	read("a") // a is now more recent than b
	read("d") // evicts b
	before := origin.opens.Load()
	read("a")
	read("c")
	read("d")
	if n := origin.opens.Load() - before; n != 0 {
		t.Errorf("reading the three most recent objects opened the origin %d times, want 0", n)
	}
	read("b")
	if n := origin.opens.Load() - before; n != 1 {
		t.Errorf("reading the evicted object opened the origin %d times, want 1", n)
	}
	if used := diskUsage(t, dir); used > 3*size {
		t.Errorf("cache holds %d bytes of files, limit %d", used, 3*size)
	}
}

func diskUsage(t *testing.T, dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestCacheBypassesLargeObjects checks that an object over MaxObject is
// read from the origin every time and never fills the cache.
func TestCacheBypassesLargeObjects(t *testing.T) {
	origin := newS3(t, s3test.Shared(t))
	storetest.Put(t, origin, "sources/x/source.mp4", bytes.Repeat([]byte("s"), 5000))
	c := newCache(t, origin, storecache.Options{MaxBytes: 4000})
	for range 2 {
		if b, _ := storetest.Read(t, c, "sources/x/source.mp4"); len(b) != 5000 {
			t.Errorf("read %d bytes, want 5000", len(b))
		}
	}
	if c.Used() != 0 {
		t.Errorf("cache holds %d bytes after reading an object over its size", c.Used())
	}
}

// TestCacheRevalidatesPlaylists checks that a playlist changed on the
// origin behind the cache's back is seen after Revalidate, while segments
// are served from the cache.
func TestCacheRevalidatesPlaylists(t *testing.T) {
	origin := newS3(t, s3test.Shared(t))
	storetest.Put(t, origin, "media/a/index.m3u8", []byte("#EXTM3U\n#one\n"))
	c := newCache(t, origin, storecache.Options{Revalidate: 50 * time.Millisecond})
	if b, _ := storetest.Read(t, c, "media/a/index.m3u8"); string(b) != "#EXTM3U\n#one\n" {
		t.Fatalf("read %q", b)
	}
	storetest.Put(t, origin, "media/a/index.m3u8", []byte("#EXTM3U\n#one\n#two\n"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := storetest.Read(t, c, "media/a/index.m3u8")
		if string(b) == "#EXTM3U\n#one\n#two\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache still serves %q after the playlist changed", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Deleted behind the cache's back: gone after revalidation.
	if err := origin.Delete(context.Background(), "media/a/index.m3u8"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	_, err := c.Open(context.Background(), "media/a/index.m3u8")
	storetest.WantCode(t, err, hlsd.ENOTFOUND, "Open of a playlist deleted on the origin")
}

// TestCacheServesWhileOriginDown stops the S3 server mid-test: cached
// segments and playlists are still served, an uncached one is unavailable
// (503 at delivery, not 404 or 500), and it is served once S3 is back.
func TestCacheServesWhileOriginDown(t *testing.T) {
	srv := s3test.Start(t)
	origin := newS3(t, srv)
	c := newCache(t, origin, storecache.Options{Revalidate: time.Millisecond})
	for i := range 3 {
		storetest.Put(t, origin, fmt.Sprintf("media/a/seg_%d.m4s", i), []byte(fmt.Sprint("segment ", i)))
	}
	storetest.Put(t, origin, "media/a/index.m3u8", []byte("#EXTM3U\n"))
	storetest.Read(t, c, "media/a/seg_0.m4s")
	storetest.Read(t, c, "media/a/seg_1.m4s")
	storetest.Read(t, c, "media/a/index.m3u8")
	srv.Stop()
	for _, k := range []string{"media/a/seg_0.m4s", "media/a/seg_1.m4s", "media/a/index.m3u8"} {
		obj, err := c.Open(context.Background(), k)
		if err != nil {
			t.Errorf("Open cached %s while S3 is down: %v", k, err)
			continue
		}
		obj.Close()
	}
	_, err := c.Open(context.Background(), "media/a/seg_2.m4s")
	storetest.WantCode(t, err, hlsd.EUNAVAILABLE, "Open uncached while S3 is down")
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if b, _ := storetest.Read(t, c, "media/a/seg_2.m4s"); string(b) != "segment 2" {
		t.Errorf("after S3 came back read %q", b)
	}
}

// TestCacheInvalidatePrefix checks that a republish seen through a
// notification drops the cached segments of the old version.
func TestCacheInvalidatePrefix(t *testing.T) {
	origin := newS3(t, s3test.Shared(t))
	c := newCache(t, origin, storecache.Options{})
	storetest.Put(t, origin, "media/a/720p/seg_1.m4s", []byte("old"))
	storetest.Put(t, origin, "media/b/720p/seg_1.m4s", []byte("other"))
	storetest.Read(t, c, "media/a/720p/seg_1.m4s")
	storetest.Read(t, c, "media/b/720p/seg_1.m4s")
	storetest.Put(t, origin, "media/a/720p/seg_1.m4s", []byte("new")) // another node republished
	c.InvalidatePrefix("media/a/")
	if b, _ := storetest.Read(t, c, "media/a/720p/seg_1.m4s"); string(b) != "new" {
		t.Errorf("after InvalidatePrefix read %q, want the new segment", b)
	}
	before := origin.opens.Load()
	storetest.Read(t, c, "media/b/720p/seg_1.m4s")
	if origin.opens.Load() != before {
		t.Errorf("InvalidatePrefix(media/a/) dropped media/b too")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512M": 512 << 20, "20GiB": 20 << 30, "3gb": 3 << 30, "1T": 1 << 40, "64k": 64 << 10} {
		if got, err := storecache.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1G", "G", "12X", "1.5G", "99999999999T"} {
		if _, err := storecache.ParseSize(bad); hlsd.ErrorCode(err) != hlsd.EINVALID {
			t.Errorf("ParseSize(%q) = %v, want invalid", bad, err)
		}
	}
}

// FuzzParseSize checks that ParseSize never panics and accepts only
// positive sizes.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "512M", "20GiB", "9223372036854775807", "8T", "kb", " 1 G "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := storecache.ParseSize(s)
		if err == nil && n <= 0 {
			t.Errorf("ParseSize(%q) = %d", s, n)
		}
	})
}

// TestCacheRangeOnMiss checks that a range read of an uncached object gets
// the right bytes at once and still leaves the whole object in the cache.
func TestCacheRangeOnMiss(t *testing.T) {
	origin := newS3(t, s3test.Shared(t))
	content := bytes.Repeat([]byte("0123456789abcdef"), 50_000)
	storetest.Put(t, origin, "media/a/seg", content)
	c := newCache(t, origin, storecache.Options{})
	obj, err := c.Open(context.Background(), "media/a/seg")
	if err != nil {
		t.Fatal(err)
	}
	obj.Seek(100_003, io.SeekStart)
	got := make([]byte, 20)
	if _, err := io.ReadFull(obj, got); err != nil || !bytes.Equal(got, content[100_003:100_023]) {
		t.Errorf("range read on a miss = %q, %v; want %q", got, err, content[100_003:100_023])
	}
	obj.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Used() != int64(len(content)) {
		if time.Now().After(deadline) {
			t.Fatalf("the object was not cached after a range read: %d bytes cached", c.Used())
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := origin.opens.Load()
	if b, _ := storetest.Read(t, c, "media/a/seg"); !bytes.Equal(b, content) {
		t.Errorf("cached object differs from the origin's")
	}
	if origin.opens.Load() != before {
		t.Errorf("reading the cached object opened the origin")
	}
}
