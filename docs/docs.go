// Package docs holds the documents hlsd serves besides media: the OpenAPI
// description of its HTTP API. docs/openapi.yaml is the one source; the
// binary embeds it and serves it as JSON (hlsd serve converts it once at
// start), and the API tests check every response against it
// (internal/openapitest).
package docs

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v4"
)

//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPIYAML returns docs/openapi.yaml as embedded in the binary.
func OpenAPIYAML() []byte { return openAPIYAML }

// OpenAPIJSON returns the OpenAPI document as JSON, as served at
// GET /api/v1/openapi.json (YAML anchors resolved).
func OpenAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml: %w", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml as JSON: %w", err)
	}
	return b, nil
}
