package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// corsAllowedHeaders are the request headers a cross-origin player may send
// beyond the CORS-safelisted ones: byte ranges and revalidation.
var corsAllowedHeaders = []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since"}

var (
	hdrStar         = []string{"*"}
	hdrVaryOrigin   = []string{"Origin"}
	hdrAllowMethods = []string{"GET, HEAD, OPTIONS"}
	hdrExpose       = []string{"Content-Length, Content-Range"}
	hdrRange        = []string{"Range"}
)

// cors decides the Access-Control-* headers of delivery responses. With
// "*" every origin may read (and nothing varies by origin); with a list, a
// listed Origin is echoed and responses carry Vary: Origin so caches keep
// one copy per origin.
type cors struct {
	any     bool
	origins map[string]bool
	maxAge  []string
}

func newCORS(origins []string, maxAge time.Duration) (*cors, error) {
	c := &cors{origins: map[string]bool{}, maxAge: []string{strconv.Itoa(int(maxAge / time.Second))}}
	for _, o := range origins {
		if o == "*" {
			c.any = true
			continue
		}
		if err := ValidOrigin(o); err != nil {
			return nil, err
		}
		c.origins[strings.ToLower(o)] = true
	}
	return c, nil
}

// ValidOrigin reports whether o is a serialized origin as browsers send it
// in the Origin header: scheme://host[:port], with nothing after.
func ValidOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("invalid CORS origin %q: want scheme://host[:port] or *", o)
	}
	return nil
}

// allowed returns the value for Access-Control-Allow-Origin, or nil when
// the request's origin may not read the response.
func (c *cors) allowed(r *http.Request) []string {
	if c.any {
		return hdrStar
	}
	o := r.Header["Origin"]
	if len(o) == 1 && (c.origins[o[0]] || c.origins[strings.ToLower(o[0])]) {
		return o // the request's own slice: read-only, no allocation
	}
	return nil
}

// simple sets the CORS headers of an actual (non-preflight) response.
func (c *cors) simple(h http.Header, r *http.Request) {
	if !c.any {
		h["Vary"] = hdrVaryOrigin
	}
	if ao := c.allowed(r); ao != nil {
		h["Access-Control-Allow-Origin"] = ao
		h["Access-Control-Expose-Headers"] = hdrExpose
	}
}

// handleOptions answers OPTIONS on delivery routes: a CORS preflight gets
// 204 with the allowed methods and headers; a plain OPTIONS gets 204 with
// Allow.
func (s *Server) handleOptions(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Allow"] = hdrAllowMethods
	if !s.cors.any {
		h["Vary"] = hdrVaryOrigin
	}
	_, preflight := r.Header["Access-Control-Request-Method"]
	if ao := s.cors.allowed(r); preflight && ao != nil {
		h["Access-Control-Allow-Origin"] = ao
		h["Access-Control-Allow-Methods"] = hdrAllowMethods
		h["Access-Control-Allow-Headers"] = allowHeaders(r.Header.Values("Access-Control-Request-Headers"))
		h["Access-Control-Max-Age"] = s.cors.maxAge
	}
	w.WriteHeader(http.StatusNoContent)
}

// allowHeaders returns Range plus every requested header that is allowed,
// as the requesting browser spelled it.
func allowHeaders(requested []string) []string {
	out := "Range"
	for _, v := range requested {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" || strings.EqualFold(name, "Range") {
				continue
			}
			for _, a := range corsAllowedHeaders {
				if strings.EqualFold(name, a) {
					out += ", " + name
					break
				}
			}
		}
	}
	if out == "Range" {
		return hdrRange
	}
	return []string{out}
}
