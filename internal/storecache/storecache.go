// Package storecache is a read-through cache of an hlsd.Store on a delivery
// node's local disk (--cache-dir, --cache-size): objects read from a remote
// store (S3) are kept as files, least recently used evicted first when the
// bytes on disk pass the limit, and served from there with sendfile as the
// local-disk store does. Concurrent misses of one object make one request to
// the origin. When the origin is unavailable, cached objects are still
// served, so a delivery node rides out an S3 outage for what it has.
//
// Segments are immutable once published, so a cached one is served without
// asking the origin again. Playlists change while a presentation grows;
// a cached playlist older than Options.Revalidate is checked against the
// origin's ETag (and served as is when the origin is down). A presentation
// that is republished or deleted by another node must be dropped with
// InvalidatePrefix (the catalog's change notifications call it); writes
// through the cache itself invalidate what they replace.
package storecache

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
)

// Options configure a cache.
type Options struct {
	// Dir is the cache folder. Its "objects" subfolder is the cache's own:
	// emptied at start (the index lives in memory), written only by it, so
	// two processes must not share one Dir.
	Dir string
	// MaxBytes bounds the bytes of cached files.
	MaxBytes int64
	// MaxObject is the largest object kept: bigger ones (sources read by the
	// packager) are read from the origin directly. Zero means MaxBytes/8.
	MaxObject int64
	// Revalidate is how long a cached playlist is served before its ETag is
	// checked against the origin. Zero means one second.
	Revalidate time.Duration
	// FetchTimeout bounds one fill from the origin. Zero means five minutes.
	FetchTimeout time.Duration
	// WaitFill is how long a miss waits for the fill another reader of
	// the same object started (which goes at that reader's pace) before
	// reading the origin itself, as nginx's proxy_cache_lock_timeout. Zero
	// means five seconds.
	WaitFill time.Duration
	// Logger receives evictions that fail and origin outages bridged.
	Logger *slog.Logger
}

// Cache is an hlsd.Store that reads through to an origin store.
type Cache struct {
	origin hlsd.Store
	local  *disk.Store
	opt    Options

	mu       sync.Mutex
	lru      *list.List // of *entry, most recently used first
	entries  map[string]*list.Element
	used     int64
	fetching map[string]*fill
}

var _ hlsd.Store = (*Cache)(nil)

type entry struct {
	info    hlsd.ObjectInfo // as the origin told it
	checked time.Time       // when the origin last confirmed info
	// checking is true while one request asks the origin; the others
	// serve the cached copy meanwhile instead of asking too.
	checking bool
}

// fill is one fetch from the origin that concurrent misses wait for.
type fill struct {
	done   chan struct{}
	err    error
	bypass bool // too large to cache: each reader reads the origin
	stale  bool // invalidated while under way: not kept (c.mu)
}

// New returns a cache of origin in opt.Dir. The caller closes it.
func New(origin hlsd.Store, opt Options) (*Cache, error) {
	if opt.MaxBytes <= 0 {
		return nil, hlsd.Errorf(hlsd.EINVALID, "cache size must be positive")
	}
	if opt.MaxObject <= 0 || opt.MaxObject > opt.MaxBytes {
		opt.MaxObject = max(opt.MaxBytes/8, 1)
	}
	if opt.Revalidate <= 0 {
		opt.Revalidate = time.Second
	}
	if opt.FetchTimeout <= 0 {
		opt.FetchTimeout = 5 * time.Minute
	}
	if opt.WaitFill <= 0 {
		opt.WaitFill = 5 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(opt.Dir, "objects")
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("empty cache dir: %w", err)
	}
	local, err := disk.NewScratchStore(dir)
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	return &Cache{
		origin: origin, local: local, opt: opt,
		lru: list.New(), entries: map[string]*list.Element{}, fetching: map[string]*fill{},
	}, nil
}

// Close releases the cache folder; cached files stay until the next New.
func (c *Cache) Close() error { return c.local.Close() }

