package openapitest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/docs"
	"github.com/hlsd/hlsd/internal/openapitest"
)

// TestDocument validates docs/openapi.yaml with kin-openapi's loader and
// validator, and checks that the JSON hlsd serves is the same document.
func TestDocument(t *testing.T) {
	doc, _, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/v1/media", "/api/v1/media/{id}", "/api/v1/media/{id}/reprocess",
		"/api/v1/media/{id}/playback-tokens", "/api/v1/uploads", "/api/v1/uploads/{upload}",
		"/api/v1/openapi.json", "/healthz", "/readyz", "/metrics"} {
		if doc.Paths.Value(p) == nil {
			t.Errorf("the document has no path %s", p)
		}
	}
	js, err := docs.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML map[string]any
	if err := json.Unmarshal(js, &fromJSON); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(doc)
	json.Unmarshal(b, &fromYAML)
	if fromJSON["openapi"] != "3.0.3" || len(fromJSON["paths"].(map[string]any)) != len(fromYAML["paths"].(map[string]any)) {
		t.Errorf("served JSON: openapi %v, %d paths; want 3.0.3 and %d", fromJSON["openapi"], len(fromJSON["paths"].(map[string]any)), len(fromYAML["paths"].(map[string]any)))
	}
}

// TestTransportCatchesDrift serves answers that drift from the document
// and checks that Transport refuses each one, and lets right ones through.
func TestTransportCatchesDrift(t *testing.T) {
	media := `{"id":"abcdefghijkl","title":"t","kind":null,"status":"queued","progress":0,"error":null,"error_code":null,` +
		`"duration":null,"renditions":[],"playback_url":"/hls/abcdefghijkl/master.m3u8","poster_url":null,` +
		`"created_at":"2026-11-24T15:49:18.910396Z","updated_at":"2026-11-24T15:49:18.910396Z","visibility":"public","encrypted":false}`
	tests := []struct {
		name, method, path string
		status             int
		contentType, body  string
		wantErr            string // "" when the answer is right
	}{
		{"documented", "GET", "/api/v1/media/abcdefghijkl", 200, "application/json", media, ""},
		{"documented error", "GET", "/api/v1/media/abcdefghijkl", 404, "application/json", `{"error":{"code":"not_found","message":"m"}}`, ""},
		{"undocumented route answered", "GET", "/api/v1/secret", 200, "application/json", `{}`, "no such operation"},
		{"unknown route refused right", "GET", "/api/v1/secret", 404, "application/json", `{"error":{"code":"not_found","message":"m"}}`, ""},
		{"unknown route, plain text 404", "GET", "/api/v1/secret", 404, "text/plain", "404 page not found", "Content-Type"},
		{"undocumented status", "GET", "/api/v1/media/abcdefghijkl", 418, "application/json", `{"error":{"code":"internal","message":"m"}}`, "status is not supported"},
		{"undocumented field", "GET", "/api/v1/media/abcdefghijkl", 200, "application/json", strings.Replace(media, `"encrypted":false`, `"encrypted":false,"secret":1`, 1), `property "secret" is unsupported`},
		{"missing field", "GET", "/api/v1/media/abcdefghijkl", 200, "application/json", strings.Replace(media, `"title":"t",`, ``, 1), `property "title" is missing`},
		{"unknown error code", "GET", "/api/v1/media/abcdefghijkl", 404, "application/json", `{"error":{"code":"nope","message":"m"}}`, "not one of the allowed values"},
		{"not covered: playback", "GET", "/hls/x/master.m3u8", 200, "application/vnd.apple.mpegurl", "#EXTM3U\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := openapitest.Client().Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != tt.body {
					t.Errorf("body through the transport = %q, want %q", body, tt.body)
				}
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("refused a right answer: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}
