package signing

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	t0   = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	keyA = Key{ID: "a", Secret: []byte("secret-number-one-0123456789")}
	keyB = Key{ID: "b", Secret: []byte("secret-number-two-0123456789")}
)

func mustRing(t *testing.T, keys ...Key) *Keyring {
	t.Helper()
	kr, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func mustSign(t *testing.T, kr *Keyring, c Claims) string {
	t.Helper()
	tok, err := kr.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		name, in, wantID, wantSecret, wantErr string
	}{
		{"with kid", "k1:0123456789abcdef", "k1", "0123456789abcdef", ""},
		{"secret may hold colons", "k1:0123:456789abcdef", "k1", "0123:456789abcdef", ""},
		{"bare secret gets a derived id", "0123456789abcdef", "", "0123456789abcdef", ""},
		{"short secret", "k1:short", "", "", "at least 16"},
		{"short bare secret", "short", "", "", "at least 16"},
		{"empty kid", ":0123456789abcdef", "", "", "id is empty"},
		{"bad kid", "k/1:0123456789abcdef", "", "", "signing key id"},
		{"long kid", strings.Repeat("k", 33) + ":0123456789abcdef", "", "", "signing key id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKey(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tt.in, err)
			}
			if tt.wantID != "" && k.ID != tt.wantID {
				t.Errorf("ID = %q, want %q", k.ID, tt.wantID)
			}
			if tt.wantID == "" && len(k.ID) != 8 {
				t.Errorf("derived ID = %q, want 8 hex digits", k.ID)
			}
			if string(k.Secret) != tt.wantSecret {
				t.Errorf("Secret = %q, want %q", k.Secret, tt.wantSecret)
			}
			again, _ := ParseKey(k.String())
			if again.ID != k.ID || string(again.Secret) != string(k.Secret) {
				t.Errorf("ParseKey(String()) = %v, want %v", again, k)
			}
		})
	}
	a, _ := ParseKey("0123456789abcdef")
	b, _ := ParseKey("0123456789abcdef")
	c, _ := ParseKey("0123456789abcdeX")
	if a.ID != b.ID || a.ID == c.ID {
		t.Errorf("derived ids: same secret %q/%q, other secret %q: want equal then different", a.ID, b.ID, c.ID)
	}
}

