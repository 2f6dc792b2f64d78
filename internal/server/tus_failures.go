package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"syscall"

	"github.com/hlsd/hlsd"
)

// errTusNoSpace is a tus request whose bytes could not be stored because
// the disk is full.
var errTusNoSpace = hlsd.Errorf(hlsd.ENOSPACE, "The server is out of storage space; the upload was not stored. Resume it once space is freed.")

// tusFailures puts the API's error mapping (apiStatus) on the failures that
// tusd itself answers with 500 and its store's error text, which holds the
// server's paths: a full disk becomes 507 with code insufficient_storage,
// anything else the API's generic internal error. The detail goes to the log.
func (s *Server) tusFailures(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fw := &failureWriter{ResponseWriter: w}
		h.ServeHTTP(fw, r)
		if !fw.failed {
			return
		}
		detail := strings.TrimSpace(fw.body.String())
		var err error = fmt.Errorf("tus %s: %s", r.Method, detail)
		if strings.Contains(detail, syscall.ENOSPC.Error()) || strings.Contains(detail, syscall.EDQUOT.Error()) {
			s.logger.Error("tus upload refused: disk full", "method", r.Method, "path", r.URL.Path, "err", detail)
			err = fmt.Errorf("%w (%s)", errTusNoSpace, err)
		}
		w.Header().Del("Content-Length")
		s.apiError(w, r, err)
	})
}

// failureWriter holds back a 500 answer (status and body) for tusFailures
// and passes every other answer through.
type failureWriter struct {
	http.ResponseWriter
	wrote  bool
	failed bool
	body   bytes.Buffer
}

func (f *failureWriter) WriteHeader(code int) {
	if !f.wrote && code == http.StatusInternalServerError {
		f.wrote, f.failed = true, true
		return
	}
	f.wrote = true
	f.ResponseWriter.WriteHeader(code)
}

func (f *failureWriter) Write(p []byte) (int, error) {
	if f.failed {
		if f.body.Len() < 4096 {
			f.body.Write(p[:min(len(p), 4096-f.body.Len())])
		}
		return len(p), nil
	}
	f.wrote = true
	return f.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController (tusd sets deadlines with it) reach
// the connection.
func (f *failureWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }
