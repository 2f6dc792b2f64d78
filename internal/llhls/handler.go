package llhls

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Cache-Control values. A part, segment or init section never changes once
// it exists (names are never reused), so caches keep it; a playlist changes
// with every part, so a plain request is revalidated, while a blocking
// request's answer (already at or past the asked-for part) may be shared
// briefly by a CDN among the viewers asking the same.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cachePlaylist  = "no-cache"
	cacheBlocking  = "public, max-age=1"
)

// advancePartLimit is how far past the last part a _HLS_part may ask
// (RFC 8216bis's Advance Part Limit) before the request is refused.
const advancePartLimit = 3

// reload is a playlist request's query: RFC 8216bis delivery directives.
type reload struct {
	msn  int64 // -1: none
	part int64 // -1: none
	skip bool
}

// errBadQuery is the one error parseReload returns; the handler answers 400.
var errBadQuery = errors.New("bad delivery directive")

// parseReload reads _HLS_msn, _HLS_part and _HLS_skip. A directive given
// twice, a value that is not a decimal number, or _HLS_part without
// _HLS_msn is an error; other parameters are ignored (a token, a cache
// buster).
func parseReload(q url.Values) (reload, error) {
	r := reload{msn: -1, part: -1}
	num := func(name string) (int64, error) {
		v, ok := q[name]
		if !ok {
			return -1, nil
		}
		if len(v) != 1 || v[0] == "" || len(v[0]) > 18 || strings.TrimLeft(v[0], "0123456789") != "" {
			return 0, errBadQuery
		}
		n, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil {
			return 0, errBadQuery
		}
		return n, nil
	}
	var err error
	if r.msn, err = num("_HLS_msn"); err != nil {
		return r, err
	}
	if r.part, err = num("_HLS_part"); err != nil {
		return r, err
	}
	if r.part >= 0 && r.msn < 0 {
		return r, errBadQuery
	}
	if v, ok := q["_HLS_skip"]; ok {
		if len(v) != 1 || (v[0] != "YES" && v[0] != "v2") {
			return r, errBadQuery
		}
		r.skip = true
	}
	return r, nil
}

// resource is what a request's last path element names.
type resource struct {
	kind int // one of resPlaylist...
	msn  uint64
	part int
	init int
}

const (
	resNone = iota
	resPlaylist
	resInit
	resSegment
	resPart
)

// parseName reads a resource name: index.m3u8, initN.mp4, segM.m4s or
// partM.I.m4s, with plain decimal numbers (no leading zeros, so each
// resource has one name, which caches key on).
func parseName(name string) resource {
	digits := func(s string) (uint64, bool) {
		if s == "" || len(s) > 18 || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseUint(s, 10, 63)
		return n, err == nil
	}
	switch {
	case name == PlaylistName:
		return resource{kind: resPlaylist}
	case strings.HasPrefix(name, "init") && strings.HasSuffix(name, ".mp4"):
		if n, ok := digits(name[4 : len(name)-4]); ok && n < 1<<31 {
			return resource{kind: resInit, init: int(n)}
		}
	case strings.HasPrefix(name, "seg") && strings.HasSuffix(name, ".m4s"):
		if n, ok := digits(name[3 : len(name)-4]); ok {
			return resource{kind: resSegment, msn: n}
		}
	case strings.HasPrefix(name, "part") && strings.HasSuffix(name, ".m4s"):
		a, b, ok := strings.Cut(name[4:len(name)-4], ".")
		if !ok {
			break
		}
		msn, ok1 := digits(a)
		i, ok2 := digits(b)
		if ok1 && ok2 && i < 1<<31 {
			return resource{kind: resPart, msn: msn, part: int(i)}
		}
	}
	return resource{}
}

// timeout is how long a blocking request waits: three target durations, as
// RFC 8216bis asks, after which it is answered 503.
func (m *Muxer) timeout() time.Duration {
	return 3 * time.Duration(m.targetDuration()) * time.Second
}

// ServeHTTP serves the media playlist (PlaylistName) and the init sections,
// segments and parts it names, by the last element of the request path, so
// the muxer can be mounted under any prefix. Playlist requests honour
// blocking reload (_HLS_msn, _HLS_part) and delta updates (_HLS_skip); a
// request for the part a preload hint names waits until it exists.
func (m *Muxer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	res := parseName(path.Base(r.URL.Path))
	switch res.kind {
	case resPlaylist:
		m.servePlaylist(w, r)
	case resInit:
		m.mu.Lock()
		b, ok := m.inits[res.init]
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		m.serveMedia(w, r, b)
	case resSegment:
		m.mu.Lock()
		s := m.segment(res.msn)
		var b []byte
		if s != nil && s.complete {
			b = s.data
		}
		m.mu.Unlock()
		if b == nil {
			http.NotFound(w, r)
			return
		}
		m.serveMedia(w, r, b)
	case resPart:
		m.servePart(w, r, res.msn, res.part)
	default:
		http.NotFound(w, r)
	}
}

