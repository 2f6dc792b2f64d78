package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
)

// Sessions of the web UI. The cookie holds its expiry and an HMAC of it,
// keyed by a key derived from the API token: no server-side state, and
// changing the token signs every browser out.
const (
	SessionCookie   = "hlsd_session"
	SessionLifetime = 7 * 24 * time.Hour
	// sessionKeyLabel separates the session key from other uses of the token.
	sessionKeyLabel = "hlsd session v1"
)

// requireAuth lets a request through when it carries the API token as
// "Authorization: Bearer TOKEN", or a valid session cookie; a cookie alone
// must also pass the CSRF check on unsafe methods. OPTIONS (CORS preflights
// and tus discovery, which browsers send without credentials) passes.
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.authenticate(r); err != nil {
			s.apiError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate returns nil for an authorized request, else EUNAUTHORIZED or
// (for a cross-site request riding on the cookie) EFORBIDDEN.
func (s *Server) authenticate(r *http.Request) error {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, token, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return hlsd.Errorf(hlsd.EUNAUTHORIZED, "unsupported authorization scheme %q: send Authorization: Bearer TOKEN", scheme)
		}
		if !s.tokenMatches(strings.TrimSpace(token)) {
			return hlsd.Errorf(hlsd.EUNAUTHORIZED, "the API token is wrong")
		}
		return nil
	}
	if s.hasSession(r) {
		if !safeMethod(r.Method) && !sameOrigin(r) {
			return hlsd.Errorf(hlsd.EFORBIDDEN, "cross-site request refused: a session cookie is only accepted from hlsd's own pages")
		}
		return nil
	}
	return hlsd.Errorf(hlsd.EUNAUTHORIZED, "missing API token: send Authorization: Bearer TOKEN")
}

// tokenMatches compares in constant time. Both sides are hashed first so
// that the comparison takes the same time whatever the lengths.
func (s *Server) tokenMatches(token string) bool {
	got := sha256.Sum256([]byte(token))
	want := sha256.Sum256([]byte(s.cfg.APIToken))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && s.cfg.APIToken != ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin is the CSRF check of cookie-authenticated unsafe requests:
// Sec-Fetch-Site (sent by current browsers) must be same-origin or none
// (typed by the user); without it, the Origin's host must be the Host.
// A request with neither header is refused.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// sessionKey is HMAC-SHA256(token, "hlsd session v1").
func (s *Server) sessionKey() []byte {
	m := hmac.New(sha256.New, []byte(s.cfg.APIToken))
	m.Write([]byte(sessionKeyLabel))
	return m.Sum(nil)
}

// sessionValue returns the cookie value for a session ending at expiry:
// base64url(8-byte big-endian unix expiry | HMAC-SHA256(key, those 8 bytes)).
func (s *Server) sessionValue(expiry time.Time) string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+sha256.Size), uint64(expiry.Unix()))
	m := hmac.New(sha256.New, s.sessionKey())
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b))
}

// setSession signs the browser in for SessionLifetime: the web UI calls it
// once the user has given the API token.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request) {
	expiry := time.Now().Add(SessionLifetime)
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    s.sessionValue(expiry),
		Path:     "/",
		Expires:  expiry,
		MaxAge:   int(SessionLifetime / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// clearSession signs the browser out by expiring its cookie.
func (s *Server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
}

// hasSession reports whether r carries an unexpired session cookie signed
// with the current token.
func (s *Server) hasSession(r *http.Request) bool {
	if s.cfg.APIToken == "" {
		return false
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) != 8+sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, s.sessionKey())
	m.Write(b[:8])
	if !hmac.Equal(m.Sum(nil), b[8:]) {
		return false
	}
	return time.Now().Unix() < int64(binary.BigEndian.Uint64(b[:8]))
}
