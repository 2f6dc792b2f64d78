package server_test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/server"
)

const (
	immutable = "public, max-age=31536000, immutable"
	vodCache  = "public, max-age=60"
)

// TestHeaderMatrix checks every delivered type and the protocol features
// players and CDNs rely on, under both /hls/{id}/ and /static/.
func TestHeaderMatrix(t *testing.T) {
	tr := newTree(t)
	_, base := newServer(t, tr, server.Config{})
	segment := tr.files["360p/seg_00001.m4s"]

	type tc struct {
		name    string
		method  string
		path    string // relative to the presentation root
		header  map[string]string
		status  int
		want    map[string]string // exact header values; "" means absent
		body    []byte            // nil: the file itself for 200, empty otherwise
		anyBody bool
	}
	tests := []tc{
		// Content types and caching, one per delivered extension.
		{name: "multivariant playlist", path: "master.m3u8", status: 200, want: map[string]string{
			"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": vodCache,
			"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Content-Length, Content-Range",
			"Vary": "Accept-Encoding", "Content-Encoding": "", "X-Content-Type-Options": "nosniff"}},
		{name: "VOD media playlist", path: "360p/index.m3u8", status: 200, want: map[string]string{
			"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": vodCache}},
		{name: "EVENT playlist is revalidated", path: "live/index.m3u8", status: 200, want: map[string]string{
			"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": "no-cache"}},
		{name: "upper-case extension", path: "UPPER/INDEX.M3U8", status: 200, want: map[string]string{
			"Content-Type": "application/vnd.apple.mpegurl"}},
		{name: "fMP4 segment", path: "360p/seg_00001.m4s", status: 200, want: map[string]string{
			"Content-Type": "video/mp4", "Cache-Control": immutable, "Accept-Ranges": "bytes",
			"Content-Length": "100000", "Access-Control-Allow-Origin": "*", "Vary": "", "X-Content-Type-Options": "nosniff"}},
		{name: "upper-case segment", path: "UPPER/SEG_00001.M4S", status: 200, want: map[string]string{"Content-Type": "video/mp4"}},
		{name: "init segment", path: "360p/init.mp4", status: 200, want: map[string]string{
			"Content-Type": "video/mp4", "Cache-Control": immutable}},
		{name: "TS segment", path: "ts/seg_00001.ts", status: 200, want: map[string]string{
			"Content-Type": "video/mp2t", "Cache-Control": immutable}},
		{name: "AAC segment", path: "audio/seg_00001.aac", status: 200, want: map[string]string{
			"Content-Type": "audio/aac", "Cache-Control": immutable}},
		{name: "MP3 segment", path: "audio/seg_00001.mp3", status: 200, want: map[string]string{
			"Content-Type": "audio/mpeg", "Cache-Control": immutable}},
		{name: "M4A file", path: "audio/track.m4a", status: 200, want: map[string]string{
			"Content-Type": "audio/mp4", "Cache-Control": immutable}},
		{name: "WebVTT subtitles", path: "subs/en.vtt", status: 200, want: map[string]string{
			"Content-Type": "text/vtt", "Cache-Control": immutable}},
		{name: "poster", path: "poster.jpg", status: 200, want: map[string]string{
			"Content-Type": "image/jpeg", "Cache-Control": immutable}},
		{name: "png", path: "thumbs/sprite.png", status: 200, want: map[string]string{"Content-Type": "image/png"}},
		{name: "webp", path: "thumbs/sprite.webp", status: 200, want: map[string]string{"Content-Type": "image/webp"}},
		{name: "AES key", path: "keys/k1.key", status: 200, want: map[string]string{
			"Content-Type": "application/octet-stream", "Cache-Control": "private, no-cache"}},
		{name: "symlink inside the root", path: "inside.m3u8", status: 200, body: []byte(multivariant)},
		{name: "space in name", path: "space%20name/index.m3u8", status: 200, body: []byte(vodPlaylist)},
		{name: "unicode name", path: "unicode-%C3%A9/index.m3u8", status: 200, body: []byte(vodPlaylist)},

		// Never delivered.
		{name: "unknown extension", path: "notes.txt", status: 404, anyBody: true},
		{name: "json", path: "source.json", status: 404, anyBody: true},
		{name: "backup file", path: "360p/seg_00002.m4s.bak", status: 404, anyBody: true},
		{name: "missing file", path: "360p/seg_09999.m4s", status: 404, anyBody: true},
		{name: "directory", path: "360p", status: 404, anyBody: true},
		{name: "directory with slash", path: "360p/", status: 404, anyBody: true},
		{name: "directory named like a playlist", path: "dir.m3u8", status: 404, anyBody: true},
		{name: "dotfile", path: ".hidden.m3u8", status: 404, anyBody: true},
		{name: "dot-dir", path: ".git/config.m3u8", status: 404, anyBody: true},
		{name: "symlink loop", path: "self-loop.ts", status: 404, anyBody: true},

		// HEAD.
		{name: "HEAD segment", method: "HEAD", path: "360p/seg_00001.m4s", status: 200, body: []byte{},
			want: map[string]string{"Content-Length": "100000", "Content-Type": "video/mp4"}},
		{name: "HEAD playlist", method: "HEAD", path: "360p/index.m3u8", status: 200, body: []byte{},
			want: map[string]string{"Content-Length": itoa(len(vodPlaylist)), "Content-Type": "application/vnd.apple.mpegurl"}},

		// Ranges.
		{name: "range", path: "360p/seg_00001.m4s", header: map[string]string{"Range": "bytes=100-199"}, status: 206,
			body: segment[100:200], want: map[string]string{"Content-Range": "bytes 100-199/100000", "Content-Length": "100",
				"Content-Type": "video/mp4", "Cache-Control": immutable}},
		{name: "suffix range", path: "360p/seg_00001.m4s", header: map[string]string{"Range": "bytes=-10"}, status: 206,
			body: segment[len(segment)-10:], want: map[string]string{"Content-Range": "bytes 99990-99999/100000"}},
		{name: "open range", path: "360p/seg_00001.m4s", header: map[string]string{"Range": "bytes=99000-"}, status: 206,
			body: segment[99000:], want: map[string]string{"Content-Range": "bytes 99000-99999/100000"}},
		{name: "unsatisfiable range", path: "360p/seg_00001.m4s", header: map[string]string{"Range": "bytes=200000-300000"},
			status: 416, anyBody: true, want: map[string]string{"Content-Range": "bytes */100000"}},
		{name: "range on a playlist", path: "360p/index.m3u8", header: map[string]string{"Range": "bytes=0-6"}, status: 206,
			body: []byte("#EXTM3U"), want: map[string]string{"Content-Range": "bytes 0-6/" + itoa(len(vodPlaylist)), "Content-Encoding": ""}},

		// Compression: playlists when accepted, segments never.
		{name: "gzip playlist", path: "360p/index.m3u8", header: map[string]string{"Accept-Encoding": "gzip, deflate, br"}, status: 200,
			anyBody: true, want: map[string]string{"Content-Encoding": "gzip", "Vary": "Accept-Encoding",
				"Content-Type": "application/vnd.apple.mpegurl"}},
		{name: "gzip refused with q=0", path: "360p/index.m3u8", header: map[string]string{"Accept-Encoding": "gzip;q=0, identity"}, status: 200,
			want: map[string]string{"Content-Encoding": ""}},
		{name: "segment never compressed", path: "360p/seg_00001.m4s", header: map[string]string{"Accept-Encoding": "gzip"}, status: 200,
			want: map[string]string{"Content-Encoding": "", "Content-Length": "100000"}},

		// Conditional requests on a date far in the future: the file is older.
		{name: "If-Modified-Since segment", path: "360p/seg_00001.m4s", status: 304, body: []byte{},
			header: map[string]string{"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}},
		{name: "If-Modified-Since playlist", path: "360p/index.m3u8", status: 304, body: []byte{},
			header: map[string]string{"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}},
		{name: "If-Modified-Since in the past", path: "360p/index.m3u8", status: 200,
			header: map[string]string{"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}},
		{name: "If-None-Match other tag", path: "360p/seg_00001.m4s", status: 200,
			header: map[string]string{"If-None-Match": `"nope"`}},
		{name: "If-None-Match star", path: "360p/index.m3u8", status: 304, body: []byte{},
			header: map[string]string{"If-None-Match": `*`}},

		// Methods.
		{name: "OPTIONS without preflight", method: "OPTIONS", path: "360p/index.m3u8", status: 204, body: []byte{},
			want: map[string]string{"Allow": "GET, HEAD, OPTIONS", "Access-Control-Allow-Methods": ""}},
		{name: "preflight", method: "OPTIONS", path: "360p/seg_00001.m4s", status: 204, body: []byte{},
			header: map[string]string{"Origin": "https://player.example", "Access-Control-Request-Method": "GET",
				"Access-Control-Request-Headers": "range"},
			want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
				"Access-Control-Allow-Headers": "Range", "Access-Control-Max-Age": "7200", "Vary": ""}},
		{name: "preflight echoes allowed headers only", method: "OPTIONS", path: "master.m3u8", status: 204, body: []byte{},
			header: map[string]string{"Origin": "https://player.example", "Access-Control-Request-Method": "GET",
				"Access-Control-Request-Headers": "if-none-match,x-evil,range"},
			want: map[string]string{"Access-Control-Allow-Headers": "Range, if-none-match"}},
		{name: "POST", method: "POST", path: "360p/index.m3u8", status: 405, anyBody: true,
			want: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "PUT", method: "PUT", path: "360p/seg_00001.m4s", status: 405, anyBody: true,
			want: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "DELETE", method: "DELETE", path: "poster.jpg", status: 405, anyBody: true,
			want: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
	}
	for _, prefix := range []string{"/hls/abc/", "/static/"} {
		for _, tt := range tests {
			t.Run(prefix+tt.name, func(t *testing.T) {
				method := tt.method
				if method == "" {
					method = "GET"
				}
				r := do(t, method, base+prefix+tt.path, tt.header)
				if r.status != tt.status {
					t.Fatalf("%s %s = %d, want %d (body %.100q)", method, tt.path, r.status, tt.status, r.body)
				}
				for k, want := range tt.want {
					if got := strings.Join(r.header.Values(k), ", "); got != want {
						t.Errorf("%s: %q, want %q", k, got, want)
					}
				}
				switch {
				case tt.anyBody:
				case tt.body != nil:
					if !bytes.Equal(r.body, tt.body) {
						t.Errorf("body = %.80q, want %.80q", r.body, tt.body)
					}
				case tt.status == 200:
					name := strings.NewReplacer("%20", " ", "%C3%A9", "é").Replace(tt.path)
					if want := tr.files[name]; !bytes.Equal(r.body, want) {
						t.Errorf("body (%d bytes) differs from the file (%d bytes)", len(r.body), len(want))
					}
				}
				if tt.status == 200 && method == "GET" {
					if r.header.Get("Etag") == "" || r.header.Get("Last-Modified") == "" {
						t.Errorf("ETag %q, Last-Modified %q: want both", r.header.Get("Etag"), r.header.Get("Last-Modified"))
					}
				}
				if bytes.Contains(r.body, []byte(secret)) {
					t.Errorf("response leaks the secret: %q", r.body)
				}
			})
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestGzipBody checks that the compressed playlist is the playlist.
func TestGzipBody(t *testing.T) {
	tr := newTree(t)
	_, base := newServer(t, tr, server.Config{})
	r := do(t, "GET", base+"/hls/abc/360p/index.m3u8", map[string]string{"Accept-Encoding": "gzip"})
	if r.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", r.header.Get("Content-Encoding"))
	}
	if got := gunzip(t, r.body); string(got) != vodPlaylist {
		t.Errorf("gunzipped body = %.80q, want the playlist", got)
	}
	if len(r.body) >= len(vodPlaylist) {
		t.Errorf("gzip body %d bytes, playlist %d: not smaller", len(r.body), len(vodPlaylist))
	}
	plain := do(t, "GET", base+"/hls/abc/360p/index.m3u8", nil)
	if plain.header.Get("Etag") == r.header.Get("Etag") {
		t.Errorf("gzip and identity representations share the ETag %s", r.header.Get("Etag"))
	}
}

// TestETagRevalidation does what a browser or CDN does: fetch, then
// revalidate with the ETag and Last-Modified it got.
func TestETagRevalidation(t *testing.T) {
	tr := newTree(t)
	_, base := newServer(t, tr, server.Config{})
	for _, path := range []string{"/hls/abc/360p/seg_00001.m4s", "/hls/abc/360p/index.m3u8", "/static/master.m3u8", "/static/poster.jpg"} {
		for _, ae := range []string{"", "gzip"} {
			t.Run(path+" accept-encoding="+ae, func(t *testing.T) {
				h := map[string]string{}
				if ae != "" {
					h["Accept-Encoding"] = ae
				}
				first := do(t, "GET", base+path, h)
				etag, lm := first.header.Get("Etag"), first.header.Get("Last-Modified")
				if first.status != 200 || !strings.HasPrefix(etag, `"`) {
					t.Fatalf("first GET = %d with ETag %q, want 200 and a strong ETag", first.status, etag)
				}
				h["If-None-Match"] = etag
				r := do(t, "GET", base+path, h)
				if r.status != 304 || len(r.body) != 0 {
					t.Errorf("If-None-Match %s = %d with %d bytes, want 304 and no body", etag, r.status, len(r.body))
				}
				if r.header.Get("Etag") != etag {
					t.Errorf("304 ETag = %q, want %q", r.header.Get("Etag"), etag)
				}
				if r.header.Get("Cache-Control") != first.header.Get("Cache-Control") {
					t.Errorf("304 Cache-Control = %q, want %q", r.header.Get("Cache-Control"), first.header.Get("Cache-Control"))
				}
				h["If-None-Match"] = `W/` + etag + `, "other"`
				if r := do(t, "GET", base+path, h); r.status != 304 {
					t.Errorf("If-None-Match with a list and a weak prefix = %d, want 304", r.status)
				}
				delete(h, "If-None-Match")
				h["If-Modified-Since"] = lm
				if r := do(t, "GET", base+path, h); r.status != 304 {
					t.Errorf("If-Modified-Since %s = %d, want 304", lm, r.status)
				}
			})
		}
	}
}

// TestPlaylistCache checks that cached playlists follow the file: a
// watch-early EVENT playlist that gains segments and then ENDLIST is served
// fresh each time, and its caching changes with its content.
func TestPlaylistCache(t *testing.T) {
	tr := newTree(t)
	_, base := newServer(t, tr, server.Config{PlaylistMaxAge: 30 * time.Second})
	path := filepath.Join(tr.data, "media", "abc", "live", "index.m3u8")
	url := base + "/hls/abc/live/index.m3u8"

	steps := []struct {
		name    string
		content string
		replace bool // write a new file and rename it over (as ingest publishes)
		cache   string
	}{
		{"event, 3 segments", eventPlaylist, false, "no-cache"},
		{"event grows in place", mediaPlaylist(4, false), false, "no-cache"},
		{"event grows by rename", mediaPlaylist(5, false), true, "no-cache"},
		{"ends: VOD", mediaPlaylist(5, true), true, "public, max-age=30"},
		// Same size, different bytes: validated by mtime and identity too.
		{"same size rewrite", strings.Replace(mediaPlaylist(5, true), "seg_00005", "seg_00009", 1), false, "public, max-age=30"},
	}
	var prevETag string
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if i > 0 {
				// Make sure the modification time moves even on coarse clocks.
				mt := time.Now().Add(time.Duration(i) * time.Second)
				if st.replace {
					tmp := path + ".tmp"
					write(t, tmp, []byte(st.content))
					os.Chtimes(tmp, mt, mt)
					if err := os.Rename(tmp, path); err != nil {
						t.Fatal(err)
					}
				} else {
					write(t, path, []byte(st.content))
					os.Chtimes(path, mt, mt)
				}
			}
			for _, ae := range []string{"", "gzip"} {
				r := do(t, "GET", url, map[string]string{"Accept-Encoding": ae})
				body := r.body
				if r.header.Get("Content-Encoding") == "gzip" {
					body = gunzip(t, body)
				}
				if string(body) != st.content {
					t.Fatalf("Accept-Encoding %q: body is stale:\n%s\nwant:\n%s", ae, body, st.content)
				}
				if got := r.header.Get("Cache-Control"); got != st.cache {
					t.Errorf("Cache-Control = %q, want %q", got, st.cache)
				}
				if ae == "" {
					if r.header.Get("Etag") == prevETag {
						t.Errorf("ETag %s unchanged after the content changed", prevETag)
					}
					prevETag = r.header.Get("Etag")
				}
			}
			// The old validator no longer matches.
			if r := do(t, "GET", url, map[string]string{"If-None-Match": `"stale"`}); r.status != 200 {
				t.Errorf("stale If-None-Match = %d, want 200", r.status)
			}
		})
	}

	t.Run("deleted", func(t *testing.T) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if r := do(t, "GET", url, nil); r.status != 404 {
			t.Errorf("deleted playlist = %d, want 404", r.status)
		}
	})
}

// TestPlaylistRecheck checks Config.PlaylistRecheck: a finished media
// playlist is served from memory for that long without looking at the
// file, while growing and multivariant playlists are checked every time.
func TestPlaylistRecheck(t *testing.T) {
	tr := newTree(t)
	_, base := newServer(t, tr, server.Config{PlaylistRecheck: time.Hour})
	dir := filepath.Join(tr.data, "media", "abc")
	get := func(name string) string {
		t.Helper()
		r := do(t, "GET", base+"/hls/abc/"+name, nil)
		if r.status != 200 {
			t.Fatalf("GET %s = %d", name, r.status)
		}
		return string(r.body)
	}
	rewrite := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		write(t, p, []byte(content))
		mt := time.Now().Add(time.Hour)
		os.Chtimes(p, mt, mt)
	}
	cases := []struct {
		name, first, second string
		fromMemory          bool
	}{
		{"vod/index.m3u8", mediaPlaylist(4, true), mediaPlaylist(5, true), true},
		{"event/index.m3u8", mediaPlaylist(4, false), mediaPlaylist(5, false), false},
		{"master2.m3u8", multivariant, strings.Replace(multivariant, "360p", "240p", 1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, c.name)), 0o755)
			rewrite(c.name, c.first)
			if got := get(c.name); got != c.first {
				t.Fatalf("first GET:\n%s\nwant:\n%s", got, c.first)
			}
			rewrite(c.name, c.second)
			want := c.second
			if c.fromMemory {
				want = c.first
			}
			if got := get(c.name); got != want {
				t.Errorf("GET after the file changed (from memory: %v):\n%s\nwant:\n%s", c.fromMemory, got, want)
			}
		})
	}
	t.Run("after the window", func(t *testing.T) {
		tr := newTree(t)
		_, base := newServer(t, tr, server.Config{PlaylistRecheck: 50 * time.Millisecond})
		p := filepath.Join(tr.data, "media", "abc", "360p", "index.m3u8")
		do(t, "GET", base+"/hls/abc/360p/index.m3u8", nil)
		write(t, p, []byte(mediaPlaylist(7, true)))
		mt := time.Now().Add(time.Hour)
		os.Chtimes(p, mt, mt)
		time.Sleep(100 * time.Millisecond)
		if r := do(t, "GET", base+"/hls/abc/360p/index.m3u8", nil); string(r.body) != mediaPlaylist(7, true) {
			t.Errorf("GET after the recheck window is stale:\n%s", r.body)
		}
	})
}

