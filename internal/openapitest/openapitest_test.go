package openapitest_test

import (
	"encoding/json"
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
