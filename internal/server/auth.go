package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
)

// Sessions of the web UI. The cookie holds its expiry and a random session
// id, with an HMAC of both keyed by a key derived from the API token; the
// server keeps the ids of live sessions (session.go, DATA/sessions).
// Signing out removes the id, so that session ends even for a copied
// cookie; changing the API token changes the key and signs every browser
// out.
const (
	SessionCookie   = "hlsd_session"
	SessionLifetime = 7 * 24 * time.Hour
	// sessionKeyLabel separates the session key from other uses of the token.
	sessionKeyLabel = "hlsd session v2"
)

// requireAuth lets a request through when it carries the API token as
// "Authorization: Bearer TOKEN", or a valid session cookie; a cookie alone
// must also pass the CSRF check on unsafe methods. OPTIONS (CORS preflights
// and tus discovery, which browsers send without credentials) passes.
//
// A refused credential is logged once, with the client's address, and a
// refused bearer token counts against the sign-in limit (--auth-rate, the
// refused-credentials bucket that wrong sign-ins also take from): once a
// client has used it up, its requests with a bearer token (and its
// sign-ins) get 429 before the token is even compared, so the API cannot
// be used to guess the token faster than the sign-in form.
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		bearer := r.Header.Get("Authorization") != ""
		limited := bearer && s.limits.refused != nil && !s.limits.exempted(clientAddr(r))
		if limited {
			if ok, wait := s.limits.refused.check(clientKey(r), s.now()); !ok {
				s.tooMany(w, r, wait, "refused credentials")
				return
			}
		}
		if err := s.authenticate(r); err != nil {
			if bearer || hasCookie(r, SessionCookie) {
				s.logger.LogAttrs(r.Context(), slog.LevelWarn, "credential refused",
					slog.String("remote", r.RemoteAddr), slog.String("method", r.Method),
					slog.String("path", r.URL.Path), slog.String("reason", hlsd.ErrorMessage(err)))
			}
			if limited {
				s.limits.refused.allow(clientKey(r), s.now())
			}
			s.apiError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hasCookie reports whether r carries a cookie of that name.
func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
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

// sessionValue returns the cookie value of session id ending at expiry:
// base64url(8-byte big-endian unix expiry | 16-byte id | HMAC-SHA256(key,
// the 24 bytes before)).
func (s *Server) sessionValue(id sessionID, expiry time.Time) string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)+sha256.Size), uint64(expiry.Unix()))
	b = append(b, id[:]...)
	m := hmac.New(sha256.New, s.sessionKey())
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b))
}

// setSession signs the browser in for SessionLifetime: the web UI calls it
// once the user has given the API token.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request) error {
	expiry := time.Now().Add(SessionLifetime)
	id, err := s.sessions.add(expiry)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    s.sessionValue(id, expiry),
		Path:     "/",
		Expires:  expiry,
		MaxAge:   int(SessionLifetime / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil, // also behind a trusted proxy that got HTTPS (proxy.go)
		SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// endSession signs the browser out: its session id is forgotten by the
// server (so the cookie is worthless wherever it was copied) and the
// cookie expired.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	var err error
	if id, ok := s.session(r); ok {
		err = s.sessions.remove(id)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	return err
}

// hasSession reports whether r carries a live session cookie.
func (s *Server) hasSession(r *http.Request) bool {
	_, ok := s.session(r)
	return ok
}

// session returns the id of r's session when its cookie is signed with the
// current token, unexpired, and still live on the server.
func (s *Server) session(r *http.Request) (sessionID, bool) {
	var id sessionID
	if s.cfg.APIToken == "" || s.sessions == nil {
		return id, false
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return id, false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) != 8+len(id)+sha256.Size {
		return id, false
	}
	m := hmac.New(sha256.New, s.sessionKey())
	m.Write(b[:8+len(id)])
	if !hmac.Equal(m.Sum(nil), b[8+len(id):]) {
		return id, false
	}
	copy(id[:], b[8:])
	now := time.Now()
	if now.Unix() >= int64(binary.BigEndian.Uint64(b[:8])) || !s.sessions.valid(id, now) {
		return id, false
	}
	return id, true
}
