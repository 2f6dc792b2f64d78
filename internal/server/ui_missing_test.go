package server

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hlsd/hlsd/web"
)

// TestUIWithoutWebBuild checks what a binary built without npm (go install,
// a plain go build) serves: every UI page is a 503 saying the web build is
// missing and how to make it, never a player page whose libraries 404.
func TestUIWithoutWebBuild(t *testing.T) {
	// web.FS() minus dist/: what the embed holds when npm never ran.
	noDist := fstest.MapFS{}
	err := fs.WalkDir(web.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, "dist/") {
			return err
		}
		b, err := fs.ReadFile(web.FS(), p)
		noDist[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := newUI(noDist)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.missing) != len(uiVendor) {
		t.Fatalf("missing = %v, want every vendor file %v", u.missing, uiVendor)
	}
	rec := httptest.NewRecorder()
	uiMissingHandler(u.missing).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(string(body), "make build") || !strings.Contains(string(body), "vendor/hls.min.js") {
		t.Errorf("status %d, body %q; want 503 naming the missing file and make build", rec.Code, body)
	}
}