func TestNewKeyring(t *testing.T) {
	tests := []struct {
		name    string
		keys    []Key
		wantErr string
	}{
		{"none", nil, "no signing key"},
		{"duplicate id", []Key{keyA, {ID: "a", Secret: keyB.Secret}}, "twice"},
		{"short secret", []Key{{ID: "a", Secret: []byte("short")}}, "shorter"},
		{"bad id", []Key{{ID: "a b", Secret: keyA.Secret}}, "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeyring(tt.keys...); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewKeyring error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	kr := mustRing(t, keyA)
	ip4 := netip.MustParseAddr("192.0.2.7")
	ip6 := netip.MustParseAddr("2001:db8::1")
	valid := mustSign(t, kr, Claims{MediaID: "abc123def456", Expiry: t0.Add(time.Hour)})
	bound4 := mustSign(t, kr, Claims{MediaID: "abc123def456", Expiry: t0.Add(time.Hour), IP: ip4})
	bound6 := mustSign(t, kr, Claims{MediaID: "abc123def456", Expiry: t0.Add(time.Hour), IP: ip6})
	mapped := mustSign(t, kr, Claims{MediaID: "abc123def456", Expiry: t0.Add(time.Hour), IP: netip.MustParseAddr("::ffff:192.0.2.7")})
	otherKey := mustSign(t, mustRing(t, Key{ID: "a", Secret: keyB.Secret}), Claims{MediaID: "abc123def456", Expiry: t0.Add(time.Hour)})
	unknownKid := mustSign(t, mustRing(t, keyB), Claims{MediaID: "abc123def456", Expiry: t0.Add(time.Hour)})

	// A tampered payload: the media id changed, the signature kept.
	c, payload, sig, err := Parse(valid)
	if err != nil {
		t.Fatal(err)
	}
	c.MediaID = "zzz123def456"
	forged, _ := c.marshal()
	tamperedPayload := encode(forged, sig)
	// A flipped signature bit.
	sig2 := append([]byte{}, sig...)
	sig2[0] ^= 1
	tamperedSig := encode(payload, sig2)

	tests := []struct {
		name   string
		token  string
		media  string
		now    time.Time
		client netip.Addr
		want   error
	}{
		{"valid", valid, "abc123def456", t0, netip.Addr{}, nil},
		{"valid one second before expiry", valid, "abc123def456", t0.Add(time.Hour - time.Second), netip.Addr{}, nil},
		{"expired at expiry", valid, "abc123def456", t0.Add(time.Hour), netip.Addr{}, ErrExpired},
		{"expired", valid, "abc123def456", t0.Add(2 * time.Hour), netip.Addr{}, ErrExpired},
		{"missing", "", "abc123def456", t0, netip.Addr{}, ErrMissing},
		{"other media", valid, "other0000000", t0, netip.Addr{}, ErrOtherMedia},
		{"tampered payload", tamperedPayload, "zzz123def456", t0, netip.Addr{}, ErrTampered},
		{"tampered signature", tamperedSig, "abc123def456", t0, netip.Addr{}, ErrTampered},
		{"signed with another secret", otherKey, "abc123def456", t0, netip.Addr{}, ErrTampered},
		{"unknown kid", unknownKid, "abc123def456", t0, netip.Addr{}, ErrUnknownKey},
		{"no dot", "abcdef", "abc123def456", t0, netip.Addr{}, ErrMalformed},
		{"bad base64", "ab$cd.efgh", "abc123def456", t0, netip.Addr{}, ErrMalformed},
		{"short signature", strings.Split(valid, ".")[0] + ".AAAA", "abc123def456", t0, netip.Addr{}, ErrMalformed},
		{"too long", strings.Repeat("A", MaxTokenLen+1), "abc123def456", t0, netip.Addr{}, ErrMalformed},
		{"ip bound, same ip", bound4, "abc123def456", t0, ip4, nil},
		{"ip bound, same ip as v4-mapped", bound4, "abc123def456", t0, netip.MustParseAddr("::ffff:192.0.2.7"), nil},
		{"ip bound, other ip", bound4, "abc123def456", t0, netip.MustParseAddr("192.0.2.8"), ErrOtherIP},
		{"ip bound, unknown client", bound4, "abc123def456", t0, netip.Addr{}, ErrOtherIP},
		{"ipv6 bound", bound6, "abc123def456", t0, ip6, nil},
		{"mapped binding stored as v4", mapped, "abc123def456", t0, ip4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kr.Verify(tt.token, tt.media, tt.now, tt.client)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if err == nil && (got.MediaID != tt.media || got.KeyID != "a") {
				t.Errorf("claims = %+v, want media %q signed by a", got, tt.media)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	old := mustRing(t, keyA)
	oldTok := mustSign(t, old, Claims{MediaID: "m", Expiry: t0.Add(time.Hour)})
	rotated := mustRing(t, keyB, keyA) // keyB is new and signs; keyA still verifies
	newTok := mustSign(t, rotated, Claims{MediaID: "m", Expiry: t0.Add(time.Hour)})
	if c, _, _, _ := Parse(newTok); c.KeyID != "b" {
		t.Fatalf("new token signed by %q, want b", c.KeyID)
	}
	for name, tok := range map[string]string{"old token": oldTok, "new token": newTok} {
		if _, err := rotated.Verify(tok, "m", t0, netip.Addr{}); err != nil {
			t.Errorf("%s after rotation: %v", name, err)
		}
	}
	retired := mustRing(t, keyB)
	if _, err := retired.Verify(oldTok, "m", t0, netip.Addr{}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old token after retiring its key: %v, want ErrUnknownKey", err)
	}
}

func TestTokenIsURLPathSafe(t *testing.T) {
	kr := mustRing(t, NewKey(t0))
	tok := mustSign(t, kr, Claims{MediaID: "abc123def456", Expiry: t0.Add(time.Hour), IP: netip.MustParseAddr("2001:db8::1")})
	for _, c := range tok {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			t.Fatalf("token %q holds %q, which would need escaping in a URL path", tok, c)
		}
	}
	if _, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1]); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFileName)
	keys, created, err := LoadOrCreate(path, t0)
	if err != nil || !created || len(keys) != 1 {
		t.Fatalf("first LoadOrCreate = %v, %v, %v; want one new key", keys, created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %o, want 600", perm)
	}
	again, created, err := LoadOrCreate(path, t0)
	if err != nil || created || len(again) != 1 || again[0].ID != keys[0].ID || string(again[0].Secret) != string(keys[0].Secret) {
		t.Fatalf("second LoadOrCreate = %v, %v, %v; want the saved key %v", again, created, err, keys[0])
	}
	if len(keys[0].Secret) < MinSecretLen {
		t.Errorf("generated secret of %d bytes", len(keys[0].Secret))
	}

	t.Run("rotated file", func(t *testing.T) {
		p := filepath.Join(dir, "rotated")
		os.WriteFile(p, []byte("# comment\n\nnew:"+string(keyB.Secret)+"\nold:"+string(keyA.Secret)+"\n"), 0o600)
		keys, _, err := LoadOrCreate(p, t0)
		if err != nil || len(keys) != 2 || keys[0].ID != "new" || keys[1].ID != "old" {
			t.Fatalf("got %v, %v; want new then old", keys, err)
		}
	})
	t.Run("bad line", func(t *testing.T) {
		p := filepath.Join(dir, "bad")
		os.WriteFile(p, []byte("k:short\n"), 0o600)
		if _, _, err := LoadOrCreate(p, t0); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Fatalf("error = %v, want one naming line 1", err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		p := filepath.Join(dir, "empty")
		os.WriteFile(p, nil, 0o600)
		if _, _, err := LoadOrCreate(p, t0); err == nil || !strings.Contains(err.Error(), "no key") {
			t.Fatalf("error = %v, want 'holds no key'", err)
		}
	})
}
