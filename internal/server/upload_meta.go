package server

import (
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	tushandler "github.com/tus/tusd/v2/pkg/handler"
)

// Upload metadata: what an uploader says about a file besides its bytes.
// POST /api/v1/media takes it from the query (title, filename, visibility,
// encrypt) and Content-Disposition (filename); tus from Upload-Metadata
// (title, filename or name, visibility, encrypt). Both go through
// uploadFrom, so the two upload paths accept exactly the same values; it
// is fuzzed (upload_meta_fuzz_test.go).

// uploadFromQuery reads the metadata of a raw or multipart POST.
func (s *Server) uploadFromQuery(q url.Values, contentDisposition string) (library.Upload, error) {
	filename := q.Get("filename")
	if filename == "" {
		filename = dispositionFilename(contentDisposition)
	}
	return s.uploadFrom(q.Get("title"), filename, q.Get("visibility"), q.Get("encrypt"), q.Has("encrypt"))
}

// uploadFromTus reads the metadata of a tus upload (Upload-Metadata,
// already decoded by tusd).
func (s *Server) uploadFromTus(meta tushandler.MetaData) (library.Upload, error) {
	filename := meta["filename"]
	if filename == "" {
		filename = meta["name"]
	}
	enc, hasEnc := meta["encrypt"]
	return s.uploadFrom(strings.TrimSpace(meta["title"]), filename, meta["visibility"], enc, hasEnc)
}

// uploadFrom checks the metadata values and applies the server defaults
// (--default-visibility, --encrypt) to what the uploader left out.
func (s *Server) uploadFrom(title, filename, visibility, encrypt string, hasEncrypt bool) (library.Upload, error) {
	up := library.Upload{Title: title, Filename: filename, MaxSize: s.cfg.MaxUpload,
		Visibility: s.cfg.DefaultVisibility, Encrypt: s.cfg.EncryptByDefault}
	if up.Visibility == "" {
		up.Visibility = hlsd.VisibilityPublic
	}
	if visibility != "" {
		if !hlsd.ValidVisibility(visibility) {
			return library.Upload{}, hlsd.Errorf(hlsd.EINVALID, "visibility must be public or signed, not %q", visibility)
		}
		up.Visibility = visibility
	}
	if hasEncrypt {
		b, err := strconv.ParseBool(encrypt)
		if err != nil {
			return library.Upload{}, hlsd.Errorf(hlsd.EINVALID, "encrypt must be true or false, not %q", encrypt)
		}
		up.Encrypt = b
	}
	return up, nil
}

// dispositionFilename returns the filename parameter of a
// Content-Disposition header ("" when absent or malformed). mime decodes
// RFC 2231 (filename*=UTF-8”...) forms.
func dispositionFilename(cd string) string {
	if cd == "" {
		return ""
	}
	_, p, err := mime.ParseMediaType(cd)
	if err != nil {
		return ""
	}
	return p["filename"]
}
