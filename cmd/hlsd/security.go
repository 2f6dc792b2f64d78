package main

import (
	"flag"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/signing"
)

// securityConfig is the part of serve's configuration that docs/security.md
// describes: playback signing, default visibility and encryption, rate and
// connection limits, framing.
type securityConfig struct {
	SigningKeys       []signing.Key
	signingKeys       signingKeys
	DefaultVisibility string
	Encrypt           bool
	MaxTokenTTL       time.Duration
	Limits            server.Limits
	MaxConns          int
	FrameAncestors    []string
	frameAncestors    string
	exempt            string
	// TrustedProxies are the reverse proxies whose forwarding headers are
	// honoured (--trusted-proxies).
	TrustedProxies []netip.Prefix
	trustedProxies string
	// Umask is the process umask of serve (--umask, default 077): what is
	// created in the data dir is private to hlsd's user unless it allows
	// more. Secrets (keys, tokens, sessions) are 0600/0700 whatever it is.
	Umask int
	umask string
}

// signingKeys is the repeatable --signing-key flag; values are checked by
// securityConfig.check, so a bad one is a one-line error. One value may
// also hold several keys separated by white space
// (HLSD_SIGNING_KEY="new:... old:...").
type signingKeys []string

func (k *signingKeys) String() string { return "" } // never print secrets

func (k *signingKeys) Set(v string) error {
	*k = append(*k, strings.Fields(v)...)
	return nil
}

func (c *securityConfig) register(fs *flag.FlagSet) {
	fs.Var(&c.signingKeys, "signing-key", "playback token `key` as kid:secret (or a bare secret of 16+ characters); repeat to rotate: the first signs, all verify (default: DATA/signing-keys, generated on first start)")
	fs.StringVar(&c.DefaultVisibility, "default-visibility", hlsd.VisibilityPublic, "visibility of uploads that do not choose: public, or signed (plays only with a playback token)")
	fs.BoolVar(&c.Encrypt, "encrypt", false, "AES-128 encrypt uploads that do not choose (encrypt=false in the upload turns it off)")
	fs.DurationVar(&c.MaxTokenTTL, "max-token-ttl", server.DefaultMaxTokenTTL, "longest lifetime of a playback token")
	fs.Float64Var(&c.Limits.APIRate, "api-rate", server.DefaultLimits.APIRate, "API requests per second per client address (-1: no limit)")
	fs.IntVar(&c.Limits.APIBurst, "api-burst", server.DefaultLimits.APIBurst, "API requests a client may send at once above --api-rate")
	fs.Float64Var(&c.Limits.AuthRate, "auth-rate", server.DefaultLimits.AuthRate, "sign-ins and playback tokens per second per client address (-1: no limit)")
	fs.IntVar(&c.Limits.AuthBurst, "auth-burst", server.DefaultLimits.AuthBurst, "sign-ins and playback tokens a client may ask at once")
	fs.IntVar(&c.Limits.UploadsPerHour, "max-uploads-per-hour", server.DefaultLimits.UploadsPerHour, "new uploads per hour per client address (-1: no limit)")
	fs.StringVar(&c.exempt, "rate-limit-exempt", "127.0.0.0/8,::1/128", "comma-separated client `networks` never rate-limited (default: loopback, i.e. local tools and a reverse proxy on this host, which should limit instead); empty: none")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated `networks` of reverse proxies whose X-Forwarded-For, X-Forwarded-Proto and Forwarded headers are honoured (client address for limits, logs and token binding; https for cookies and URLs); default: none")
	fs.StringVar(&c.umask, "umask", "077", "octal `umask` for everything serve and ffmpeg create in the data dir; 077: private to hlsd's user; 027: readable by the data dir's group too (docs/security.md); secrets stay private whatever it is")
	fs.IntVar(&c.MaxConns, "max-conns", server.DefaultMaxConns(), "most open client connections; more wait in the listen queue (0: no limit; default: the open-file limit, raised to its hard limit at start, less an eighth kept for files)")
	fs.StringVar(&c.frameAncestors, "frame-ancestors", "*", "space- or comma-separated `origins` whose pages may embed the /embed/ player (https://site.example), 'self', or *")
}

