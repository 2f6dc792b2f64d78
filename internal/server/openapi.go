package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// openAPIDoc is the OpenAPI document served at /api/v1/openapi.json.
type openAPIDoc struct {
	json []byte
	etag []string
}

func newOpenAPIDoc(b []byte) *openAPIDoc {
	sum := sha256.Sum256(b)
	return &openAPIDoc{json: b, etag: []string{`"` + hex.EncodeToString(sum[:8]) + `"`}}
}

// handleOpenAPI is GET /api/v1/openapi.json: the API's OpenAPI document
// (docs/openapi.yaml as JSON), without a token so that tools can fetch it.
// Revalidated on every use (ETag) since it changes with the binary.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoCache
	h["Etag"] = s.openAPI.etag
	http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(s.openAPI.json))
}
