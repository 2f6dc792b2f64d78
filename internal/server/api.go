package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/hlsd/hlsd"
)

// The REST API lives under APIPrefix. Every route needs the API token (or a
// web UI session, see auth.go); errors are JSON objects
// {"error":{"code":"...","message":"..."}} whose code is one of hlsd's error
// codes and whose status comes from apiStatus alone.
const APIPrefix = "/api/v1"

// maxJSONBody bounds the JSON bodies the API accepts (a title edit is tiny).
const maxJSONBody = 64 << 10

// apiExposeHeaders are the response headers a cross-origin API client may
// read: the new media's Location, and tus' headers plus the media id of a
// finished tus upload.
const apiExposeHeaders = "Location, Hlsd-Media-Id, Upload-Offset, Upload-Length, Upload-Metadata, " +
	"Upload-Defer-Length, Upload-Concat, Upload-Expires, Tus-Version, Tus-Resumable, Tus-Max-Size, Tus-Extension"

// apiAllowHeaders are the request headers a cross-origin API client may send.
const apiAllowHeaders = "Authorization, Content-Type, Content-Disposition, Upload-Length, Upload-Offset, " +
	"Upload-Metadata, Upload-Defer-Length, Upload-Concat, Tus-Resumable, X-HTTP-Method-Override, X-Requested-With"

const apiAllowMethods = "GET, HEAD, POST, PATCH, DELETE, OPTIONS"

// apiRoutes registers the REST API and the tus endpoint; routes() calls it
// when the server has a library.
func (s *Server) apiRoutes() {
	api := func(pattern string, h http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		s.mux.Handle(method+" "+APIPrefix+path, s.apiCORS(s.requireAuth(h)))
	}
	s.mux.Handle("POST "+APIPrefix+"/media", s.apiCORS(s.requireAuth(s.countUploads(http.HandlerFunc(s.handleCreateMedia)))))
	api("GET /media", s.handleListMedia)
	api("GET /media/{id}", s.handleGetMedia)
	api("PATCH /media/{id}", s.handleUpdateMedia)
	api("DELETE /media/{id}", s.handleDeleteMedia)
	api("POST /media/{id}/reprocess", s.handleReprocessMedia)

	// tus 1.0 at /api/v1/uploads, routed further by tusd. POST on an
	// upload is for clients that send PATCH as X-HTTP-Method-Override;
	// GET (and HEAD) of a finished upload tells its media id.
	tus := s.apiCORS(s.requireAuth(s.countUploads(s.tus)))
	for _, p := range []string{"POST /uploads", "POST /uploads/{$}", "GET /uploads/{upload}",
		"PATCH /uploads/{upload}", "DELETE /uploads/{upload}", "POST /uploads/{upload}"} {
		method, path, _ := strings.Cut(p, " ")
		s.mux.Handle(method+" "+APIPrefix+path, tus)
	}

	// The OpenAPI document, without a token (openapi.go).
	if s.openAPI != nil {
		s.mux.Handle("GET "+APIPrefix+"/openapi.json", s.apiCORS(http.HandlerFunc(s.handleOpenAPI)))
	}

	// Preflights of any API route, and a JSON 404 for unknown API paths.
	s.mux.Handle("OPTIONS "+APIPrefix+"/", s.apiCORS(http.HandlerFunc(s.handleAPIOptions)))
	s.mux.Handle(APIPrefix+"/", s.apiCORS(s.requireAuth(http.HandlerFunc(s.handleAPINotFound))))
}