// check validates the flags after parsing.
func (c *securityConfig) check() error {
	c.SigningKeys = nil
	for _, v := range c.signingKeys {
		k, err := signing.ParseKey(v)
		if err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "--signing-key: %v", err)
		}
		c.SigningKeys = append(c.SigningKeys, k)
	}
	if len(c.SigningKeys) > 0 {
		if _, err := signing.NewKeyring(c.SigningKeys...); err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "--signing-key: %v", err)
		}
	}
	if !hlsd.ValidVisibility(c.DefaultVisibility) {
		return hlsd.Errorf(hlsd.EINVALID, "--default-visibility %q: want public or signed", c.DefaultVisibility)
	}
	if c.MaxTokenTTL < time.Second {
		return hlsd.Errorf(hlsd.EINVALID, "--max-token-ttl must be at least 1s")
	}
	if c.MaxConns < 0 {
		return hlsd.Errorf(hlsd.EINVALID, "--max-conns must be 0 (no limit) or more")
	}
	for name, v := range map[string]float64{"--api-rate": c.Limits.APIRate, "--auth-rate": c.Limits.AuthRate,
		"--api-burst": float64(c.Limits.APIBurst), "--auth-burst": float64(c.Limits.AuthBurst),
		"--max-uploads-per-hour": float64(c.Limits.UploadsPerHour)} {
		if v == 0 || (v < 0 && v != -1) {
			return hlsd.Errorf(hlsd.EINVALID, "%s must be positive, or -1 for no limit", name)
		}
	}
	var err error
	if c.Limits.Exempt, err = parseNetworks("--rate-limit-exempt", c.exempt); err != nil {
		return err
	}
	if c.TrustedProxies, err = parseNetworks("--trusted-proxies", c.trustedProxies); err != nil {
		return err
	}
	u, err := strconv.ParseUint(c.umask, 8, 32)
	if err != nil || u > 0o777 {
		return hlsd.Errorf(hlsd.EINVALID, "--umask %q: want an octal mask such as 077 or 027", c.umask)
	}
	if u&0o700 != 0 {
		return hlsd.Errorf(hlsd.EINVALID, "--umask %q would keep hlsd from its own files: leave the owner bits 0 (077, 027)", c.umask)
	}
	c.Umask = int(u)
	c.FrameAncestors = nil
	for _, o := range strings.FieldsFunc(c.frameAncestors, func(r rune) bool { return r == ',' || r == ' ' }) {
		c.FrameAncestors = append(c.FrameAncestors, o)
	}
	if len(c.FrameAncestors) == 0 {
		return hlsd.Errorf(hlsd.EINVALID, "--frame-ancestors is empty; use 'none' to forbid embedding, * to allow every site")
	}
	if len(c.FrameAncestors) == 1 && c.FrameAncestors[0] == "none" {
		c.FrameAncestors[0] = "'none'"
	}
	if len(c.FrameAncestors) == 1 && c.FrameAncestors[0] == "self" {
		c.FrameAncestors[0] = "'self'"
	}
	for _, o := range c.FrameAncestors {
		if err := server.ValidFrameAncestor(o); err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "--frame-ancestors: %v", err)
		}
	}
	return nil
}

// parseNetworks parses a comma-separated list of networks (192.0.2.0/24)
// or single addresses for the flag named flag.
func parseNetworks(flag, list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, hlsd.Errorf(hlsd.EINVALID, "%s: %q is not a network (192.0.2.0/24) or an address", flag, v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// keyring returns the playback signing keys: --signing-key values, else
// DATA/signing-keys, else a new random key saved there (mode 0600).
func (c *securityConfig) keyring(dataDir string, logger *slog.Logger) (*signing.Keyring, error) {
	keys := c.SigningKeys
	if len(keys) == 0 {
		path := filepath.Join(dataDir, signing.KeyFileName)
		var created bool
		var err error
		keys, created, err = signing.LoadOrCreate(path, time.Now())
		if err != nil {
			return nil, hlsd.Errorf(hlsd.EINVALID, "playback signing keys: %v", err)
		}
		if created {
			logger.Info("generated a playback signing key", "file", path, "kid", keys[0].ID)
		}
	}
	kr, err := signing.NewKeyring(keys...)
	if err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "--signing-key: %v", err)
	}
	return kr, nil
}
