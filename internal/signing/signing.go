// Package signing issues and checks playback tokens: short-lived, HMAC-signed
// grants to play one media, carried in the URL path so that every request a
// stock player makes (playlists, segments, keys) keeps them without player
// changes.
//
// A token is base64url(payload) "." base64url(HMAC-SHA256(secret, payload)),
// both without padding. The payload is binary and versioned:
//
//	version  1 byte (1)
//	kid      1 byte length + bytes (the key id that signed it)
//	media    1 byte length + bytes (the media id)
//	expiry   8 bytes big-endian unix seconds
//	ip       1 byte length (0, 4 or 16) + address bytes (optional binding)
//
// Keys live in a Keyring: the first key signs, every key verifies, so a new
// secret can be rolled out while links signed with the old one still play.
package signing

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Errors of Verify. They are distinct so that logs and tests can tell why a
// token was refused; at the HTTP edge every one of them is the same 403, so
// a client learns nothing it could use to forge a token.
var (
	ErrMissing    = errors.New("no playback token")
	ErrMalformed  = errors.New("malformed playback token")
	ErrUnknownKey = errors.New("playback token signed with an unknown key")
	ErrTampered   = errors.New("playback token signature does not match")
	ErrExpired    = errors.New("playback token expired")
	ErrOtherMedia = errors.New("playback token is for another media")
	ErrOtherIP    = errors.New("playback token is bound to another client address")
)

const (
	version = 1
	// MinSecretLen is the shortest accepted secret in bytes: HMAC-SHA256
	// keys shorter than 128 bits would be the weak point of the scheme.
	MinSecretLen = 16
	// maxField bounds the kid and media id (one length byte).
	maxField = 255
	// MaxTokenLen bounds the text of a token accepted by Parse, so a hostile
	// URL cannot make the server decode kilobytes.
	MaxTokenLen = 1024
	// SecretLen is the size of generated secrets.
	SecretLen = 32
)

// Key is one signing secret with its id. The id travels in every token so
// that the verifier picks the right secret without trying them all.
type Key struct {
	ID     string
	Secret []byte
}

// ParseKey reads a --signing-key value: "kid:secret", or a bare secret whose
// id is then derived from it (first 8 hex digits of its SHA-256), so the same
// secret always gets the same id. The secret is taken as text bytes and must
// be at least MinSecretLen long; the kid is 1 to 32 characters of [A-Za-z0-9_-].
func ParseKey(s string) (Key, error) {
	kid, secret, ok := strings.Cut(s, ":")
	if !ok {
		kid, secret = "", s
	}
	if len(secret) < MinSecretLen {
		return Key{}, fmt.Errorf("signing key secret must be at least %d characters", MinSecretLen)
	}
	if kid == "" {
		if ok {
			return Key{}, errors.New(`signing key id is empty: write "kid:secret" or a bare secret`)
		}
		sum := sha256.Sum256([]byte(secret))
		kid = hex.EncodeToString(sum[:4])
	}
	if !validKID(kid) {
		return Key{}, fmt.Errorf("signing key id %q: want 1 to 32 characters of letters, digits, '-' and '_'", kid)
	}
	return Key{ID: kid, Secret: []byte(secret)}, nil
}

// String returns the key in the form ParseKey reads.
func (k Key) String() string { return k.ID + ":" + string(k.Secret) }

func validKID(kid string) bool {
	if len(kid) == 0 || len(kid) > 32 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// NewKey returns a fresh random key: SecretLen bytes from crypto/rand,
// written as base64url text, with an id made of the date and random hex so
// that rotated keys sort and never collide.
func NewKey(now time.Time) Key {
	raw := make([]byte, SecretLen)
	rand.Read(raw)
	var r [3]byte
	rand.Read(r[:])
	return Key{
		ID:     now.UTC().Format("20060102") + "-" + hex.EncodeToString(r[:]),
		Secret: []byte(base64.RawURLEncoding.EncodeToString(raw)),
	}
}

// Keyring holds the keys that verify tokens; the first one signs. It is
// immutable once made and safe for concurrent use.
type Keyring struct {
	keys []Key
}

// NewKeyring returns a keyring whose first key signs. It refuses an empty
// list, duplicate ids and short secrets.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no signing key")
	}
	seen := map[string]bool{}
	kr := &Keyring{}
	for _, k := range keys {
		if !validKID(k.ID) {
			return nil, fmt.Errorf("signing key id %q is not valid", k.ID)
		}
		if len(k.Secret) < MinSecretLen {
			return nil, fmt.Errorf("signing key %q: secret shorter than %d bytes", k.ID, MinSecretLen)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("signing key id %q given twice", k.ID)
		}
		seen[k.ID] = true
		kr.keys = append(kr.keys, Key{ID: k.ID, Secret: bytes.Clone(k.Secret)})
	}
	return kr, nil
}

// SigningKeyID is the id of the key that signs new tokens.
func (kr *Keyring) SigningKeyID() string { return kr.keys[0].ID }

// Len is the number of keys.
func (kr *Keyring) Len() int { return len(kr.keys) }

func (kr *Keyring) key(kid string) []byte {
	for _, k := range kr.keys {
		if k.ID == kid {
			return k.Secret
		}
	}
	return nil
}

// Claims is what a token grants: playing MediaID until Expiry, from IP when
// IP is valid (the zero netip.Addr means any client).
type Claims struct {
	KeyID   string
	MediaID string
	Expiry  time.Time
	IP      netip.Addr
}

