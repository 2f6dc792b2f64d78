package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hlsd/hlsd/internal/hls"
)

// Playlist cache limits: playlists up to maxCachedPlaylist bytes are kept in
// memory, at most maxCacheBytes in all (raw plus gzipped) per served tree.
const (
	maxCachedPlaylist = 1 << 20
	maxCacheBytes     = 64 << 20
)

var (
	hdrPlaylist       = []string{hls.MIMEPlaylist}
	hdrVaryAE         = []string{"Accept-Encoding"}
	hdrVaryOriginAE   = []string{"Origin, Accept-Encoding"}
	hdrAcceptRanges   = []string{"bytes"}
	markerEndList     = []byte("#EXT-X-ENDLIST")
	markerMediaPlayst = []byte("#EXT-X-TARGETDURATION")
)

// playlist is one cached playlist with everything a response needs,
// computed when it was read: bodies, validators and header values.
type playlist struct {
	fi       os.FileInfo // what the file looked like when read
	raw, gz  []byte      // gz is nil when compression does not pay
	etag     []string    // strong, from a hash of raw
	etagGz   []string    // the gzip representation's own strong ETag
	length   []string    // Content-Length of raw
	lengthGz []string
	modified []string // Last-Modified
	cache    []string // Cache-Control, decided by content
	// finished is true for a media playlist with #EXT-X-ENDLIST: only
	// those are served for up to the cache's recheck time without a stat.
	finished bool
	checked  atomic.Int64 // monotonic nanoseconds of the last stat that matched
}

// playlistCache holds small playlists in memory, keyed by their name in the
// tree. An entry is valid while the file has the same identity, size and
// modification time, checked with one stat per request; a playlist that
// grows (EVENT, live) is re-read when it changes and served no-cache.
type playlistCache struct {
	mu      sync.RWMutex
	entries map[string]*playlist
	bytes   int
	vodCC   []string // Cache-Control of finished and multivariant playlists
	recheck int64    // Config.PlaylistRecheck in nanoseconds
	epoch   time.Time
}

func newPlaylistCache(maxAge, recheck time.Duration) *playlistCache {
	return &playlistCache{
		entries: map[string]*playlist{},
		vodCC:   []string{"public, max-age=" + strconv.Itoa(int(maxAge/time.Second))},
		recheck: int64(recheck),
		epoch:   time.Now(),
	}
}

// now is monotonic time since the cache was made, for checked.
func (c *playlistCache) now() int64 { return int64(time.Since(c.epoch)) }

// fresh returns the cached finished playlist name when its file was checked
// less than the recheck time ago, or nil: the caller must stat it.
func (c *playlistCache) fresh(name string) *playlist {
	if c.recheck <= 0 {
		return nil
	}
	c.mu.RLock()
	p := c.entries[name]
	c.mu.RUnlock()
	if p == nil || !p.finished || c.now()-p.checked.Load() >= c.recheck {
		return nil
	}
	return p
}

func (c *playlistCache) get(name string, fi os.FileInfo) *playlist {
	c.mu.RLock()
	p := c.entries[name]
	c.mu.RUnlock()
	if p == nil || p.fi.Size() != fi.Size() || !p.fi.ModTime().Equal(fi.ModTime()) || !os.SameFile(p.fi, fi) {
		return nil
	}
	p.checked.Store(c.now())
	return p
}

func (c *playlistCache) put(name string, p *playlist) {
	size := len(p.raw) + len(p.gz)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[name]; old != nil {
		c.bytes -= len(old.raw) + len(old.gz)
		delete(c.entries, name)
	}
	// Over budget: drop arbitrary entries (map order is random) until it
	// fits. Playlists are cheap to re-read; this only bounds memory.
	for k, e := range c.entries {
		if c.bytes+size <= maxCacheBytes {
			break
		}
		c.bytes -= len(e.raw) + len(e.gz)
		delete(c.entries, k)
	}
	c.entries[name] = p
	c.bytes += size
}

// load reads a playlist and prepares its cache entry.
func (c *playlistCache) load(f *os.File, fi os.FileInfo) (*playlist, error) {
	raw, err := io.ReadAll(io.LimitReader(f, maxCachedPlaylist+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) != fi.Size() {
		// The file changed between stat and read; serve what was read
		// but let the next request read it again.
		fi = changedFileInfo{fi}
	}
	sum := sha256.Sum256(raw)
	tag := hex.EncodeToString(sum[:12])
	p := &playlist{
		fi:       fi,
		raw:      raw,
		etag:     []string{`"` + tag + `"`},
		etagGz:   []string{`"` + tag + `-gz"`},
		length:   []string{strconv.Itoa(len(raw))},
		modified: []string{fi.ModTime().UTC().Format(http.TimeFormat)},
		cache:    c.vodCC,
	}
	// A media playlist (it has EXT-X-TARGETDURATION) without ENDLIST is
	// still growing (EVENT or live): clients must revalidate every time.
	// Watch-early EVENT playlists gain ENDLIST later, so this is decided
	// from the content each time the file changes, never from the name.
	if bytes.Contains(raw, markerMediaPlayst) {
		if bytes.Contains(raw, markerEndList) {
			p.finished = true
		} else {
			p.cache = hdrNoCache
		}
	}
	p.checked.Store(c.now())
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip playlist: %w", err)
	}
	if zb.Len() < len(raw) {
		p.gz = zb.Bytes()
		p.lengthGz = []string{strconv.Itoa(len(p.gz))}
	}
	return p, nil
}

