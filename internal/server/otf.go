package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/mp4"
)

// otf packages the MP4 files of the --static folder as HLS on the fly, as
// nginx-vod-module's mapped mode does: /static/dir/movie.mp4/master.m3u8,
// .../video/index.m3u8, .../video/init.mp4, .../video/seg_00001.m4s. The
// parsed indexes are cached (bounded by memory, keyed by path, size and
// modification time); playlists and segments are generated per request.
type otf struct {
	indexes  *mp4.Cache
	segments *mp4.SegmentCache
}

// maxMemorySegment is the size up to which a generated segment is built
// in memory (and kept in the segment cache) rather than streamed from the
// source with sendfile: a small segment's samples are many short ranges
// between the video's, and one sendfile per range costs more than copying.
const maxMemorySegment = 1 << 20

func newOTF(cfg Config) *otf {
	return &otf{
		indexes:  mp4.NewCache(cfg.MP4IndexCacheBytes, mp4.Options{}),
		segments: mp4.NewSegmentCache(cfg.MP4SegmentCacheBytes),
	}
}

var (
	hdrAudioMP4 = []string{hls.MIMEAudioMP4}
	hdrVideoMP4 = []string{hls.MIMEMP4}
)

// splitMP4 splits a static path at its first element that names an MP4
// file (.mp4, .m4v, .mov, .m4a, any case) and has more after it:
// "a/movie.mp4/video/init.mp4" gives "a/movie.mp4" and "video/init.mp4".
func splitMP4(name string) (src, rest string, ok bool) {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		if i < len(name) {
			elem := name[start:i]
			if dot := strings.LastIndexByte(elem, '.'); dot >= 0 {
				switch strings.ToLower(elem[dot:]) {
				case ".mp4", ".m4v", ".mov", ".m4a":
					return name[:i], name[i+1:], true
				}
			}
		}
		start = i + 1
	}
	return "", "", false
}

// handleStaticTree serves GET /static/{path...}: a path through an MP4
// file is packaged on the fly, anything else is delivered as a file (the
// MP4 file itself included, at its own URL).
func (s *Server) handleStaticTree(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, staticPrefix)
	if s.otf != nil && validName(name) {
		if src, rest, ok := splitMP4(name); ok {
			s.cors.simple(w.Header(), r)
			s.serveOTF(w, r, s.static, name, src, rest)
			return
		}
	}
	s.handleStatic(w, r)
}

// serveOTF answers one file of the presentation of the MP4 file src of t;
// rest is the file's path inside the presentation. A folder whose name
// ends in .mp4 is no source: its files are delivered as they are.
func (s *Server) serveOTF(w http.ResponseWriter, r *http.Request, t *tree, name, src, rest string) {
	f, err := openServed(t.root, src)
	if err != nil {
		s.openFailed(w, t, src, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		notFound(w)
		return
	}
	if fi.IsDir() {
		s.deliver(w, r, t, name)
		return
	}
	if !fi.Mode().IsRegular() {
		notFound(w)
		return
	}
	x, err := s.otf.indexes.Index(t.label+"/"+src, fi.Size(), fi.ModTime(), f, path.Base(src))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if rest == mp4.MasterName {
		s.writeGenerated(w, r, x.Master(), fi, t)
		return
	}
	trackName, file, ok := strings.Cut(rest, "/")
	tr := x.Track(trackName)
	if !ok || tr == nil {
		notFound(w)
		return
	}
	switch {
	case file == mp4.PlaylistName:
		s.writeGenerated(w, r, tr.Playlist(), fi, t)
	case file == mp4.InitName:
		h := w.Header()
		setSegmentHeaders(h, tr, fi, "init")
		http.ServeContent(w, r, "", fi.ModTime(), bytes.NewReader(tr.Init()))
	default:
		n, ok := segmentNumber(file)
		if !ok {
			notFound(w)
			return
		}
		parts, err := tr.SegmentParts(n)
		if errors.Is(err, mp4.ErrNoSegment) {
			notFound(w)
			return
		} else if err != nil {
			s.apiError(w, r, err)
			return
		}
		h := w.Header()
		setSegmentHeaders(h, tr, fi, strconv.Itoa(n))
		if parts.Size <= maxMemorySegment {
			b, err := s.otf.segments.Segment(x, tr, n, f)
			if err != nil {
				s.apiError(w, r, err)
				return
			}
			http.ServeContent(w, r, "", fi.ModTime(), bytes.NewReader(b))
			return
		}
		s.writeSegment(w, r, f, fi, parts)
	}
}

// segmentNumber parses "seg_00001.m4s" (mp4.SegmentPattern) into 1.
func segmentNumber(file string) (int, bool) {
	digits, ok := strings.CutPrefix(file, "seg_")
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, ".m4s")
	if !ok || len(digits) != 5 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || fmt.Sprintf(mp4.SegmentPattern, n) != file {
		return 0, false
	}
	return n, true
}

