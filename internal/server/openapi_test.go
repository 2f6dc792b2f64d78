package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOpenAPIServed fetches /api/v1/openapi.json without a token, through
// the checking client (so the route itself is documented): it is the
// document of docs/openapi.yaml, and a second request with its ETag is 304.
func TestOpenAPIServed(t *testing.T) {
	e := newAPIEnv(t, 0)
	r := e.do(t, apiReq{method: "GET", path: "/api/v1/openapi.json", noAuth: true})
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json = %d %s", r.status, r.header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Paths["/api/v1/media/{id}"] == nil {
		t.Errorf("served document: openapi %q, paths %d", doc.OpenAPI, len(doc.Paths))
	}
	etag := r.header.Get("ETag")
	if r2 := e.do(t, apiReq{method: "GET", path: "/api/v1/openapi.json", noAuth: true, header: map[string]string{"If-None-Match": etag}}); etag == "" || r2.status != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q = %d, want 304", etag, r2.status)
	}
}
