package server

import (
	"net/http"

	"github.com/hlsd/hlsd/internal/mp4"
)

// sourceExts are the extensions of a library source that the source
// rendition packages on the fly, in the order they are looked for: the
// library stores the original as source.EXT and lists a source rendition
// only for these.
var sourceExts = [...]string{".mp4", ".m4v", ".mov"}

// serveSource answers GET /hls/{id}/source/{track}/{file} (and its signed
// form): the source rendition of a library media, packaged on the fly from
// DATA/sources/{id}/source.EXT by the code of the --static mode (otf.go).
// The caller has decided that r may play media id. Only the tracks'
// playlists, init and media segments are answered: the source folder is
// never delivered as files, and an encrypted media has no source rendition
// (its segments would go out in the clear).
func (s *Server) serveSource(w http.ResponseWriter, r *http.Request, id, rest string, a access) {
	if s.sources == nil || s.otf == nil || a.encrypted || rest == mp4.MasterName {
		notFound(w)
		return
	}
	for _, ext := range sourceExts {
		src := id + "/source" + ext
		fi, err := s.sources.root.Stat(src)
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			break
		}
		s.serveOTF(w, r, s.sources, src+"/"+rest, src, rest)
		return
	}
	notFound(w)
}
