package mp4

import (
	"container/list"
	"io"
	"sync"
	"time"
)

// DefaultCacheBytes bounds a Cache made with a zero limit: about forty
// 10-minute 1080p sources' indexes.
const DefaultCacheBytes = 64 << 20

// Cache keeps parsed indexes, least recently used first out, within a
// bound on their estimated memory (Index.MemSize). Entries are keyed by
// path, size and modification time, so a replaced file is parsed anew.
// Concurrent requests for the same source wait for one parse. Failures
// are not cached: a file still being copied is retried on the next
// request.
type Cache struct {
	max  int64
	opts Options

	mu      sync.Mutex
	used    int64
	lru     *list.List // of *cacheEntry, most recent at the front
	entries map[cacheKey]*list.Element
	loading map[cacheKey]*load
}

type cacheKey struct {
	path string
	size int64
	mod  int64
}

type cacheEntry struct {
	key cacheKey
	x   *Index
}

type load struct {
	done chan struct{}
	x    *Index
	err  error
}

// NewCache returns a cache holding at most maxBytes of indexes (0 means
// DefaultCacheBytes), parsing sources with opts.
func NewCache(maxBytes int64, opts Options) *Cache {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	return &Cache{max: maxBytes, opts: opts, lru: list.New(), entries: map[cacheKey]*list.Element{}, loading: map[cacheKey]*load{}}
}

// Index returns the index of the source at path (size bytes, modified at
// mod), parsing it through r on a miss. name is used in error messages.
func (c *Cache) Index(path string, size int64, mod time.Time, r io.ReaderAt, name string) (*Index, error) {
	k := cacheKey{path, size, mod.UnixNano()}
	c.mu.Lock()
	if e, ok := c.entries[k]; ok {
		c.lru.MoveToFront(e)
		x := e.Value.(*cacheEntry).x
		c.mu.Unlock()
		return x, nil
	}
	if l, ok := c.loading[k]; ok {
		c.mu.Unlock()
		<-l.done
		return l.x, l.err
	}
	l := &load{done: make(chan struct{})}
	c.loading[k] = l
	c.mu.Unlock()

	l.x, l.err = Parse(r, size, name, c.opts)

	c.mu.Lock()
	delete(c.loading, k)
	if l.err == nil {
		c.add(k, l.x)
	}
	c.mu.Unlock()
	close(l.done)
	return l.x, l.err
}

// add inserts x and evicts the least recently used entries over the
// bound; an index larger than the whole bound is served but not kept.
func (c *Cache) add(k cacheKey, x *Index) {
	size := x.MemSize()
	if size > c.max {
		return
	}
	c.entries[k] = c.lru.PushFront(&cacheEntry{key: k, x: x})
	c.used += size
	for c.used > c.max {
		e := c.lru.Back()
		ce := e.Value.(*cacheEntry)
		c.lru.Remove(e)
		delete(c.entries, ce.key)
		c.used -= ce.x.MemSize()
	}
}

// Stats returns the number of cached indexes and their estimated bytes.
func (c *Cache) Stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.used
}

// DefaultSegmentCacheBytes bounds a SegmentCache made with a zero limit.
const DefaultSegmentCacheBytes = 64 << 20

// SegmentCache keeps generated media segments in memory, least recently
// used first out, within a bound on their bytes. It is for small segments
// (audio, low bit rates), whose samples are scattered between the video's
// in an interleaved file: generating one costs a read per sample, where
// serving it again from memory costs one write. Large segments are better
// streamed from the file (Parts) than cached.
type SegmentCache struct {
	max int64

	mu      sync.Mutex
	used    int64
	lru     *list.List // of *segEntry
	entries map[segKey]*list.Element
}

type segKey struct {
	x     *Index
	track string
	n     int
}

type segEntry struct {
	key segKey
	b   []byte
}

// NewSegmentCache returns a cache of at most maxBytes of segments (0 means
// DefaultSegmentCacheBytes; a negative bound disables it).
func NewSegmentCache(maxBytes int64) *SegmentCache {
	if maxBytes == 0 {
		maxBytes = DefaultSegmentCacheBytes
	}
	return &SegmentCache{max: maxBytes, lru: list.New(), entries: map[segKey]*list.Element{}}
}

// Segment returns segment n of track t of x, generating it from r on a
// miss. The returned bytes are shared and must not be modified.
func (c *SegmentCache) Segment(x *Index, t *Track, n int, r io.ReaderAt) ([]byte, error) {
	k := segKey{x, t.Name, n}
	c.mu.Lock()
	if e, ok := c.entries[k]; ok {
		c.lru.MoveToFront(e)
		b := e.Value.(*segEntry).b
		c.mu.Unlock()
		return b, nil
	}
	c.mu.Unlock()
	b, err := t.Segment(r, n)
	if err != nil || int64(len(b)) > c.max {
		return b, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return b, nil // generated concurrently
	}
	c.entries[k] = c.lru.PushFront(&segEntry{key: k, b: b})
	c.used += int64(len(b))
	for c.used > c.max {
		e := c.lru.Back()
		se := e.Value.(*segEntry)
		c.lru.Remove(e)
		delete(c.entries, se.key)
		c.used -= int64(len(se.b))
	}
	return b, nil
}
