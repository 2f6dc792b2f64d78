package hls

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Decimals written for EXTINF durations and FRAME-RATE. The parser rounds
// to the same precision, so whatever it reads is written back unchanged.
const (
	durationDecimals  = 6
	frameRateDecimals = 3
)

// itemError is a validation failure of one element of a playlist; the
// parser turns the index into a line number, the writer into a position.
type itemError struct {
	what  string // "variant", "alternative", "segment" or "" for the playlist
	index int
	err   error
}

func (e *itemError) Error() string {
	if e.what == "" {
		return e.err.Error()
	}
	return fmt.Sprintf("%s %d: %v", e.what, e.index+1, e.err)
}

func (e *itemError) Unwrap() error { return e.err }

// MinVersion returns the lowest EXT-X-VERSION the playlist's tags need:
// 7 for INSTREAM-ID SERVICE values, otherwise 1 (RFC 8216 section 7).
func (p *Multivariant) MinVersion() int {
	v := 1
	for i := range p.Alternatives {
		if strings.HasPrefix(p.Alternatives[i].InstreamID, "SERVICE") {
			v = 7
		}
	}
	return v
}

// MinVersion returns the lowest EXT-X-VERSION the playlist's tags need
// (RFC 8216 section 7): 2 for an IV, 3 for non-integer EXTINF durations,
// 4 for byte ranges, 5 for SAMPLE-AES and 6 for EXT-X-MAP.
func (p *Media) MinVersion() int {
	v := 1
	if p.Map != nil {
		v = 6
	}
	var buf [32]byte
	for i := range p.Segments {
		s := &p.Segments[i]
		if v < 3 && bytes.IndexByte(formatFloat(buf[:0], s.Duration, durationDecimals), '.') >= 0 {
			v = 3
		}
		if s.ByteRange != nil {
			v = max(v, 4)
		}
		if k := s.Key; k != nil {
			if k.IV != "" {
				v = max(v, 2)
			}
			if k.Method == "SAMPLE-AES" {
				v = max(v, 5)
			}
		}
	}
	return v
}

// Duration returns the playlist's length in seconds: the sum of its EXTINF
// durations.
func (p *Media) Duration() float64 {
	var d float64
	for i := range p.Segments {
		d += p.Segments[i].Duration
	}
	return d
}

// ComputedTargetDuration returns the smallest valid EXT-X-TARGETDURATION:
// the longest EXTINF rounded to the nearest integer, and at least 1.
func (p *Media) ComputedTargetDuration() int {
	t := 1
	for i := range p.Segments {
		t = max(t, roundDuration(p.Segments[i].Duration))
	}
	return t
}

// roundDuration rounds an EXTINF to the nearest integer, as the target
// duration rule of RFC 8216 section 4.3.3.1 does.
func roundDuration(d float64) int {
	if !(d <= maxFloat) { // NaN or too large: validation reports it
		return 0
	}
	return int(math.Round(d))
}

// validate reports the first reason the playlist cannot be written as a
// valid multivariant playlist.
func (p *Multivariant) validate() error {
	if p.Version < 0 {
		return &itemError{err: fmt.Errorf("invalid version %d", p.Version)}
	}
	if len(p.Variants) == 0 {
		return &itemError{err: errors.New("no variants")}
	}
	for i := range p.Alternatives {
		a := &p.Alternatives[i]
		if err := a.check(); err != nil {
			return &itemError{"alternative", i, err}
		}
		for j := range i {
			b := &p.Alternatives[j]
			if a.Type != b.Type || a.GroupID != b.GroupID {
				continue
			}
			if a.Name == b.Name {
				return &itemError{"alternative", i, fmt.Errorf("duplicate NAME %q in group %q", a.Name, a.GroupID)}
			}
			if a.Default && b.Default {
				return &itemError{"alternative", i, fmt.Errorf("second DEFAULT=YES in group %q", a.GroupID)}
			}
		}
	}
	for i := range p.Variants {
		v := &p.Variants[i]
		if err := v.check(); err != nil {
			return &itemError{"variant", i, err}
		}
		if v.Audio != "" && !p.hasGroup("AUDIO", v.Audio) {
			return &itemError{"variant", i, fmt.Errorf("AUDIO group %q has no EXT-X-MEDIA", v.Audio)}
		}
	}
	return nil
}