// Used returns the bytes of cached objects.
func (c *Cache) Used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// cachedFile is a file of the cache that reports the origin's ObjectInfo
// (its ETag above all). The embedded *disk.File keeps the *os.File methods,
// SyscallConn included, so net/http still uses sendfile.
type cachedFile struct {
	*disk.File
	info hlsd.ObjectInfo
}

func (f cachedFile) Info() hlsd.ObjectInfo { return f.info }

// Open serves key from the cache, filling it from the origin on a miss.
func (c *Cache) Open(ctx context.Context, key string) (hlsd.Object, error) {
	if err := hlsd.CheckKey(key); err != nil {
		return nil, err
	}
	for range 3 { // a file evicted between lookup and open is fetched again
		info, ok, err := c.lookup(ctx, key)
		if err != nil {
			return nil, err
		}
		if ok {
			if f, err := c.openLocal(ctx, key, info); err == nil {
				return f, nil
			}
			continue
		}
		obj, err := c.fetch(ctx, key)
		if obj != nil || err != nil {
			return obj, err
		}
	}
	return c.origin.Open(ctx, key)
}

func (c *Cache) openLocal(ctx context.Context, key string, info hlsd.ObjectInfo) (hlsd.Object, error) {
	obj, err := c.local.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return cachedFile{File: obj.(*disk.File), info: info}, nil
}

// lookup returns the cached info of key when the cache may serve it:
// present, and either immutable, recently confirmed, or confirmed now. An
// origin that cannot be asked leaves the cached copy in service.
func (c *Cache) lookup(ctx context.Context, key string) (hlsd.ObjectInfo, bool, error) {
	c.mu.Lock()
	el, ok := c.entries[key]
	if !ok {
		c.mu.Unlock()
		return hlsd.ObjectInfo{}, false, nil
	}
	c.lru.MoveToFront(el)
	e := el.Value.(*entry)
	info, fresh := e.info, !hlsd.IsPlaylist(key) || time.Since(e.checked) < c.opt.Revalidate || e.checking
	if !fresh {
		e.checking = true
	}
	c.mu.Unlock()
	if fresh {
		return info, true, nil
	}
	now, err := c.origin.Stat(ctx, key)
	c.mu.Lock()
	e.checking = false
	c.mu.Unlock()
	switch {
	case hlsd.ErrorCode(err) == hlsd.ENOTFOUND:
		c.Invalidate(key)
		return hlsd.ObjectInfo{}, false, err
	case err != nil:
		c.opt.Logger.Warn("origin unavailable: serving cached object", "key", key, "err", err)
		return info, true, nil
	case now.ETag != info.ETag:
		c.Invalidate(key)
		return hlsd.ObjectInfo{}, false, nil
	}
	c.mu.Lock()
	if el, ok := c.entries[key]; ok && el.Value.(*entry).info.ETag == info.ETag {
		el.Value.(*entry).checked = time.Now()
	}
	c.mu.Unlock()
	return info, true, nil
}

// fetch fills key from the origin, or waits for the fill already under way.
// The first asker reads the origin's stream itself while its bytes are
// copied into the cache (a teeObject), so a miss costs one GET and its
// first byte comes as soon as S3 sends it. Askers that come meanwhile wait
// for the fill and read the cached file. fetch returns (nil, nil) when the
// caller should look the cache up again.
func (c *Cache) fetch(ctx context.Context, key string) (hlsd.Object, error) {
	c.mu.Lock()
	if f, ok := c.fetching[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(c.opt.WaitFill):
			// The first asker reads slowly (the fill goes at its pace):
			// do not keep this one waiting.
			return c.origin.Open(ctx, key)
		}
		if f.bypass {
			return c.origin.Open(ctx, key)
		}
		return nil, f.err
	}
	f := &fill{done: make(chan struct{})}
	c.fetching[key] = f
	c.mu.Unlock()
	finish := func(err error) {
		c.mu.Lock()
		delete(c.fetching, key)
		c.mu.Unlock()
		f.err = err
		close(f.done)
	}

	// The fill goes on when the first asker goes away: others may wait.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opt.FetchTimeout)
	obj, err := c.origin.Open(fctx, key)
	if err != nil {
		cancel()
		finish(err)
		return nil, err
	}
	info := obj.Info()
	if info.Size > c.opt.MaxObject {
		// Too large to cache: this reader gets an origin object read with
		// its own context; the others open their own.
		obj.Close()
		cancel()
		f.bypass = true
		finish(nil)
		return c.origin.Open(ctx, key)
	}
	pr, pw := io.Pipe()
	go func() {
		defer cancel()
		err := c.local.Put(fctx, key, pr)
		pr.CloseWithError(err)
		if err == nil {
			c.add(key, info, f)
		} else if ctx.Err() == nil {
			c.opt.Logger.Warn("cache: fill failed", "key", key, "err", err)
		}
		finish(nil) // a failed fill is retried by the next asker
	}()
	return &teeObject{c: c, ctx: ctx, key: key, info: info, fill: f, obj: obj, pw: pw}, nil
}

