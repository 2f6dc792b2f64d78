package signing

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzParseToken feeds arbitrary text to Parse and Verify: they must never
// panic, anything Parse accepts must re-encode to exactly the same token
// (one encoding per token, so no two spellings of one grant), and Verify
// must never accept a token the fuzzer made up without the secret.
func FuzzParseToken(f *testing.F) {
	kr, err := NewKeyring(keyA)
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range []Claims{
		{MediaID: "abc123def456", Expiry: t0},
		{MediaID: "abc123def456", Expiry: t0, IP: netip.MustParseAddr("192.0.2.1")},
		{MediaID: "x", Expiry: time.Unix(0, 0), IP: netip.MustParseAddr("2001:db8::1")},
	} {
		tok, err := kr.Sign(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add("")
	f.Add(".")
	f.Add("AQ.AA")
	f.Add("not a token")
	f.Fuzz(func(t *testing.T, tok string) {
		c, payload, sig, err := Parse(tok)
		if err == nil {
			if again := encode(payload, sig); again != tok {
				t.Fatalf("Parse(%q) accepted a token that re-encodes as %q", tok, again)
			}
			re, merr := c.marshal()
			if merr != nil || string(re) != string(payload) {
				t.Fatalf("claims %+v re-marshal to %x (%v), payload was %x", c, re, merr, payload)
			}
		}
		if _, err := kr.Verify(tok, c.MediaID, t0.Add(-time.Hour), c.IP); err == nil {
			// Only tokens made by Sign verify: the seeds. Anything else
			// that verifies is a forgery.
			want, _ := kr.Sign(c)
			if want != tok {
				t.Fatalf("Verify accepted %q, which Sign never made", tok)
			}
		}
	})
}
