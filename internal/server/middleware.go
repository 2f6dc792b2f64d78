package server

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// instrument wraps every request: in-flight gauge, then after the response
// the request counter, byte counter and latency histogram by kind, and one
// access-log line when enabled.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		k := classify(r.URL.Path)
		s.metrics.inFlight.Inc()
		rec := recorderPool.Get().(*recorder)
		rec.ResponseWriter, rec.status, rec.bytes = w, 0, 0
		defer func() {
			status, n := rec.status, rec.bytes
			if status == 0 {
				status = http.StatusOK // nothing written: net/http sends 200
			}
			rec.ResponseWriter = nil
			recorderPool.Put(rec)
			d := time.Since(start)
			s.metrics.inFlight.Dec()
			s.metrics.observe(k, status, n, d.Seconds())
			if s.cfg.AccessLog {
				s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Int64("bytes", n),
					slog.Duration("duration", d),
					slog.String("remote", r.RemoteAddr))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

// recorder notes the status and body size of a response. It keeps every
// fast path of the writer it wraps: ReadFrom goes to the connection's
// ReadFrom (sendfile for files), and Flush, Hijack and Unwrap (for
// http.ResponseController) pass through.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

var (
	_ io.ReaderFrom = (*recorder)(nil)
	_ http.Flusher  = (*recorder)(nil)
	_ http.Hijacker = (*recorder)(nil)
)

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom hands src to the underlying writer's ReadFrom, which for an
// *os.File body on a plain TCP connection is sendfile(2).
func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

// writerOnly hides ReadFrom so io.Copy cannot loop back into recorder.
type writerOnly struct{ io.Writer }

func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("server: connection cannot be hijacked")
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
