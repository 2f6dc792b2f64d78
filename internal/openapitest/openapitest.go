// Package openapitest checks hlsd's HTTP responses against its OpenAPI
// document (docs/openapi.yaml) with kin-openapi's validator, so that the
// document cannot drift from the code: the API tests send their requests
// through Transport, and any response the document does not describe (an
// undocumented route, status, header or body shape) fails the request with
// an error saying why.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/hlsd/hlsd/docs"
)

var (
	loadOnce sync.Once
	loaded   *openapi3.T
	router   routers.Router
	loadErr  error
)

// Load parses and validates docs/openapi.yaml (once per test binary) and
// returns it with a router over its paths.
func Load() (*openapi3.T, routers.Router, error) {
	loadOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(docs.OpenAPIYAML())
		if err != nil {
			loadErr = fmt.Errorf("load docs/openapi.yaml: %w", err)
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			loadErr = fmt.Errorf("docs/openapi.yaml is not a valid OpenAPI document: %w", err)
			return
		}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			loadErr = fmt.Errorf("route docs/openapi.yaml: %w", err)
			return
		}
		loaded, router = doc, r
	})
	return loaded, router, loadErr
}

// Client returns an http.Client whose responses are checked (see Transport).
func Client() *http.Client { return &http.Client{Transport: &Transport{}} }

// Transport sends requests with Base (http.DefaultTransport when nil) and
// checks every response of a path the document covers (everything under
// /api/, and /healthz, /readyz, /metrics; playback and UI pages are not
// part of the REST API). A request whose method and path match no
// operation must be answered with a JSON error, 404 or 405; any other
// response must match its operation's documented status, headers, content
// type and schema. A mismatch is returned as the request's error.
type Transport struct {
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if !Covered(req.URL.Path) {
		return base.RoundTrip(req)
	}
	doc, r, err := Load()
	if err != nil {
		return nil, err
	}
	route, params, routeErr := r.FindRoute(req)
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := check(doc, req, route, params, routeErr, resp, body); err != nil {
		return nil, fmt.Errorf("OpenAPI: %s %s answered %d: %w", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	return resp, nil
}

// Covered reports whether the document describes path.
func Covered(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/api/")
}

func check(doc *openapi3.T, req *http.Request, route *routers.Route, params map[string]string, routeErr error, resp *http.Response, body []byte) error {
	if routeErr != nil {
		// Not a documented operation: only the API's own refusal is right.
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			return fmt.Errorf("the document has no such operation (%v)", routeErr)
		}
		return checkError(doc, resp, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
		},
		Status: resp.StatusCode,
		Header: resp.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, // an undocumented status is an error
			MultiError:            true,
		},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// checkError checks that an answer to an undocumented route is the API's
// JSON error.
func checkError(doc *openapi3.T, resp *http.Response, body []byte) error {
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("undocumented route answered with Content-Type %q, want the JSON error", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("undocumented route: body %q: %w", body, err)
	}
	return doc.Components.Schemas["Error"].Value.VisitJSON(v)
}