func (p *Multivariant) hasGroup(typ, id string) bool {
	for i := range p.Alternatives {
		if p.Alternatives[i].Type == typ && p.Alternatives[i].GroupID == id {
			return true
		}
	}
	return false
}

// check reports why the alternative is not a valid EXT-X-MEDIA tag.
func (a *Alternative) check() error {
	switch a.Type {
	case "AUDIO", "VIDEO", "SUBTITLES", "CLOSED-CAPTIONS":
	case "":
		return errors.New("missing TYPE")
	default:
		return fmt.Errorf("invalid TYPE %q", a.Type)
	}
	if a.GroupID == "" {
		return errors.New("missing GROUP-ID")
	}
	if a.Name == "" {
		return errors.New("missing NAME")
	}
	for _, s := range [...]string{a.GroupID, a.Name, a.Language, a.Channels, a.InstreamID, a.URI} {
		if err := checkQuoted(s); err != nil {
			return err
		}
	}
	switch {
	case a.Type == "SUBTITLES" && a.URI == "":
		return errors.New("SUBTITLES without URI")
	case a.Type == "CLOSED-CAPTIONS" && a.URI != "":
		return errors.New("CLOSED-CAPTIONS with a URI")
	case a.Type == "CLOSED-CAPTIONS" && a.InstreamID == "":
		return errors.New("CLOSED-CAPTIONS without INSTREAM-ID")
	case a.Type != "CLOSED-CAPTIONS" && a.InstreamID != "":
		return fmt.Errorf("INSTREAM-ID on TYPE=%s", a.Type)
	}
	return nil
}

// check reports why the variant is not a valid EXT-X-STREAM-INF.
func (v *Variant) check() error {
	if err := checkURI(v.URI); err != nil {
		return err
	}
	if v.Bandwidth <= 0 {
		return fmt.Errorf("BANDWIDTH %d must be positive", v.Bandwidth)
	}
	if v.AverageBandwidth < 0 {
		return fmt.Errorf("invalid AVERAGE-BANDWIDTH %d", v.AverageBandwidth)
	}
	if (v.Width == 0) != (v.Height == 0) || v.Width < 0 || v.Height < 0 {
		return fmt.Errorf("invalid RESOLUTION %dx%d", v.Width, v.Height)
	}
	if err := checkFloat(v.FrameRate); err != nil {
		return fmt.Errorf("FRAME-RATE: %w", err)
	}
	if err := checkQuoted(v.Codecs); err != nil {
		return err
	}
	return checkQuoted(v.Audio)
}

// validate reports the first reason the playlist cannot be written as a
// valid media playlist.
func (p *Media) validate() error {
	switch {
	case p.Version < 0:
		return &itemError{err: fmt.Errorf("invalid version %d", p.Version)}
	case p.TargetDuration < 0:
		return &itemError{err: fmt.Errorf("invalid target duration %d", p.TargetDuration)}
	case p.MediaSequence < 0:
		return &itemError{err: fmt.Errorf("invalid media sequence %d", p.MediaSequence)}
	}
	switch p.PlaylistType {
	case "", TypeVOD, TypeEvent:
	default:
		return &itemError{err: fmt.Errorf("invalid playlist type %q", p.PlaylistType)}
	}
	if m := p.Map; m != nil {
		if m.URI == "" {
			return &itemError{err: errors.New("EXT-X-MAP without URI")}
		}
		if err := checkQuoted(m.URI); err != nil {
			return &itemError{err: fmt.Errorf("EXT-X-MAP: %w", err)}
		}
		if m.ByteRange != nil {
			if err := checkByteRange(m.ByteRange); err != nil {
				return &itemError{err: fmt.Errorf("EXT-X-MAP: %w", err)}
			}
		}
	}
	for i := range p.Segments {
		if err := p.checkSegment(i); err != nil {
			return &itemError{"segment", i, err}
		}
	}
	return nil
}