// TestCORSOriginList checks --cors-origins with a list instead of *.
func TestCORSOriginList(t *testing.T) {
	tr := newTree(t)
	_, base := newServer(t, tr, server.Config{CORSOrigins: []string{"https://a.example", "http://127.0.0.1:9999"}})
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		status int
		want   map[string]string
	}{
		{"allowed origin, segment", "GET", "/hls/abc/360p/seg_00001.m4s", map[string]string{"Origin": "https://a.example"}, 200,
			map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Vary": "Origin",
				"Access-Control-Expose-Headers": "Content-Length, Content-Range"}},
		{"allowed origin, playlist", "GET", "/static/master.m3u8", map[string]string{"Origin": "http://127.0.0.1:9999"}, 200,
			map[string]string{"Access-Control-Allow-Origin": "http://127.0.0.1:9999", "Vary": "Origin, Accept-Encoding"}},
		{"other origin", "GET", "/hls/abc/360p/seg_00001.m4s", map[string]string{"Origin": "https://evil.example"}, 200,
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": "", "Vary": "Origin"}},
		{"no origin", "GET", "/hls/abc/master.m3u8", nil, 200,
			map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin, Accept-Encoding"}},
		{"preflight allowed", "OPTIONS", "/hls/abc/360p/seg_00001.m4s",
			map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"}, 204,
			map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
				"Access-Control-Allow-Headers": "Range", "Access-Control-Max-Age": "7200", "Vary": "Origin"}},
		{"preflight other origin", "OPTIONS", "/static/master.m3u8",
			map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, 204,
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Vary": "Origin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, base+tt.path, tt.header)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d", r.status, tt.status)
			}
			for k, want := range tt.want {
				if got := strings.Join(r.header.Values(k), ", "); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestTraversal throws a corpus of hostile paths at both roots: none may
// answer other than 400 or 404, and no response may contain the secret
// planted just outside the roots (and in hidden files inside them).
func TestTraversal(t *testing.T) {
	tr := newTree(t)
	_, base := newServer(t, tr, server.Config{})
	corpus := []string{
		"../secret.m3u8",
		"../../secret.m3u8",
		"../../../secret.ts",
		"360p/../../secret.m3u8",
		"%2e%2e/secret.m3u8",
		"%2E%2E/%2e%2e/secret.m3u8",
		".%2e/secret.m3u8",
		"%2e%2e%2fsecret.m3u8",
		"..%2fsecret.m3u8",
		"..%2f..%2fsecret.m3u8",
		"%2f..%2f..%2fsecret.m3u8",
		"..%5csecret.m3u8",
		"..%5c..%5csecret.m3u8",
		`..\secret.m3u8`,
		`360p\..\..\secret.m3u8`,
		"secret.m3u8%00.m3u8",
		"%00../secret.m3u8",
		"360p/index.m3u8%00",
		"/etc/passwd",
		"//etc/passwd",
		"%2fetc%2fpasswd",
		"%2Fetc%2Fpasswd.m3u8",
		"/" + tr.dir + "/secret.m3u8",
		"%2f" + strings.ReplaceAll(strings.TrimPrefix(tr.dir, "/"), "/", "%2f") + "%2fsecret.m3u8",
		"./secret.m3u8",
		"360p/./index.m3u8",
		"360p//index.m3u8",
		"link.m3u8",
		"abs.ts",
		"up/secret.m3u8",
		"up/up/secret.m3u8",
		"up/data/secret.m3u8",
		".hidden.m3u8",
		"%2ehidden.m3u8",
		".git/config.m3u8",
		"notes.txt",
		"source.json",
		"360p/",
		"360p",
		"",
		".",
		"..",
		"%2e%2e",
		"...",
		"....//secret.m3u8",
		"c:/windows/win.ini",
		"C:%5cwindows%5cwin.ini",
		"360p/seg_00002.m4s.bak",
	}
	prefixes := []string{"/static/", "/hls/abc/"}
	var extra []string
	// Escapes through the media id itself.
	for _, p := range []string{"/hls/../secret.m3u8", "/hls/%2e%2e/secret.m3u8", "/hls/..%2fsecret.m3u8", "/hls/linked/secret.m3u8",
		"/hls/linked/data/secret.m3u8", "/hls/.hidden/x.m3u8", "/hls/a.b/x.m3u8", "/hls/" + strings.Repeat("a", 65) + "/x.m3u8",
		"/hls/abc%2f..%2f..%2fsecret.m3u8", "/hls//secret.m3u8", "/static/../data/secret.m3u8", "/static//etc/passwd",
		"/hls/abc", "/static", "/secret.m3u8", "/data/secret.m3u8", "/hls/abc/..", "/hls/%00/x.m3u8"} {
		extra = append(extra, p)
	}
	var targets []string
	for _, prefix := range prefixes {
		for _, c := range corpus {
			targets = append(targets, prefix+c)
		}
	}
	targets = append(targets, extra...)
	for _, target := range targets {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(method+" "+target, func(t *testing.T) {
				r := rawRequest(t, base, method, target)
				if r.status != 400 && r.status != 404 {
					t.Errorf("%s %q = %d, want 400 or 404 (Location %q)", method, target, r.status, r.header.Get("Location"))
				}
				if bytes.Contains(r.body, []byte(secret)) {
					t.Errorf("%s %q leaks the secret: %q", method, target, r.body)
				}
			})
		}
	}
	// The corpus runs against roots that do serve: a control.
	for _, target := range []string{"/static/master.m3u8", "/hls/abc/master.m3u8", "/static/inside.m3u8"} {
		if r := rawRequest(t, base, "GET", target); r.status != 200 {
			t.Errorf("control GET %s = %d, want 200", target, r.status)
		}
	}
	// Absolute-form request-targets go through the same checks.
	host := strings.TrimPrefix(base, "http://")
	for _, target := range []string{"http://" + host + "/static/../secret.m3u8", "http://" + host + "/static/%2e%2e/secret.m3u8"} {
		r := rawRequest(t, base, "GET", target)
		if (r.status != 400 && r.status != 404) || bytes.Contains(r.body, []byte(secret)) {
			t.Errorf("GET %s = %d %q, want 400/404 without the secret", target, r.status, r.body)
		}
	}
}

// TestNoStaticRoute checks that /static/ does not exist without --static.
func TestNoStaticRoute(t *testing.T) {
	tr := newTree(t)
	s, err := server.New(server.Config{DataDir: tr.data})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/static/master.m3u8", nil))
	if rec.Code != 404 {
		t.Errorf("GET /static/master.m3u8 without a static dir = %d, want 404", rec.Code)
	}
}
