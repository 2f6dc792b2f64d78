package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hlsd/hlsd/internal/server"
)

// discardWriter is a minimal ResponseWriter so that the benchmark measures
// the handler, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// ReadFrom stands for the connection's sendfile: the body is drained
// without the 32 KiB buffer io.Copy would allocate for a plain Writer.
func (w *discardWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

// BenchmarkPlaylist measures a cached playlist answered in-process
// (go test -bench Playlist -benchmem ./internal/server/).
func BenchmarkPlaylist(b *testing.B) {
	benchPath(b, "/hls/abc/360p/index.m3u8", map[string]string{"Accept-Encoding": "gzip"})
}

// BenchmarkSegmentHeaders measures a segment request up to the body copy.
func BenchmarkSegment(b *testing.B) {
	benchPath(b, "/hls/abc/360p/seg_00001.m4s", nil)
}

func benchPath(b *testing.B, path string, header map[string]string) {
	tr := newTree(b)
	// As hlsd serve runs it: finished playlists rechecked once a second.
	s, err := server.New(server.Config{DataDir: tr.data, StaticDir: tr.static, PlaylistRecheck: server.DefaultPlaylistRecheck})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}