// segment returns the segment msn in the window, or nil.
func (m *Muxer) segment(msn uint64) *segment {
	if len(m.segs) == 0 || msn < m.segs[0].msn {
		return nil
	}
	if i := msn - m.segs[0].msn; i < uint64(len(m.segs)) {
		return m.segs[i]
	}
	return nil
}

// lastComplete is the MSN of the last complete segment, -1 before the first.
func (m *Muxer) lastComplete() int64 {
	for i := len(m.segs) - 1; i >= 0; i-- {
		if m.segs[i].complete {
			return int64(m.segs[i].msn)
		}
	}
	return int64(m.nextMSN) - 1 - int64(len(m.segs))
}

// has reports whether the playlist already holds part p of segment msn (p
// -1: the whole segment), or something later, as blocking reload asks.
func (m *Muxer) has(msn int64, p int64) bool {
	if len(m.segs) == 0 {
		return msn < int64(m.nextMSN)
	}
	if msn < int64(m.segs[0].msn) {
		return true
	}
	s := m.segment(uint64(msn))
	if s == nil {
		return false
	}
	if p < 0 || s.complete && p >= int64(len(s.parts)) {
		if s.complete {
			return p < 0 || m.has(msn+1, 0)
		}
		return false
	}
	return p < int64(len(s.parts))
}

func (m *Muxer) servePlaylist(w http.ResponseWriter, r *http.Request) {
	q, err := parseReload(r.URL.Query())
	if err != nil {
		http.Error(w, "bad _HLS_ delivery directive", http.StatusBadRequest)
		return
	}
	reports := m.reports()
	m.mu.Lock()
	if q.msn >= 0 {
		// RFC 8216bis: more than two segments past the last one, or a part
		// further than the Advance Part Limit, cannot be waited for.
		last := m.lastComplete()
		tooFar := q.msn > last+2
		if s := m.segment(uint64(q.msn)); !tooFar && s != nil && !s.complete && q.part > int64(len(s.parts))-1+advancePartLimit {
			tooFar = true
		}
		if !tooFar && q.msn > last+1 && q.part > advancePartLimit {
			tooFar = true
		}
		if tooFar {
			m.mu.Unlock()
			http.Error(w, "_HLS_msn/_HLS_part too far past the live edge", http.StatusBadRequest)
			return
		}
	}
	msn, part := q.msn, q.part
	if msn < 0 && m.lastComplete() < 0 {
		// Nothing complete yet: players (hls.js) take a playlist without
		// a whole segment for an empty one, so wait for the first.
		msn, part = 0, -1
		if len(m.segs) > 0 {
			msn = int64(m.segs[0].msn)
		} else {
			msn = int64(m.nextMSN)
		}
	}
	ok := true
	if msn >= 0 {
		ok = m.waitFor(r.Context().Done(), m.timeout(), func() bool { return m.has(msn, part) })
	}
	if !ok {
		m.mu.Unlock()
		if r.Context().Err() == nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "the asked-for part did not come in time", http.StatusServiceUnavailable)
		}
		return
	}
	body := m.playlistLocked(q.skip, reports)
	m.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	if q.msn >= 0 {
		h.Set("Cache-Control", cacheBlocking)
	} else {
		h.Set("Cache-Control", cachePlaylist)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// servePart serves part i of segment msn, waiting for it when it is the next
// one to come (the preload hint) or a little past it.
func (m *Muxer) servePart(w http.ResponseWriter, r *http.Request, msn uint64, i int) {
	m.mu.Lock()
	find := func() (data []byte, possible bool) {
		s := m.segment(msn)
		if s == nil {
			// Not in the window: possible only as the next segment to open.
			return nil, msn == m.nextMSN && i <= advancePartLimit
		}
		if i < len(s.parts) {
			return s.parts[i].data, false
		}
		return nil, !s.complete && i <= len(s.parts)+advancePartLimit
	}
	data, possible := find()
	if data == nil && possible {
		m.waitFor(r.Context().Done(), m.timeout(), func() bool {
			d, p := find()
			return d != nil || !p
		})
		data, possible = find()
	}
	m.mu.Unlock()
	if data == nil {
		if possible && r.Context().Err() == nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "the part did not come in time", http.StatusServiceUnavailable)
			return
		}
		http.NotFound(w, r)
		return
	}
	m.serveMedia(w, r, data)
}

// serveMedia answers with an immutable fMP4 body.
func (m *Muxer) serveMedia(w http.ResponseWriter, r *http.Request, b []byte) {
	h := w.Header()
	m.mu.Lock()
	video := m.video
	m.mu.Unlock()
	if video {
		h.Set("Content-Type", "video/mp4")
	} else {
		h.Set("Content-Type", "audio/mp4")
	}
	h.Set("Cache-Control", cacheImmutable)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}