// Sign returns a token for c signed with the keyring's first key (c.KeyID is
// ignored and set to it). Expiry is kept to the second.
func (kr *Keyring) Sign(c Claims) (string, error) {
	k := kr.keys[0]
	c.KeyID = k.ID
	payload, err := c.marshal()
	if err != nil {
		return "", err
	}
	return encode(payload, mac(k.Secret, payload)), nil
}

func encode(payload, sig []byte) string {
	enc := base64.RawURLEncoding
	b := make([]byte, enc.EncodedLen(len(payload))+1+enc.EncodedLen(len(sig)))
	enc.Encode(b, payload)
	n := enc.EncodedLen(len(payload))
	b[n] = '.'
	enc.Encode(b[n+1:], sig)
	return string(b)
}

func mac(secret, payload []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(payload)
	return m.Sum(nil)
}

func (c Claims) marshal() ([]byte, error) {
	if c.KeyID == "" || len(c.KeyID) > maxField {
		return nil, errors.New("token key id must be 1 to 255 bytes")
	}
	if c.MediaID == "" || len(c.MediaID) > maxField {
		return nil, errors.New("token media id must be 1 to 255 bytes")
	}
	b := make([]byte, 0, 1+1+len(c.KeyID)+1+len(c.MediaID)+8+1+16)
	b = append(b, version, byte(len(c.KeyID)))
	b = append(b, c.KeyID...)
	b = append(b, byte(len(c.MediaID)))
	b = append(b, c.MediaID...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Expiry.Unix()))
	if c.IP.IsValid() {
		ip := c.IP.Unmap().AsSlice()
		b = append(b, byte(len(ip)))
		b = append(b, ip...)
	} else {
		b = append(b, 0)
	}
	return b, nil
}

// Parse decodes a token without checking its signature: it is what Verify
// runs first, exported for tests and tools. The returned payload is the
// signed bytes and sig the signature as sent.
func Parse(token string) (c Claims, payload, sig []byte, err error) {
	if token == "" {
		return Claims{}, nil, nil, ErrMissing
	}
	if len(token) > MaxTokenLen {
		return Claims{}, nil, nil, ErrMalformed
	}
	// base64's decoder skips '\r' and '\n': check the alphabet first so a
	// token has exactly one spelling.
	for i := 0; i < len(token); i++ {
		if c := token[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return Claims{}, nil, nil, ErrMalformed
		}
	}
	p64, s64, ok := strings.Cut(token, ".")
	if !ok || p64 == "" || s64 == "" {
		return Claims{}, nil, nil, ErrMalformed
	}
	enc := base64.RawURLEncoding.Strict()
	payload, err = enc.DecodeString(p64)
	if err != nil {
		return Claims{}, nil, nil, ErrMalformed
	}
	sig, err = enc.DecodeString(s64)
	if err != nil || len(sig) != sha256.Size {
		return Claims{}, nil, nil, ErrMalformed
	}
	c, err = unmarshal(payload)
	if err != nil {
		return Claims{}, nil, nil, err
	}
	return c, payload, sig, nil
}

func unmarshal(b []byte) (Claims, error) {
	var c Claims
	if len(b) < 1 || b[0] != version {
		return c, ErrMalformed
	}
	b = b[1:]
	field := func() (string, bool) {
		if len(b) < 1 || int(b[0]) == 0 || len(b) < 1+int(b[0]) {
			return "", false
		}
		s := string(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
		return s, true
	}
	var ok bool
	if c.KeyID, ok = field(); !ok {
		return Claims{}, ErrMalformed
	}
	if c.MediaID, ok = field(); !ok {
		return Claims{}, ErrMalformed
	}
	if len(b) < 9 {
		return Claims{}, ErrMalformed
	}
	exp := binary.BigEndian.Uint64(b)
	if exp > 1<<62 {
		return Claims{}, ErrMalformed
	}
	c.Expiry = time.Unix(int64(exp), 0).UTC()
	b = b[8:]
	n := int(b[0])
	b = b[1:]
	switch {
	case n == 0 && len(b) == 0:
	case (n == 4 || n == 16) && len(b) == n:
		c.IP, _ = netip.AddrFromSlice(b)
		if n == 16 && c.IP.Is4In6() {
			return Claims{}, ErrMalformed // marshal always unmaps
		}
	default:
		return Claims{}, ErrMalformed
	}
	return c, nil
}

// Verify checks that token grants playing mediaID at now from client (the
// zero Addr when the caller does not know it, which fails IP-bound tokens).
// The signature is checked before anything else of the payload is trusted,
// with hmac.Equal (constant time).
func (kr *Keyring) Verify(token, mediaID string, now time.Time, client netip.Addr) (Claims, error) {
	c, payload, sig, err := Parse(token)
	if err != nil {
		return Claims{}, err
	}
	secret := kr.key(c.KeyID)
	if secret == nil {
		return Claims{}, ErrUnknownKey
	}
	if !hmac.Equal(mac(secret, payload), sig) {
		return Claims{}, ErrTampered
	}
	if c.MediaID != mediaID {
		return Claims{}, ErrOtherMedia
	}
	if !now.Before(c.Expiry) {
		return Claims{}, ErrExpired
	}
	if c.IP.IsValid() && c.IP != client.Unmap() {
		return Claims{}, ErrOtherIP
	}
	return c, nil
}