// teeObject is the origin object of a miss, read by the first asker while
// what it reads is written to the cache. When the asker reads elsewhere
// (a range) or stops early, the rest of the stream is copied to the cache
// in the background and the asker goes on with an origin object of its own.
type teeObject struct {
	c    *Cache
	ctx  context.Context
	key  string
	info hlsd.ObjectInfo
	fill *fill

	mu      sync.Mutex     // Read, Seek, ReadAt and Close may come from several goroutines
	obj     hlsd.Object    // the origin stream, at offset written; nil once handed off
	pw      *io.PipeWriter // into the cache file; nil once handed off
	written int64
	pos     int64
	own     hlsd.Object // the asker's origin object after hand-off
}

func (t *teeObject) Info() hlsd.ObjectInfo { return t.info }

func (t *teeObject) Read(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pw != nil && t.pos == t.written {
		n, err := t.obj.Read(p)
		if n > 0 {
			if _, werr := t.pw.Write(p[:n]); werr != nil {
				t.pw = nil // the cache write failed; the asker is served anyway
			}
			t.written += int64(n)
			t.pos += int64(n)
		}
		if err == io.EOF && t.pw != nil {
			t.complete()
		} else if err != nil && err != io.EOF && t.pw != nil {
			t.pw.CloseWithError(err)
			t.pw = nil
		}
		return n, err
	}
	own, err := t.handOff()
	if err != nil {
		return 0, err
	}
	if _, err := own.Seek(t.pos, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := own.Read(p)
	t.pos += int64(n)
	return n, err
}

func (t *teeObject) Seek(offset int64, whence int) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pos, err := hlsd.SeekOffset(t.pos, t.info.Size, offset, whence)
	if err != nil {
		return 0, err
	}
	t.pos = pos
	return pos, nil
}

func (t *teeObject) ReadAt(p []byte, off int64) (int, error) {
	t.mu.Lock()
	own, err := t.handOff()
	t.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return own.ReadAt(p, off)
}

// Close hands the rest of the stream to the cache.
func (t *teeObject) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finishTee()
	if t.own != nil {
		return t.own.Close()
	}
	return nil
}

// handOff ends the tee and returns the asker's own origin object.
func (t *teeObject) handOff() (hlsd.Object, error) {
	t.finishTee()
	if t.own == nil {
		own, err := t.c.origin.Open(t.ctx, t.key)
		if err != nil {
			return nil, err
		}
		t.own = own
	}
	return t.own, nil
}

// complete ends a tee that copied the whole object and waits for the cache
// file to be in place (a rename away), so the next reader finds it.
func (t *teeObject) complete() {
	t.pw.Close()
	t.pw = nil
	t.obj.Close()
	t.obj = nil
	<-t.fill.done
}

// finishTee copies what the asker did not read into the cache in the
// background (the origin stream continues where the asker left it).
func (t *teeObject) finishTee() {
	if t.pw == nil {
		if t.obj != nil {
			t.obj.Close()
			t.obj = nil
		}
		return
	}
	if t.written == t.info.Size {
		t.complete()
		return
	}
	obj, pw := t.obj, t.pw
	t.obj, t.pw = nil, nil
	go func() {
		_, err := io.Copy(pw, obj)
		obj.Close()
		pw.CloseWithError(err)
	}()
}