// setSegmentHeaders sets the headers of an init or media segment: its
// type (audio/mp4 for audio tracks), immutable caching like every
// published segment, and a strong ETag from the source's identity.
func setSegmentHeaders(h http.Header, tr *mp4.Track, fi os.FileInfo, which string) {
	if tr.Video {
		h["Content-Type"] = hdrVideoMP4
	} else {
		h["Content-Type"] = hdrAudioMP4
	}
	h["Cache-Control"] = hdrImmutable
	h["X-Content-Type-Options"] = hdrNosniff
	tag := statETag(fi)
	h["Etag"] = []string{tag[:len(tag)-1] + "-" + tr.Name + "-" + which + `"`}
}

// writeSegment sends a generated media segment. A plain GET (no Range, no
// validators) writes the moof and then the sample ranges straight from the
// file, which the connection sends with sendfile; anything else goes
// through http.ServeContent (Range, 304, HEAD) on a reader over the parts.
func (s *Server) writeSegment(w http.ResponseWriter, r *http.Request, f *os.File, fi os.FileInfo, p *mp4.Parts) {
	hdr := r.Header
	if r.Method != http.MethodGet || hdr["Range"] != nil || hdr["If-None-Match"] != nil || hdr["If-Modified-Since"] != nil ||
		hdr["If-Match"] != nil || hdr["If-Unmodified-Since"] != nil {
		http.ServeContent(w, r, "", fi.ModTime(), p.Reader(f))
		return
	}
	h := w.Header()
	h["Accept-Ranges"] = hdrAcceptRanges
	h["Content-Length"] = []string{strconv.FormatInt(p.Size, 10)}
	h["Last-Modified"] = []string{fi.ModTime().UTC().Format(http.TimeFormat)}
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(p.Header); err != nil {
		return
	}
	for _, rg := range p.Ranges {
		if _, err := f.Seek(rg.Off, io.SeekStart); err != nil {
			s.logger.Warn("send segment", "err", err)
			return
		}
		if n, err := io.Copy(w, io.LimitReader(f, rg.Len)); err != nil || n != rg.Len {
			// The response is under way: the client sees a short body.
			if err == nil {
				s.logger.Warn("send segment: source shorter than its index", "file", fi.Name())
			}
			return
		}
	}
}

// writeGenerated sends a generated playlist with the delivery rules of
// cached playlists (ETag from its content, 304, VOD caching).
func (s *Server) writeGenerated(w http.ResponseWriter, r *http.Request, raw []byte, fi os.FileInfo, t *tree) {
	sum := sha256.Sum256(raw)
	tag := hex.EncodeToString(sum[:12])
	writePlaylist(w, r, &playlist{
		fi:       fi,
		raw:      raw,
		etag:     []string{`"` + tag + `"`},
		etagGz:   []string{`"` + tag + `-gz"`},
		length:   []string{strconv.Itoa(len(raw))},
		modified: []string{fi.ModTime().UTC().Format(http.TimeFormat)},
		cache:    t.playlists.vodCC,
	})
}
