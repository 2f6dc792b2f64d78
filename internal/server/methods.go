package server

import (
	"net/http"
	"strings"

	"github.com/hlsd/hlsd"
)

// apiMethods are the methods the REST API uses.
var apiMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete}

// allowedMethods returns the methods (comma-separated) for which r's path
// has an API route of its own, by asking the mux what it would route each
// method to. The API's catch-all would otherwise answer a wrong method on a
// real route (GET on a POST-only route) with 404, hiding that the route
// exists but takes another method.
func (s *Server) allowedMethods(r *http.Request) string {
	var allowed []string
	for _, m := range apiMethods {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != APIPrefix+"/" && !strings.HasPrefix(pattern, "OPTIONS ") {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		return ""
	}
	return strings.Join(append(allowed, http.MethodOptions), ", ")
}

// methodNotAllowed answers a wrong method on an API route: 405 with Allow.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	s.writeJSON(w, http.StatusMethodNotAllowed, apiErrorBody{Error: apiErrorDetail{
		Code:    "method_not_allowed",
		Message: hlsd.Errorf(hlsd.EINVALID, "%s is not allowed on %s: use %s", r.Method, r.URL.Path, allow).Message,
	}})
}
