package server

import (
	"fmt"
	"net/http"
	"strings"
)

// Security headers of HTML pages (docs/security.md). Every page gets a
// strict Content-Security-Policy (uiCSP: own origin only, no inline
// script), nosniff, a same-origin Referrer-Policy, and frame-ancestors:
// 'none' for pages that must never be framed (library, watch, sign-in:
// clickjacking), the --frame-ancestors list for the embed player.

// pageHeaderValues are the precomputed header values of pages.
type pageHeaderValues struct {
	cspPage, cspEmbed []string
}

// newPageHeaders checks the frame-ancestors origins and builds the
// policies. Each origin is "*", "'self'", or scheme://host[:port] (a
// "*." wildcard host is allowed, as CSP allows it).
func newPageHeaders(frameAncestors []string) (pageHeaderValues, error) {
	fa := "*"
	if len(frameAncestors) > 0 {
		for _, o := range frameAncestors {
			if err := ValidFrameAncestor(o); err != nil {
				return pageHeaderValues{}, err
			}
		}
		fa = strings.Join(frameAncestors, " ")
	}
	return pageHeaderValues{
		cspPage:  []string{uiCSP + "; frame-ancestors 'none'"},
		cspEmbed: []string{uiCSP + "; frame-ancestors " + fa},
	}, nil
}

// ValidFrameAncestor checks one --frame-ancestors source.
func ValidFrameAncestor(o string) error {
	if o == "*" || o == "'self'" || o == "'none'" {
		return nil
	}
	scheme, host, ok := strings.Cut(o, "://")
	if !ok || (scheme != "https" && scheme != "http") || host == "" || strings.ContainsAny(host, "/ ;,'\"") {
		return fmt.Errorf("frame ancestor %q: want https://host[:port], *, or 'self'", o)
	}
	return nil
}

var (
	hdrReferrer  = []string{"same-origin"}
	hdrFrameDeny = []string{"DENY"}
	hdrCOOP      = []string{"same-origin"}
)

// SetPageHeaders sets the security headers of an HTML page on h; embed
// says whether the page is the embeddable player (framed by the
// --frame-ancestors sites) rather than a page that is never framed.
func (s *Server) SetPageHeaders(h http.Header, embed bool) {
	h["X-Content-Type-Options"] = hdrNosniff
	h["Referrer-Policy"] = hdrReferrer
	if embed {
		h["Content-Security-Policy"] = s.headers.cspEmbed
		delete(h, "X-Frame-Options")
		return
	}
	h["Content-Security-Policy"] = s.headers.cspPage
	h["X-Frame-Options"] = hdrFrameDeny
	h["Cross-Origin-Opener-Policy"] = hdrCOOP
}

// PageHeaders is middleware that sets the page security headers before
// next runs (next may still override them), for HTML handlers added
// outside ui.go.
func (s *Server) PageHeaders(embed bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.SetPageHeaders(w.Header(), embed)
		next.ServeHTTP(w, r)
	})
}
