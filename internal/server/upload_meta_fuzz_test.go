package server

import (
	"net/url"
	"testing"

	"github.com/hlsd/hlsd"
	tushandler "github.com/tus/tusd/v2/pkg/handler"
)

// FuzzUploadMetadata feeds arbitrary upload metadata to both parsers: a tus
// Upload-Metadata header (as tusd decodes it) and a POST query with a
// Content-Disposition. They never panic, accept only valid visibilities,
// apply the server defaults to what is missing, and agree with each other
// on the same values.
func FuzzUploadMetadata(f *testing.F) {
	s := &Server{cfg: Config{MaxUpload: 1 << 30, DefaultVisibility: hlsd.VisibilitySigned}}
	f.Add("filename aG9saWRheS5tcDQ=,title SG9saWRheQ==,visibility c2lnbmVk,encrypt dHJ1ZQ==",
		"title=Holiday&visibility=public&encrypt=false", `attachment; filename="holiday.mp4"`)
	f.Add("name Li4vLi4vZXRjL3Bhc3N3ZA==", "filename=..%2F..%2Fetc%2Fpasswd", `attachment; filename*=UTF-8''%E2%82%AC%20rates.mp4`)
	f.Add("visibility", "visibility=", `form-data; name="file"; filename="a\"b.mp4"`)
	f.Add("encrypt bWF5YmU=", "encrypt=maybe&encrypt=true", "inline")
	f.Add(",,, ,a", "%zz", `attachment; filename=`)
	f.Fuzz(func(t *testing.T, tusHeader, query, disposition string) {
		meta := tushandler.ParseMetadataHeader(tusHeader)
		up, err := s.uploadFromTus(meta)
		if err == nil {
			if !hlsd.ValidVisibility(up.Visibility) {
				t.Fatalf("tus %q: visibility %q accepted", tusHeader, up.Visibility)
			}
			if _, ok := meta["visibility"]; (!ok || meta["visibility"] == "") && up.Visibility != hlsd.VisibilitySigned {
				t.Fatalf("tus %q: default visibility not applied: %q", tusHeader, up.Visibility)
			}
			if up.MaxSize != s.cfg.MaxUpload {
				t.Fatalf("MaxSize %d, want the server's", up.MaxSize)
			}
		} else if hlsd.ErrorCode(err) != hlsd.EINVALID {
			t.Fatalf("tus %q: error %v is not EINVALID", tusHeader, err)
		}

		q, qerr := url.ParseQuery(query)
		if qerr != nil {
			return // the server would see what ParseQuery could read; nothing more to check
		}
		qup, err := s.uploadFromQuery(q, disposition)
		if err != nil {
			if hlsd.ErrorCode(err) != hlsd.EINVALID {
				t.Fatalf("query %q: error %v is not EINVALID", query, err)
			}
			return
		}
		if !hlsd.ValidVisibility(qup.Visibility) {
			t.Fatalf("query %q: visibility %q accepted", query, qup.Visibility)
		}
		if fn := dispositionFilename(disposition); q.Get("filename") == "" && qup.Filename != fn {
			t.Fatalf("filename %q, want the Content-Disposition's %q", qup.Filename, fn)
		}
		// The same values through tus give the same answer.
		same := tushandler.MetaData{"title": q.Get("title"), "filename": qup.Filename, "visibility": q.Get("visibility")}
		if q.Has("encrypt") {
			same["encrypt"] = q.Get("encrypt")
		}
		tup, err := s.uploadFromTus(same)
		if err != nil || tup.Visibility != qup.Visibility || tup.Encrypt != qup.Encrypt || tup.Filename != qup.Filename {
			t.Fatalf("query %q gives %+v, the same through tus %+v (%v)", query, qup, tup, err)
		}
	})
}
