package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/library"
)

// maxNameLen bounds a served path; longer ones are refused before any I/O.
const maxNameLen = 1024

// tree is one served folder, opened once as an os.Root: every open and stat
// resolves inside it, so "..", absolute paths and symlinks pointing outside
// cannot reach anything else even if a name slipped past validation.
type tree struct {
	label     string // "media" or "static", for logs
	root      *os.Root
	playlists *playlistCache
}

func openTree(dir, label string, playlistMaxAge, recheck time.Duration) (*tree, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s dir: %w", label, err)
	}
	return &tree{label: label, root: root, playlists: newPlaylistCache(playlistMaxAge, recheck)}, nil
}

func (t *tree) close() { t.root.Close() }

// kind is what a request is for; it labels metrics and picks caching rules.
type kind uint8

const (
	kindOther kind = iota
	kindPlaylist
	kindSegment
	kindInit
	kindPoster
	kindKey
	kindAPI
	kindUI
	numKinds
)

var kindNames = [numKinds]string{"other", "playlist", "segment", "init", "poster", "key", "api", "ui"}

func (k kind) String() string { return kindNames[k] }

// fileType is everything delivery needs to know about a served file
// extension, computed once: header values are ready to assign.
type fileType struct {
	ext         string
	kind        kind
	contentType []string
	cache       []string // Cache-Control; playlists decide by content instead
}

// fileTypes lists the only extensions delivered; anything else is 404, so a
// stray file in a served folder (a source, a log, a database) is never sent.
//
// fMP4 segments and init segments are always video/mp4, also for
// audio-only renditions: telling audio from video would mean reading the
// file, and players (hls.js, AVPlayer) decide from the playlist's CODECS,
// not from this header.
var fileTypes = func() []fileType {
	exts := []struct {
		ext  string
		kind kind
	}{
		{".m3u8", kindPlaylist},
		{".m4s", kindSegment},
		{".ts", kindSegment},
		{".aac", kindSegment},
		{".mp3", kindSegment},
		{".vtt", kindSegment},
		{".m4a", kindSegment},
		{".m4v", kindSegment},
		{".mp4", kindInit},
		{".jpg", kindPoster},
		{".jpeg", kindPoster},
		{".png", kindPoster},
		{".webp", kindPoster},
		{".key", kindKey},
	}
	var types []fileType
	for _, e := range exts {
		ft := fileType{ext: e.ext, kind: e.kind, contentType: []string{hls.ContentType(e.ext)}}
		switch e.kind {
		case kindSegment, kindInit, kindPoster:
			// Published segments never change: cache them for good.
			ft.cache = hdrImmutable
		case kindKey:
			// Keys may be rotated and should not sit in shared caches.
			ft.cache = []string{"private, no-cache"}
		}
		types = append(types, ft)
	}
	return types
}()

// typeOf returns the file type of name by its extension (ASCII
// case-insensitive), or nil when the extension is not delivered.
func typeOf(name string) *fileType {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return nil
	}
	ext := name[dot:]
	for i := range fileTypes {
		if strings.EqualFold(ext, fileTypes[i].ext) {
			return &fileTypes[i]
		}
	}
	return nil
}

// validID reports whether id is a media id: [A-Za-z0-9_-]{1,64}.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validName reports whether name is a relative slash-separated path whose
// every element is non-empty and not hidden (no leading dot, which also
// excludes "." and ".."), without backslashes, colons or control bytes.
// os.Root is the real guarantee; this keeps obviously hostile names from
// reaching the file system at all and hides dotfiles.
func validName(name string) bool {
	if len(name) == 0 || len(name) > maxNameLen || name[0] == '/' {
		return false
	}
	start := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '/':
			if start { // empty element: "a//b" or trailing "/"
				return false
			}
			start = true
			continue
		case start && c == '.':
			return false
		case c < 0x20 || c == 0x7f || c == '\\' || c == ':':
			return false
		}
		start = false
	}
	return !start
}

