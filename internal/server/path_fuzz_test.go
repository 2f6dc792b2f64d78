package server

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/signing"
)

// Secrets planted around the served folder for FuzzRequestPath: no request
// may ever get them back.
const (
	fuzzOutside = "TOPSECRET-OUTSIDE-THE-MEDIA-ROOT"
	fuzzSource  = "SOURCE-BYTES-NEVER-SERVED"
	fuzzHidden  = "HIDDEN-DOTFILE-CONTENT"
	fuzzKey     = "KEY!KEY!KEY!KEY!"
)

// FuzzRequestPath sends arbitrary request targets through the whole server
// (parsed as net/http parses a request line, then path checks, routing,
// visibility, delivery) over a data directory with secrets planted outside
// the served folder, in a source, in a dotfile, and as the key of a signed
// media. No target may get a secret, a server path or a 500, and whatever
// validName accepts must be a clean local path.
func FuzzRequestPath(f *testing.F) {
	data := f.TempDir()
	lib, err := newLibrary(f, library.Config{DataDir: data})
	if err != nil {
		f.Fatal(err)
	}
	defer lib.Stop(context.Background())
	kr, _ := signing.NewKeyring(testSigningKey)
	srv, err := New(Config{DataDir: data, Library: lib, APIToken: apiTestToken, Signing: kr,
		Limits: Limits{APIRate: -1, AuthRate: -1, UploadsPerHour: -1}})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	pub := &hlsd.Media{Title: "public", Status: hlsd.StatusReady}
	sig := &hlsd.Media{Title: "signed", Status: hlsd.StatusReady, Visibility: hlsd.VisibilitySigned, Encrypted: true}
	for _, m := range []*hlsd.Media{pub, sig} {
		if err := lib.Catalog().CreateMedia(ctx, m); err != nil {
			f.Fatal(err)
		}
	}
	plant := func(rel, body string) {
		p := filepath.Join(data, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	plant("secret.m3u8", fuzzOutside)
	plant("media/secret.ts", fuzzOutside) // in the media root, but not in a media folder
	plant("sources/"+pub.ID+"/source.mp4", fuzzSource)
	plant("media/"+pub.ID+"/master.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n")
	plant("media/"+pub.ID+"/360p/seg_00001.ts", "segment")
	plant("media/"+pub.ID+"/.hidden.ts", fuzzHidden)
	plant("media/"+sig.ID+"/master.m3u8", fuzzOutside)
	plant("keys/"+sig.ID+".key", fuzzKey)
	os.Symlink(filepath.Join(data, "secret.m3u8"), filepath.Join(data, "media", pub.ID, "link.m3u8"))

	for _, seed := range []string{
		"/hls/" + pub.ID + "/master.m3u8",
		"/hls/" + pub.ID + "/360p/seg_00001.ts",
		"/hls/" + pub.ID + "/../../secret.m3u8",
		"/hls/" + pub.ID + "/%2e%2e/%2e%2e/secret.m3u8",
		"/hls/" + pub.ID + "/..%2f..%2fsecret.m3u8",
		"/hls/" + pub.ID + "/link.m3u8",
		"/hls/" + pub.ID + "/.hidden.ts",
		"/hls/" + sig.ID + "/key",
		"/hls/" + sig.ID + "/master.m3u8",
		"/hls/t/x.y/" + sig.ID + "/key",
		"/hls/t/" + sig.ID + "/" + sig.ID + "/key",
		"/hls/../sources/" + pub.ID + "/source.mp4",
		"/hls/" + pub.ID + "%2f..%2f..%2fkeys/" + sig.ID + ".key",
		"/hls/secret.ts",
		"/hls//secret.ts",
		"/hls/" + pub.ID + "/360p\\..\\..\\secret.m3u8",
		"/hls/" + pub.ID + "/%00.m3u8",
		"/static/../secret.m3u8",
		"/api/v1/media/../../secret.m3u8",
		"/assets/x/../../secret.m3u8",
		"/watch/" + pub.ID,
		"//hls/" + pub.ID + "/master.m3u8",
		"*",
		"http://evil.example/hls/" + pub.ID + "/master.m3u8",
	} {
		f.Add(seed)
	}
	secrets := [][]byte{[]byte(fuzzOutside), []byte(fuzzSource), []byte(fuzzHidden), []byte(fuzzKey), []byte(data)}
	f.Fuzz(func(t *testing.T, target string) {
		checkNameInvariant(t, target)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: hlsd.test\r\n\r\n")))
		if err != nil {
			return // net/http answers 400 before any handler
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("GET %q: %d %q", target, w.Code, w.Body.String())
		}
		body := w.Body.Bytes()
		for _, s := range secrets {
			if bytes.Contains(body, s) {
				t.Fatalf("GET %q (%d) leaked %q", target, w.Code, s)
			}
		}
		for k, v := range w.Header() {
			if strings.Contains(strings.Join(v, " "), data) {
				t.Fatalf("GET %q: header %s leaks the data dir: %q", target, k, v)
			}
		}
	})
}

// checkNameInvariant: a name validName accepts is local, clean, and free of
// anything a file system or a later join could read differently.
func checkNameInvariant(t *testing.T, name string) {
	if !validName(name) {
		return
	}
	if path.Clean(name) != name || !filepath.IsLocal(name) || strings.ContainsAny(name, "\\:\x00") {
		t.Fatalf("validName accepted %q", name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el[0] == '.' {
			t.Fatalf("validName accepted %q with element %q", name, el)
		}
	}
}