// checkSegment reports why segment i cannot be written.
func (p *Media) checkSegment(i int) error {
	s := &p.Segments[i]
	if err := checkURI(s.URI); err != nil {
		return err
	}
	if err := checkFloat(s.Duration); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	if t := p.TargetDuration; t > 0 && roundDuration(s.Duration) > t {
		return fmt.Errorf("duration %s rounds to %d, more than the target duration %d",
			formatFloat(nil, s.Duration, durationDecimals), roundDuration(s.Duration), t)
	}
	if strings.ContainsAny(s.Title, "\r\n") {
		return fmt.Errorf("title %q contains a line break", s.Title)
	}
	if r := s.ByteRange; r != nil {
		if err := checkByteRange(r); err != nil {
			return err
		}
		if r.Offset < 0 && (i == 0 || p.Segments[i-1].ByteRange == nil || p.Segments[i-1].URI != s.URI) {
			return errors.New("byte range without offset does not follow a range of the same URI")
		}
	}
	if k := s.Key; k != nil {
		if err := k.check(); err != nil {
			return fmt.Errorf("EXT-X-KEY: %w", err)
		}
	}
	return nil
}

// check reports why the key is not a valid EXT-X-KEY.
func (k *Key) check() error {
	switch k.Method {
	case "NONE":
		if k.URI != "" || k.IV != "" {
			return errors.New("METHOD=NONE with URI or IV")
		}
		return nil
	case "AES-128", "SAMPLE-AES":
	case "":
		return errors.New("missing METHOD")
	default:
		return fmt.Errorf("invalid METHOD %q", k.Method)
	}
	if k.URI == "" {
		return fmt.Errorf("METHOD=%s without URI", k.Method)
	}
	if err := checkQuoted(k.URI); err != nil {
		return err
	}
	if k.IV != "" && !validIV(k.IV) {
		return fmt.Errorf("invalid IV %q: want 0x and 32 hex digits", k.IV)
	}
	return nil
}

// validIV reports whether s is a 128-bit hexadecimal-sequence.
func validIV(s string) bool {
	if len(s) != 34 || s[0] != '0' || s[1] != 'x' && s[1] != 'X' {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// MarshalText writes the multivariant playlist, refusing one that players
// would reject or misread (no variants, missing BANDWIDTH, a quote inside a
// quoted string, an AUDIO group with no EXT-X-MEDIA).
func (p *Multivariant) MarshalText() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("multivariant playlist: %w", err)
	}
	b := make([]byte, 0, 256+128*(len(p.Variants)+len(p.Alternatives)))
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:"...)
	b = strconv.AppendInt(b, int64(max(p.Version, p.MinVersion())), 10)
	b = append(b, '\n')
	if p.IndependentSegments {
		b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	}
	for i := range p.Alternatives {
		a := &p.Alternatives[i]
		b = append(b, "#EXT-X-MEDIA:TYPE="...)
		b = append(b, a.Type...)
		b = appendQuoted(b, "GROUP-ID", a.GroupID)
		b = appendQuoted(b, "NAME", a.Name)
		if a.Language != "" {
			b = appendQuoted(b, "LANGUAGE", a.Language)
		}
		if a.Default {
			b = append(b, ",DEFAULT=YES"...)
		}
		if a.Autoselect {
			b = append(b, ",AUTOSELECT=YES"...)
		}
		if a.Channels != "" {
			b = appendQuoted(b, "CHANNELS", a.Channels)
		}
		if a.InstreamID != "" {
			b = appendQuoted(b, "INSTREAM-ID", a.InstreamID)
		}
		if a.URI != "" {
			b = appendQuoted(b, "URI", a.URI)
		}
		b = append(b, '\n')
	}
	for i := range p.Variants {
		v := &p.Variants[i]
		b = append(b, "#EXT-X-STREAM-INF:BANDWIDTH="...)
		b = strconv.AppendInt(b, int64(v.Bandwidth), 10)
		if v.AverageBandwidth > 0 {
			b = append(b, ",AVERAGE-BANDWIDTH="...)
			b = strconv.AppendInt(b, int64(v.AverageBandwidth), 10)
		}
		if v.Codecs != "" {
			b = appendQuoted(b, "CODECS", v.Codecs)
		}
		if v.Width > 0 {
			b = append(b, ",RESOLUTION="...)
			b = strconv.AppendInt(b, int64(v.Width), 10)
			b = append(b, 'x')
			b = strconv.AppendInt(b, int64(v.Height), 10)
		}
		if v.FrameRate > 0 {
			b = append(b, ",FRAME-RATE="...)
			b = strconv.AppendFloat(b, v.FrameRate, 'f', frameRateDecimals, 64)
		}
		if v.Audio != "" {
			b = appendQuoted(b, "AUDIO", v.Audio)
		}
		b = append(b, '\n')
		b = append(b, v.URI...)
		b = append(b, '\n')
	}
	return b, nil
}