// rejectBadPaths answers 400 to request paths that no file could have:
// dot segments (also as %2e), empty segments, encoded slashes or
// backslashes (%2f, %5c), backslashes and control bytes (%00). Checking
// before the mux matters: ServeMux would otherwise answer "/a/../b" with a
// redirect to the cleaned path instead of refusing it.
func rejectBadPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if badPath(r.URL.Path, r.URL.RawPath) {
			if strings.HasPrefix(r.URL.Path, APIPrefix+"/") { // API errors are JSON
				badAPIPath(w)
				return
			}
			http.Error(w, "Bad Request", http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func badPath(path, rawPath string) bool {
	if len(path) == 0 || path[0] != '/' {
		return true // "OPTIONS *" and the like
	}
	if rawPath != "" {
		// RawPath is only set when the escaping differs from the default:
		// encoded slashes and backslashes hide path structure.
		for i := 0; i+2 < len(rawPath); i++ {
			if rawPath[i] == '%' && (rawPath[i+1] == '2' && (rawPath[i+2] == 'f' || rawPath[i+2] == 'F') ||
				rawPath[i+1] == '5' && (rawPath[i+2] == 'c' || rawPath[i+2] == 'C')) {
				return true
			}
		}
	}
	segStart := 1
	for i := 1; i <= len(path); i++ {
		if i < len(path) {
			c := path[i]
			if c < 0x20 || c == 0x7f || c == '\\' {
				return true
			}
			if c != '/' {
				continue
			}
		}
		seg := path[segStart:i]
		if seg == "." || seg == ".." || (seg == "" && i < len(path)) {
			return true
		}
		segStart = i + 1
	}
	return false
}

// URL prefixes of delivery.
const (
	mediaPrefix  = "/hls/"
	staticPrefix = "/static/"
)

// handleMedia serves a file of a library presentation:
// GET /hls/{id}/{path...} from DataDir/media/{id}/{path}.
func (s *Server) handleMedia(w http.ResponseWriter, r *http.Request) {
	s.cors.simple(w.Header(), r)
	// r.URL.Path is unescaped, like PathValue; encoded slashes were
	// refused by rejectBadPaths, so "/" here is a real separator.
	rel := strings.TrimPrefix(r.URL.Path, mediaPrefix)
	id, name, _ := strings.Cut(rel, "/")
	if !validID(id) || !validName(name) {
		notFound(w)
		return
	}
	a, ok := s.checkPublic(w, r, id) // signed media: 403 (signed.go)
	if !ok {
		return
	}
	if name == keyName {
		s.serveKey(w, r, id, a)
		return
	}
	if rest, ok := strings.CutPrefix(name, library.SourcePrefix); ok {
		s.serveSource(w, r, id, rest, a)
		return
	}
	s.deliver(w, r, s.media, rel) // id+"/"+name, without building it
}

// handleStatic serves GET /static/{path...} from the --static folder.
func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	s.cors.simple(w.Header(), r)
	name := strings.TrimPrefix(r.URL.Path, staticPrefix)
	if !validName(name) {
		notFound(w)
		return
	}
	s.deliver(w, r, s.static, name)
}

// deliver sends the file name of t with the headers of its type. name has
// been validated.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, t *tree, name string) {
	ft := typeOf(name)
	if ft == nil {
		notFound(w)
		return
	}
	if ft.kind == kindPlaylist {
		s.servePlaylist(w, r, t, name)
		return
	}
	f, err := openServed(t.root, name)
	if err != nil {
		s.openFailed(w, t, name, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		notFound(w) // directories, devices, sockets: never listed or read
		return
	}
	h := w.Header()
	h["Content-Type"] = ft.contentType
	h["Cache-Control"] = ft.cache
	h["X-Content-Type-Options"] = hdrNosniff
	h["Etag"] = []string{statETag(fi)}
	// ServeContent on the bare *os.File: Range (206, 416), conditional
	// requests (304, 412), HEAD, Last-Modified, and the body through the
	// connection's ReadFrom, i.e. sendfile.
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// openFailed answers a failed open with 404 whatever the reason (missing,
// escaping the root, permission), so responses reveal nothing about what
// lies outside; unexpected errors are logged.
func (s *Server) openFailed(w http.ResponseWriter, t *tree, name string, err error) {
	if !errors.Is(err, fs.ErrNotExist) {
		s.logger.Debug("open failed", "tree", t.label, "name", name, "err", err)
	}
	notFound(w)
}

func notFound(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = hdrPlainText
	h["X-Content-Type-Options"] = hdrNosniff
	w.WriteHeader(http.StatusNotFound)
	w.Write(notFoundBody)
}

var (
	notFoundBody = []byte("404 page not found\n")
	hdrPlainText = []string{"text/plain; charset=utf-8"}
)

// statETag is a strong validator from the file's size and modification
// time: published files are written once and renamed into place, so both
// change whenever the content does.
func statETag(fi os.FileInfo) string {
	var b [48]byte
	buf := append(b[:0], '"')
	buf = strconv.AppendInt(buf, fi.ModTime().UnixNano(), 36)
	buf = append(buf, '-')
	buf = strconv.AppendInt(buf, fi.Size(), 36)
	buf = append(buf, '"')
	return string(buf)
}

// delivery sends the requests of players straight to the delivery
// handlers, around the rest of the chain: a GET or HEAD without a body for
// /hls/{id}/... (not a signed URL) or /static/... is never rate limited,
// has no body to time, and would reach the same handler through the mux,
// whose matching costs three allocations a request. Everything else goes
// to next.
func (s *Server) delivery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.Body == nil || r.Body == http.NoBody) {
			p := r.URL.Path
			if strings.HasPrefix(p, mediaPrefix) && !strings.HasPrefix(p, SignedPrefix) {
				s.handleMedia(w, r)
				return
			}
			if s.static != nil && strings.HasPrefix(p, staticPrefix) {
				s.handleStaticTree(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