// add records a cached file and evicts the least recently used ones beyond
// MaxBytes.
// A fill that an invalidation hit is dropped: it may hold the content the
// invalidation was about.
func (c *Cache) add(key string, info hlsd.ObjectInfo, f *fill) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.stale {
		if _, ok := c.entries[key]; !ok {
			c.local.Delete(context.Background(), key)
		}
		return
	}
	if el, ok := c.entries[key]; ok {
		c.used -= el.Value.(*entry).info.Size
		c.lru.Remove(el)
	}
	c.entries[key] = c.lru.PushFront(&entry{info: info, checked: time.Now()})
	c.used += info.Size
	for c.used > c.opt.MaxBytes && c.lru.Len() > 1 {
		c.removeLocked(c.lru.Back().Value.(*entry).info.Key)
	}
}

// removeLocked drops key from the index and the disk; c.mu is held, so no
// fill of the same key can land in between. Open files stay readable.
func (c *Cache) removeLocked(key string) {
	el, ok := c.entries[key]
	if !ok {
		return
	}
	c.lru.Remove(el)
	delete(c.entries, key)
	c.used -= el.Value.(*entry).info.Size
	if err := c.local.Delete(context.Background(), key); err != nil {
		c.opt.Logger.Warn("cache: remove file", "key", key, "err", err)
	}
}

// Invalidate drops key from the cache.
func (c *Cache) Invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.fetching[key]; ok {
		f.stale = true
	}
	c.removeLocked(key)
}

// InvalidatePrefix drops every cached object under prefix: what a node does
// when it learns that a presentation was republished or deleted elsewhere.
func (c *Cache) InvalidatePrefix(prefix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, f := range c.fetching {
		if strings.HasPrefix(key, prefix) {
			f.stale = true
		}
	}
	for key := range c.entries {
		if strings.HasPrefix(key, prefix) {
			c.removeLocked(key)
		}
	}
}

// Stat answers from the cache when Open would, else from the origin.
func (c *Cache) Stat(ctx context.Context, key string) (hlsd.ObjectInfo, error) {
	if err := hlsd.CheckKey(key); err != nil {
		return hlsd.ObjectInfo{}, err
	}
	info, ok, err := c.lookup(ctx, key)
	if err != nil || ok {
		return info, err
	}
	return c.origin.Stat(ctx, key)
}

// List asks the origin: listings are not cached.
func (c *Cache) List(ctx context.Context, prefix string) ([]hlsd.ObjectInfo, error) {
	return c.origin.List(ctx, prefix)
}

// Put writes to the origin and drops the cached copy.
func (c *Cache) Put(ctx context.Context, key string, r io.Reader) error {
	defer c.Invalidate(key)
	return c.origin.Put(ctx, key, r)
}

// PutTree publishes to the origin and drops the cached copies under prefix.
func (c *Cache) PutTree(ctx context.Context, prefix string, tree fs.FS) error {
	defer c.InvalidatePrefix(prefix)
	return c.origin.PutTree(ctx, prefix, tree)
}

// Delete deletes from the origin and the cache.
func (c *Cache) Delete(ctx context.Context, key string) error {
	defer c.Invalidate(key)
	return c.origin.Delete(ctx, key)
}

// DeletePrefix deletes from the origin and the cache.
func (c *Cache) DeletePrefix(ctx context.Context, prefix string) error {
	defer c.InvalidatePrefix(prefix)
	return c.origin.DeletePrefix(ctx, prefix)
}

// ParseSize reads a --cache-size value: a number of bytes with an optional
// unit, K, M, G or T (powers of 1024; "KB", "KiB" and lower case too), as
// in "512M" or "20GiB".
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, hlsd.Errorf(hlsd.EINVALID, "invalid cache size %q: want a positive size such as 512M or 20G", s)
	}
	return n * mult, nil
}