// apiCORS sets the CORS headers of API responses with the same origin list
// as delivery (--cors-origins). Credentials (cookies) are never allowed
// cross-origin: other sites use the bearer token. A preflight is answered
// here, except on the tus routes where tusd adds its discovery headers.
func (s *Server) apiCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if !s.cors.any {
			h.Add("Vary", "Origin")
		}
		if _, ok := r.Header["Origin"]; ok {
			if ao := s.cors.allowed(r); ao != nil {
				h["Access-Control-Allow-Origin"] = ao
				if r.Method == http.MethodOptions {
					h.Set("Access-Control-Allow-Methods", apiAllowMethods)
					h.Set("Access-Control-Allow-Headers", apiAllowHeaders)
					h["Access-Control-Max-Age"] = s.cors.maxAge
				} else {
					h.Set("Access-Control-Expose-Headers", apiExposeHeaders)
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// handleAPIOptions answers OPTIONS on API routes: preflights (headers set by
// apiCORS) and plain OPTIONS alike get 204 with Allow. tus discovery
// (OPTIONS /api/v1/uploads) is routed to tusd instead.
func (s *Server) handleAPIOptions(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p == APIPrefix+"/uploads" || strings.HasPrefix(p, APIPrefix+"/uploads/") {
		s.tus.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Allow", apiAllowMethods)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	if allow := s.allowedMethods(r); allow != "" { // methods.go
		s.methodNotAllowed(w, r, allow)
		return
	}
	s.apiError(w, r, hlsd.Errorf(hlsd.ENOTFOUND, "no API route %s %s", r.Method, r.URL.Path))
}

// apiStatus is the one place where hlsd error codes become HTTP statuses.
// EUNSUPPORTED is 415: a request body of a type the route does not take.
// ENOSPACE (a full disk) is 507 Insufficient Storage, for raw, multipart
// and tus uploads alike: the client may try again later.
// (A file that turns out not to be media is accepted with 201 and then
// fails with ingest's clear error, since it is only known once probed.)
func apiStatus(code string) int {
	switch code {
	case hlsd.EINVALID:
		return http.StatusBadRequest
	case hlsd.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case hlsd.EFORBIDDEN:
		return http.StatusForbidden
	case hlsd.ENOTFOUND:
		return http.StatusNotFound
	case hlsd.ECONFLICT:
		return http.StatusConflict
	case hlsd.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case hlsd.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case hlsd.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case hlsd.ENOSPACE:
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

// apiErrorBody is the JSON of every API error.
type apiErrorBody struct {
	Error apiErrorDetail `json:"error"`
}

type apiErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError writes err as a JSON error. Errors that are not *hlsd.Error are
// internal: the client gets a generic message and the log gets the detail.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	code := hlsd.ErrorCode(err)
	status := apiStatus(code)
	if status == http.StatusInternalServerError {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "api error",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
		code = hlsd.EINTERNAL
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hlsd"`)
	}
	s.writeJSON(w, status, apiErrorBody{Error: apiErrorDetail{Code: code, Message: hlsd.ErrorMessage(err)}})
}

// badAPIPath answers an API request whose path is malformed (encoded
// slashes, control characters; see badPath) with the API's JSON error.
func badAPIPath(w http.ResponseWriter) {
	writeJSONBody(w, http.StatusBadRequest, badAPIPathBody)
}

var badAPIPathBody = []byte(`{"error":{"code":"invalid","message":"the request path is malformed"}}` + "\n")

// writeJSON writes v as the JSON body of a response with the given status.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.logger.Error("encode api response", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"Internal error."}}`)
	}
	writeJSONBody(w, status, append(b, '\n'))
}

// writeJSONBody sends b, a JSON document, with the API's headers.
func writeJSONBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	h["X-Content-Type-Options"] = hdrNosniff
	w.WriteHeader(status)
	w.Write(b)
}

// decodeJSON reads a JSON object body into v: Content-Type must be JSON,
// unknown fields and trailing data are refused, and every failure is an
// EINVALID (or EUNSUPPORTED, ETOOLARGE) error saying what is wrong.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return hlsd.Errorf(hlsd.EUNSUPPORTED, "the request body must be JSON (Content-Type: application/json), not %q", ct)
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return hlsd.Errorf(hlsd.EINVALID, "the request body has data after its JSON object")
	}
	return nil
}

// jsonError turns a decoding error into a message a client can act on.
func jsonError(err error) error {
	var (
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooMany *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return hlsd.Errorf(hlsd.EINVALID, "the request body is empty; send a JSON object")
	case errors.As(err, &tooMany):
		return hlsd.Errorf(hlsd.ETOOLARGE, "the JSON body is larger than %d bytes", tooMany.Limit)
	case errors.As(err, &syntax):
		return hlsd.Errorf(hlsd.EINVALID, "the request body is not valid JSON (at byte %d): %v", syntax.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return hlsd.Errorf(hlsd.EINVALID, "the request body is not valid JSON: it ends too early")
	case errors.As(err, &typ):
		if typ.Field != "" {
			return hlsd.Errorf(hlsd.EINVALID, "field %q must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return hlsd.Errorf(hlsd.EINVALID, "the request body must be a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return hlsd.Errorf(hlsd.EINVALID, "unknown field %s in the request body", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return hlsd.Errorf(hlsd.EINVALID, "the request body is not valid JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return fmt.Sprintf("number (%s)", goKind)
}