// MarshalText writes the media playlist with the EXT-X-VERSION its tags
// need and a computed EXT-X-TARGETDURATION when none is set, refusing one
// that players would reject or misread (a segment longer than the target
// duration, a segment without URI, a line break inside a URI).
func (p *Media) MarshalText() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("media playlist: %w", err)
	}
	b := make([]byte, 0, 256+64*len(p.Segments))
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:"...)
	b = strconv.AppendInt(b, int64(max(p.Version, p.MinVersion())), 10)
	b = append(b, "\n#EXT-X-TARGETDURATION:"...)
	t := p.TargetDuration
	if t == 0 {
		t = p.ComputedTargetDuration()
	}
	b = strconv.AppendInt(b, int64(t), 10)
	b = append(b, "\n#EXT-X-MEDIA-SEQUENCE:"...)
	b = strconv.AppendInt(b, int64(p.MediaSequence), 10)
	b = append(b, '\n')
	if p.PlaylistType != "" {
		b = append(b, "#EXT-X-PLAYLIST-TYPE:"...)
		b = append(b, p.PlaylistType...)
		b = append(b, '\n')
	}
	if p.IndependentSegments {
		b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	}
	if m := p.Map; m != nil {
		b = append(b, "#EXT-X-MAP:URI=\""...)
		b = append(b, m.URI...)
		b = append(b, '"')
		if m.ByteRange != nil {
			b = append(b, ",BYTERANGE=\""...)
			b = appendByteRange(b, m.ByteRange)
			b = append(b, '"')
		}
		b = append(b, '\n')
	}
	for i := range p.Segments {
		s := &p.Segments[i]
		if s.Discontinuity {
			b = append(b, "#EXT-X-DISCONTINUITY\n"...)
		}
		if k := s.Key; k != nil {
			b = append(b, "#EXT-X-KEY:METHOD="...)
			b = append(b, k.Method...)
			if k.URI != "" {
				b = appendQuoted(b, "URI", k.URI)
			}
			if k.IV != "" {
				b = append(b, ",IV="...)
				b = append(b, k.IV...)
			}
			b = append(b, '\n')
		}
		b = append(b, "#EXTINF:"...)
		b = formatFloat(b, s.Duration, durationDecimals)
		b = append(b, ',')
		b = append(b, s.Title...)
		b = append(b, '\n')
		if s.ByteRange != nil {
			b = append(b, "#EXT-X-BYTERANGE:"...)
			b = appendByteRange(b, s.ByteRange)
			b = append(b, '\n')
		}
		b = append(b, s.URI...)
		b = append(b, '\n')
	}
	if p.EndList {
		b = append(b, "#EXT-X-ENDLIST\n"...)
	}
	return b, nil
}

// appendQuoted writes ,NAME="value"; the value was checked by validate.
func appendQuoted(b []byte, name, value string) []byte {
	b = append(b, ',')
	b = append(b, name...)
	b = append(b, '=', '"')
	b = append(b, value...)
	return append(b, '"')
}
