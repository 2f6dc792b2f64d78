// Command bare is the floor hlsd's delivery is measured against
// (bench/overhead.sh, bench/viewers.sh): a bare net/http handler serving a
// folder at /static/ with the same bytes and the same response headers as
// `hlsd serve --static`, and nothing else: no metrics, no access control,
// no path checks beyond path.Clean, no middleware.
//
// Playlists (.m3u8) are read into memory at start, with every header value
// prepared, and written with one Write; any other file is opened per
// request and sent with http.ServeContent (sendfile). What hlsd does per
// request beyond this is its own overhead.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Header values hlsd sends for a finished playlist and a segment.
var (
	hdrStar      = []string{"*"}
	hdrExpose    = []string{"Content-Length, Content-Range"}
	hdrNosniff   = []string{"nosniff"}
	hdrVaryAE    = []string{"Accept-Encoding"}
	hdrBytes     = []string{"bytes"}
	hdrPlaylist  = []string{"application/vnd.apple.mpegurl"}
	hdrImmutable = []string{"public, max-age=31536000, immutable"}
	hdrVODCache  = []string{"public, max-age=60"}
	hdrNoCache   = []string{"no-cache"}
	types        = map[string][]string{
		".m4s": {"video/mp4"}, ".mp4": {"video/mp4"}, ".ts": {"video/mp2t"}, ".aac": {"audio/aac"},
	}
)

type playlist struct {
	body                          []byte
	etag, length, modified, cache []string
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	dir := flag.String("dir", ".", "folder served at /static/")
	flag.Parse()
	raiseNoFile()

	playlists := map[string]*playlist{}
	err := filepath.WalkDir(*dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".m3u8") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(*dir, p)
		sum := sha256.Sum256(b)
		cache := hdrVODCache
		if strings.Contains(string(b), "#EXT-X-TARGETDURATION") && !strings.Contains(string(b), "#EXT-X-ENDLIST") {
			cache = hdrNoCache
		}
		playlists["/static/"+filepath.ToSlash(rel)] = &playlist{
			body:     b,
			etag:     []string{`"` + hex.EncodeToString(sum[:12]) + `"`},
			length:   []string{strconv.Itoa(len(b))},
			modified: []string{fi.ModTime().UTC().Format(http.TimeFormat)},
			cache:    cache,
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["Access-Control-Allow-Origin"] = hdrStar
		hd["Access-Control-Expose-Headers"] = hdrExpose
		hd["X-Content-Type-Options"] = hdrNosniff
		if p := playlists[r.URL.Path]; p != nil {
			hd["Cache-Control"] = p.cache
			hd["Vary"] = hdrVaryAE
			hd["Etag"] = p.etag
			hd["Last-Modified"] = p.modified
			hd["Content-Type"] = hdrPlaylist
			hd["Accept-Ranges"] = hdrBytes
			hd["Content-Length"] = p.length
			w.WriteHeader(http.StatusOK)
			w.Write(p.body)
			return
		}
		name, ok := strings.CutPrefix(path.Clean(r.URL.Path), "/static/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(*dir, filepath.FromSlash(name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		hd["Content-Type"] = types[path.Ext(name)]
		hd["Cache-Control"] = hdrImmutable
		hd["Etag"] = []string{`"` + strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "-" + strconv.FormatInt(fi.Size(), 36) + `"`}
		http.ServeContent(w, r, "", fi.ModTime(), f)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The timeouts of hlsd serve, so idle connections are held alike.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// raiseNoFile lifts the soft open-file limit to the hard one, as hlsd
// does, so both can hold as many viewers.
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