// changedFileInfo never matches a later stat, forcing a re-read.
type changedFileInfo struct{ os.FileInfo }

func (changedFileInfo) Size() int64 { return -1 }

// servePlaylist answers a playlist from the cache, reading it on a miss.
func (s *Server) servePlaylist(w http.ResponseWriter, r *http.Request, t *tree, name string) {
	if p := t.playlists.fresh(name); p != nil {
		writePlaylist(w, r, p)
		return
	}
	fi, err := t.root.Stat(name)
	if err != nil {
		s.openFailed(w, t, name, err)
		return
	}
	if !fi.Mode().IsRegular() {
		notFound(w)
		return
	}
	p := t.playlists.get(name, fi)
	if p == nil {
		f, err := openServed(t.root, name)
		if err != nil {
			s.openFailed(w, t, name, err)
			return
		}
		defer f.Close()
		ffi, err := f.Stat()
		if err != nil || !ffi.Mode().IsRegular() {
			notFound(w)
			return
		}
		if ffi.Size() > maxCachedPlaylist {
			// Too big to cache (hours of one-second segments): stream it
			// uncompressed and always revalidated.
			h := w.Header()
			h["Content-Type"] = hdrPlaylist
			h["Cache-Control"] = hdrNoCache
			h["Etag"] = []string{statETag(ffi)}
			http.ServeContent(w, r, "", ffi.ModTime(), f)
			return
		}
		if p, err = t.playlists.load(f, ffi); err != nil {
			s.logger.Error("read playlist", "tree", t.label, "name", name, "err", err)
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		t.playlists.put(name, p)
	}
	writePlaylist(w, r, p)
}

// writePlaylist writes a cached playlist: 304 when the client's copy is
// current, gzip when accepted, the raw bytes otherwise. Range requests
// (rare for playlists) go through http.ServeContent on the raw bytes.
func writePlaylist(w http.ResponseWriter, r *http.Request, p *playlist) {
	h := w.Header()
	h["Cache-Control"] = p.cache
	h["X-Content-Type-Options"] = hdrNosniff
	if _, ok := h["Vary"]; ok { // CORS with an origin list set Vary: Origin
		h["Vary"] = hdrVaryOriginAE
	} else {
		h["Vary"] = hdrVaryAE
	}
	if _, ok := r.Header["Range"]; ok {
		h["Content-Type"] = hdrPlaylist
		h["Etag"] = p.etag
		http.ServeContent(w, r, "", p.fi.ModTime(), bytes.NewReader(p.raw))
		return
	}

	useGz := p.gz != nil && acceptsGzip(r.Header["Accept-Encoding"])
	if useGz {
		h["Etag"] = p.etagGz
	} else {
		h["Etag"] = p.etag
	}
	h["Last-Modified"] = p.modified
	if notModified(r, p) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = hdrPlaylist
	h["Accept-Ranges"] = hdrAcceptRanges
	body := p.raw
	if useGz {
		h["Content-Encoding"] = hdrGzip
		h["Content-Length"] = p.lengthGz
		body = p.gz
	} else {
		h["Content-Length"] = p.length
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// notModified evaluates If-None-Match (either representation's ETag
// matches: the content is the same) or, without it, If-Modified-Since.
func notModified(r *http.Request, p *playlist) bool {
	if inm, ok := r.Header["If-None-Match"]; ok {
		for _, v := range inm {
			if etagListMatches(v, p.etag[0]) || etagListMatches(v, p.etagGz[0]) {
				return true
			}
		}
		return false
	}
	ims := r.Header["If-Modified-Since"]
	if len(ims) == 0 {
		return false
	}
	if ims[0] == p.modified[0] {
		return true
	}
	t, err := http.ParseTime(ims[0])
	if err != nil {
		return false
	}
	return !p.fi.ModTime().Truncate(time.Second).After(t)
}

// etagListMatches reports whether the If-None-Match list v contains etag
// or "*", comparing weakly (a W/ prefix is ignored) as RFC 9110 requires
// for If-None-Match.
func etagListMatches(v, etag string) bool {
	for v != "" {
		v = strings.TrimLeft(v, " \t,")
		if v == "" {
			break
		}
		if v[0] == '*' {
			return true
		}
		v = strings.TrimPrefix(v, "W/")
		if v == "" || v[0] != '"' {
			return false
		}
		end := strings.IndexByte(v[1:], '"')
		if end < 0 {
			return false
		}
		if v[:end+2] == etag {
			return true
		}
		v = v[end+2:]
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: a
// "gzip", "x-gzip" or "*" coding whose q-value is not zero.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for v != "" {
			var item string
			if i := strings.IndexByte(v, ','); i >= 0 {
				item, v = v[:i], v[i+1:]
			} else {
				item, v = v, ""
			}
			coding, params, _ := strings.Cut(item, ";")
			coding = strings.TrimSpace(coding)
			if !strings.EqualFold(coding, "gzip") && !strings.EqualFold(coding, "x-gzip") && coding != "*" {
				continue
			}
			return !zeroQ(params)
		}
	}
	return false
}

// zeroQ reports whether the parameters of an Accept-Encoding item set q=0.
func zeroQ(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		val = strings.TrimSpace(val)
		if val == "" || val[0] != '0' {
			return false
		}
		return strings.Trim(val[1:], ".0") == ""
	}
	return false
}
