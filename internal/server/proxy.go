package server

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"strings"
)

// Requests through a trusted reverse proxy (Config.TrustedProxies,
// hlsd serve --trusted-proxies). Only a request whose peer address is in
// one of those networks has its X-Forwarded-For / X-Forwarded-Proto (or
// RFC 7239 Forwarded) headers honoured; from anyone else they are ignored,
// so a client cannot choose its own address. The derived client address
// replaces r.RemoteAddr, so that rate limits, --rate-limit-exempt, the
// client binding of playback tokens and the access log all see the client,
// not the proxy. Without trusted proxies the middleware is not installed.

// proxiedTLS marks a request that reached a trusted proxy over HTTPS: its
// r.TLS is set to this empty state, so that everything that asks "is this
// request HTTPS" (the session cookie's Secure flag, tus' absolute upload
// URLs) answers as the client sees it. It is never modified.
var proxiedTLS = &tls.ConnectionState{}

// fromProxies applies the forwarding headers of requests whose peer is a
// trusted proxy. Other requests cost one address parse and no allocation.
func (s *Server) fromProxies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if peer, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && s.trustedProxy(peer.Addr().Unmap()) {
			s.applyForwarded(r)
		}
		next.ServeHTTP(w, r)
	})
}

// trustedProxy reports whether a is in Config.TrustedProxies.
func (s *Server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// applyForwarded rewrites r as the client sent it to the proxy. The client
// is the rightmost address of X-Forwarded-For (or of Forwarded's for=) that
// is not itself a trusted proxy: entries to its left were written by the
// client and prove nothing. X-Forwarded-For wins over Forwarded when both
// are present, as nginx and Caddy set (or append to) X-Forwarded-For.
func (s *Server) applyForwarded(r *http.Request) {
	var client netip.Addr
	var https, found bool
	if xff := r.Header["X-Forwarded-For"]; len(xff) > 0 {
		client, found = s.rightmostClient(xff, false)
	} else if fwd := r.Header["Forwarded"]; len(fwd) > 0 {
		client, found = s.rightmostClient(fwd, true)
	}
	if found {
		r.RemoteAddr = client.String()
	}
	if xfp := r.Header["X-Forwarded-Proto"]; len(xfp) > 0 {
		https = strings.EqualFold(strings.TrimSpace(lastItem(xfp[len(xfp)-1], ',')), "https")
	} else if fwd := r.Header["Forwarded"]; len(fwd) > 0 {
		https = strings.EqualFold(forwardedParam(lastItem(fwd[len(fwd)-1], ','), "proto"), "https")
	}
	if https && r.TLS == nil {
		r.TLS = proxiedTLS
	}
}

// rightmostClient walks the comma-separated list of header values from the
// right: each trusted proxy is skipped; the first other address is the
// client. An entry that is not an address ("unknown", an obfuscated name)
// stops the walk at the last address seen. When every entry is a trusted
// proxy, the leftmost one is the client.
func (s *Server) rightmostClient(values []string, forwarded bool) (netip.Addr, bool) {
	var client netip.Addr
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			item := lastItem(v, ',')
			v = v[:max(0, len(v)-len(item)-1)]
			if forwarded {
				item = forwardedParam(item, "for")
			}
			a, ok := parseHostAddr(strings.TrimSpace(item))
			if !ok {
				return client, client.IsValid()
			}
			client = a
			if !s.trustedProxy(a) {
				return a, true
			}
		}
	}
	return client, client.IsValid()
}

// lastItem returns what follows the last sep in v (all of v without one).
func lastItem(v string, sep byte) string {
	if i := strings.LastIndexByte(v, sep); i >= 0 {
		return v[i+1:]
	}
	return v
}

// forwardedParam returns the value of name in one Forwarded element
// ("for=192.0.2.60;proto=https;by=203.0.113.43"), unquoted.
func forwardedParam(elem, name string) string {
	for elem != "" {
		var pair string
		pair, elem, _ = strings.Cut(elem, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(k, name) {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// parseHostAddr parses "192.0.2.1", "192.0.2.1:80", "2001:db8::1" or
// "[2001:db8::1]:80" into an address.
func parseHostAddr(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		if a, err := netip.ParseAddr(h[1 : len(h)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}
