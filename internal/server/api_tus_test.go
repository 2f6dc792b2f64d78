package server

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
)

// tusCreate starts a tus upload and returns its path.
func (e *apiEnv) tusCreate(t *testing.T, length int, meta map[string]string) (apiResp, string) {
	t.Helper()
	var pairs []string
	for k, v := range meta {
		pairs = append(pairs, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	r := e.do(t, apiReq{method: "POST", path: "/api/v1/uploads", header: map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(length), "Upload-Metadata": strings.Join(pairs, ","),
	}})
	loc, _ := url.Parse(r.header.Get("Location"))
	if loc == nil {
		return r, ""
	}
	return r, loc.Path
}

func (e *apiEnv) tusPatch(t *testing.T, path string, offset int, data string) apiResp {
	t.Helper()
	return e.do(t, apiReq{method: "PATCH", path: path, body: strings.NewReader(data), header: map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream",
	}})
}

func TestTus(t *testing.T) {
	e := newAPIEnv(t, 1000)
	tus := map[string]string{"Tus-Resumable": "1.0.0"}

	t.Run("upload in two parts becomes media", func(t *testing.T) {
		r, path := e.tusCreate(t, 10, map[string]string{"filename": "clip.mp4", "title": "Tus ✓"})
		if r.status != 201 || !strings.HasPrefix(path, "/api/v1/uploads/") {
			t.Fatalf("create: %d %v", r.status, r.header)
		}
		if r := e.tusPatch(t, path, 0, "01234"); r.status != 204 || r.header.Get(HeaderMediaID) != "" {
			t.Fatalf("first part: %d %v", r.status, r.header)
		}
		r = e.do(t, apiReq{method: "HEAD", path: path, header: tus})
		if r.header.Get("Upload-Offset") != "5" {
			t.Fatalf("HEAD offset = %q, want 5", r.header.Get("Upload-Offset"))
		}
		r = e.tusPatch(t, path, 5, "56789")
		id := r.header.Get(HeaderMediaID)
		if r.status != 204 || !hlsd.ValidMediaID(id) || r.header.Get("Content-Location") != "/api/v1/media/"+id {
			t.Fatalf("last part: %d %v", r.status, r.header)
		}
		r = e.do(t, apiReq{method: "GET", path: "/api/v1/media/" + id})
		var m MediaObject
		json.Unmarshal(r.body, &m)
		if m.Title != "Tus ✓" || m.Status != hlsd.StatusQueued {
			t.Errorf("media = %s", r.body)
		}
		if src := files(t, e.data+"/sources/"+id); len(src) != 1 || src[0] != "source.mp4" {
			t.Errorf("source = %v", src)
		}
		r = e.do(t, apiReq{method: "HEAD", path: path, header: tus})
		if r.status != 200 || r.header.Get(HeaderMediaID) != id || r.header.Get("Upload-Offset") != "10" {
			t.Errorf("HEAD after finish: %d %v", r.status, r.header)
		}
		// Only the small record of the finished upload stays in tmp.
		if left := files(t, e.data+"/tmp"); len(left) != 1 || !strings.HasSuffix(left[0], tusDoneSuffix) {
			t.Errorf("tmp = %v", left)
		}
		e.do(t, apiReq{method: "DELETE", path: "/api/v1/media/" + id})
	})

	t.Run("empty upload refused, nothing kept", func(t *testing.T) {
		before := len(files(t, e.data+"/tmp"))
		r, _ := e.tusCreate(t, 0, map[string]string{"filename": "empty.mp4"})
		r.wantError(t, 400, hlsd.EINVALID, "upload is empty")
		if n := len(files(t, e.data+"/tmp")); n != before {
			t.Errorf("tmp has %d files, want %d", n, before)
		}
	})

	t.Run("too large", func(t *testing.T) {
		r, _ := e.tusCreate(t, 1001, nil)
		if r.status != 413 {
			t.Errorf("status = %d, want 413", r.status)
		}
	})

	t.Run("title too long refused before upload", func(t *testing.T) {
		r, _ := e.tusCreate(t, 10, map[string]string{"title": strings.Repeat("a", 400)})
		r.wantError(t, 400, hlsd.EINVALID, "at most 300 characters")
	})

	t.Run("terminate", func(t *testing.T) {
		before := len(files(t, e.data+"/tmp"))
		_, path := e.tusCreate(t, 10, nil)
		e.tusPatch(t, path, 0, "012")
		if r := e.do(t, apiReq{method: "DELETE", path: path, header: tus}); r.status != 204 {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
		if n := len(files(t, e.data+"/tmp")); n != before {
			t.Errorf("tmp has %d files after terminate, want %d", n, before)
		}
	})

	t.Run("needs the token", func(t *testing.T) {
		r := e.do(t, apiReq{method: "POST", path: "/api/v1/uploads", noAuth: true, header: map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "3"}})
		r.wantError(t, 401, hlsd.EUNAUTHORIZED, "missing API token")
	})
}
