package server

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hlsd/hlsd/internal/library"
)

// DefaultUploadExpiry is hlsd serve's --upload-expiry: how long an
// unfinished tus upload is kept after its last write.
const DefaultUploadExpiry = 24 * time.Hour

// tusUploads keeps the uploads folder: each upload expires on its own,
// Expiry after its last write (tus expiration extension, which tusd v2.9.1
// lacks: hlsd adds Upload-Expires and the sweep around it). Uploads with a
// request in progress are never removed.
type tusUploads struct {
	dir    string
	expiry time.Duration
	logger *slog.Logger

	mu     sync.Mutex
	active map[string]int // upload id → requests in progress

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// tusFileSuffixes end the names of an upload's files besides its data
// file ({id}): tusd's info file and hlsd's record of a finished upload.
var tusFileSuffixes = []string{".info", tusDoneSuffix}

// newTusUploads removes the uploads that expired while hlsd was stopped,
// then sweeps every interval until close.
func newTusUploads(dir string, expiry, interval time.Duration, logger *slog.Logger) *tusUploads {
	u := &tusUploads{dir: dir, expiry: expiry, logger: logger, active: map[string]int{},
		stop: make(chan struct{}), done: make(chan struct{})}
	u.sweep()
	go func() {
		defer close(u.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-u.stop:
				return
			case <-t.C:
				u.sweep()
			}
		}
	}()
	return u
}

// sweepInterval is how often uploads are checked for expiry: a tenth of
// the expiry, between a second and an hour.
func sweepInterval(expiry time.Duration) time.Duration {
	return min(max(expiry/10, time.Second), time.Hour)
}

func (u *tusUploads) close() {
	u.closeOnce.Do(func() { close(u.stop) })
	<-u.done
}

// begin marks a request on upload id as in progress (end unmarks it). An
// upload that has expired but not been swept yet is removed first, so that
// the request finds it gone (404), as the sweep would have left it.
func (u *tusUploads) begin(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.active[id] == 0 {
		if last, ok := u.lastWrite(id); ok && time.Since(last) >= u.expiry {
			u.remove(id)
		}
	}
	u.active[id]++
}

func (u *tusUploads) end(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.active[id]--; u.active[id] <= 0 {
		delete(u.active, id)
	}
}

// sweep removes every upload (and finished-upload record) whose last write
// is older than the expiry and that no request is using.
func (u *tusUploads) sweep() {
	u.mu.Lock()
	defer u.mu.Unlock()
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			u.logger.Warn("read uploads folder", "dir", u.dir, "err", err)
		}
		return
	}
	ids := map[string]bool{}
	for _, e := range entries {
		id := e.Name()
		for _, s := range tusFileSuffixes {
			id = strings.TrimSuffix(id, s)
		}
		if validUploadID(id) {
			ids[id] = true
		}
	}
	for id := range ids {
		if u.active[id] > 0 {
			continue
		}
		if last, ok := u.lastWrite(id); ok && time.Since(last) >= u.expiry {
			u.remove(id)
			u.logger.Info("tus upload expired", "upload", id, "last_write", last.UTC().Format(time.RFC3339))
		}
	}
}

// lastWrite is the latest modification time of the upload's files.
func (u *tusUploads) lastWrite(id string) (time.Time, bool) {
	var last time.Time
	found := false
	for _, s := range append([]string{""}, tusFileSuffixes...) {
		info, err := os.Lstat(filepath.Join(u.dir, id+s))
		if err != nil {
			continue
		}
		found = true
		if t := info.ModTime(); t.After(last) {
			last = t
		}
	}
	return last, found
}

func (u *tusUploads) remove(id string) {
	for _, s := range append([]string{""}, tusFileSuffixes...) {
		if err := os.Remove(filepath.Join(u.dir, id+s)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			u.logger.Warn("remove expired upload", "upload", id, "err", err)
		}
	}
}

// expires is the Upload-Expires value of upload id ("" when it is unknown).
func (u *tusUploads) expires(id string) string {
	last, ok := u.lastWrite(id)
	if !ok {
		return ""
	}
	return last.Add(u.expiry).UTC().Format(http.TimeFormat)
}

// tusMethod is the method tusd acts on (X-HTTP-Method-Override included).
func tusMethod(r *http.Request) string {
	if m := r.Header.Get("X-HTTP-Method-Override"); m != "" {
		return m
	}
	return r.Method
}

// tusWithinLimit holds every tus request that carries bytes (a PATCH, or a
// POST with creation-with-upload) to --max-upload: the bytes already
// received (Upload-Offset, which tusd checks against the upload) plus this
// body may not exceed it, whether the upload's length is known or deferred
// (tusd v2.9.1 checks deferred-length PATCHes against their Content-Length
// only). A body announced too large gets 413 at once; one that grows past
// the limit while being read (chunked) is cut there, and tusd answers 413.
func (s *Server) tusWithinLimit(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.MaxUpload <= 0 || r.Body == nil || r.Body == http.NoBody {
		return true
	}
	var offset int64
	switch tusMethod(r) {
	case http.MethodPatch:
		o, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
		if err != nil || o < 0 {
			return true // tusd refuses it before reading the body
		}
		offset = o
	case http.MethodPost:
	default:
		return true
	}
	left := s.cfg.MaxUpload - offset
	if left < 0 || r.ContentLength > left {
		s.apiError(w, r, library.TooLarge(s.cfg.MaxUpload))
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, left)
	return true
}

// tusResponse adds the expiration extension to tusd's responses: the
// extension in Tus-Extension, and Upload-Expires on the responses of
// creating, patching and checking an unfinished upload.
type tusResponse struct {
	http.ResponseWriter
	r       *http.Request
	uploads *tusUploads
	wrote   bool
}

func (w *tusResponse) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.annotate(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tusResponse) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets tusd's http.ResponseController reach the connection (read
// and write deadlines).
func (w *tusResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *tusResponse) annotate(code int) {
	h := w.Header()
	if ext := h.Get("Tus-Extension"); ext != "" {
		h.Set("Tus-Extension", ext+",expiration")
	}
	if code < 200 || code > 299 || h.Get(HeaderMediaID) != "" {
		return // failed, or finished: nothing expires
	}
	var id string
	switch tusMethod(w.r) {
	case http.MethodPost:
		id = path.Base(h.Get("Location"))
	case http.MethodPatch:
		id = w.r.PathValue("upload")
	case http.MethodHead:
		id = w.r.PathValue("upload")
		if l := h.Get("Upload-Length"); l != "" && l == h.Get("Upload-Offset") {
			return
		}
	default:
		return
	}
	if validUploadID(id) && id != "" {
		if exp := w.uploads.expires(id); exp != "" {
			h.Set("Upload-Expires", exp)
		}
	}
}
