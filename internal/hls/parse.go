package hls

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ParseError is a playlist that cannot be read. Line is the 1-based line
// the problem was found on, 0 when it concerns the playlist as a whole.
type ParseError struct {
	Line int
	Err  error
}

// Error returns the message prefixed with the line number, as in
// "line 7: EXTINF: invalid number \"abc\"", for callers to wrap with the
// playlist's name.
func (e *ParseError) Error() string {
	if e.Line == 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

// Unwrap returns the underlying error, so errors.Is and errors.As see it.
func (e *ParseError) Unwrap() error { return e.Err }

// lineErr returns a *ParseError for line n.
func lineErr(n int, format string, args ...any) error {
	return &ParseError{Line: n, Err: fmt.Errorf(format, args...)}
}

// lines iterates over a playlist's lines with their 1-based numbers,
// tolerating CRLF, a UTF-8 byte order mark and white space at line ends.
type lines struct {
	data []byte
	n    int
}

// next returns the next non-blank line, or ok false at the end.
func (l *lines) next() (line string, n int, ok bool) {
	for len(l.data) > 0 {
		var raw []byte
		raw, l.data, _ = bytes.Cut(l.data, []byte{'\n'})
		l.n++
		if s := strings.TrimSpace(string(raw)); s != "" {
			return s, l.n, true
		}
	}
	return "", l.n, false
}

// start checks the mandatory #EXTM3U first line.
func start(data []byte) (*lines, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	l := &lines{data: data}
	first, _ := bytes.CutPrefix(data, []byte("#EXTM3U"))
	if len(first) == len(data) || len(first) > 0 && first[0] != '\n' && first[0] != '\r' && first[0] != ' ' && first[0] != '\t' {
		return nil, lineErr(1, "missing #EXTM3U header")
	}
	l.next()
	return l, nil
}

// tag splits "#EXT-X-NAME:value" into name and value.
func tag(line string) (name, value string) {
	name, value, _ = strings.Cut(line, ":")
	return name, value
}

// IsMultivariant reports whether data looks like a multivariant playlist
// (it has variant or rendition tags) rather than a media playlist, so that
// a caller holding an unknown .m3u8 knows which parser to use.
func IsMultivariant(data []byte) bool {
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		line = bytes.TrimSpace(line)
		for _, t := range [...]string{"#EXT-X-STREAM-INF:", "#EXT-X-MEDIA:", "#EXT-X-I-FRAME-STREAM-INF:"} {
			if bytes.HasPrefix(line, []byte(t)) {
				return true
			}
		}
		for _, t := range [...]string{"#EXTINF:", "#EXT-X-TARGETDURATION:"} {
			if bytes.HasPrefix(line, []byte(t)) {
				return false
			}
		}
	}
	return false
}

// isMediaTag reports whether name is a tag only media playlists hold;
// meeting one in a multivariant playlist means the wrong parser was picked.
func isMediaTag(name string) bool {
	switch name {
	case "#EXTINF", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE", "#EXT-X-PLAYLIST-TYPE",
		"#EXT-X-ENDLIST", "#EXT-X-MAP", "#EXT-X-BYTERANGE", "#EXT-X-KEY", "#EXT-X-DISCONTINUITY":
		return true
	}
	return false
}

// ParseMultivariant reads a multivariant playlist. It ignores comments,
// blank lines and tags it does not model, and fails with a *ParseError
// naming the line on anything malformed. What it returns always marshals;
// Version is the declared EXT-X-VERSION (0 when absent), which MarshalText
// raises if the tags need more.
func ParseMultivariant(data []byte) (*Multivariant, error) {
	l, err := start(data)
	if err != nil {
		return nil, err
	}
	p := &Multivariant{}
	var (
		altLines, varLines []int
		pending            *Variant // EXT-X-STREAM-INF waiting for its URI line
		pendingLine        int
		seenVersion        bool
	)
	for {
		line, n, ok := l.next()
		if !ok {
			break
		}
		if line[0] != '#' {
			if pending == nil {
				return nil, lineErr(n, "URI %q without EXT-X-STREAM-INF", line)
			}
			pending.URI = line
			p.Variants = append(p.Variants, *pending)
			varLines = append(varLines, pendingLine)
			pending = nil
			continue
		}
		name, value := tag(line)
		switch {
		case name == "#EXT-X-STREAM-INF":
			if pending != nil {
				return nil, lineErr(n, "EXT-X-STREAM-INF follows EXT-X-STREAM-INF of line %d without a URI", pendingLine)
			}
			v, err := parseVariant(value)
			if err != nil {
				return nil, lineErr(n, "EXT-X-STREAM-INF: %v", err)
			}
			pending, pendingLine = v, n
		case name == "#EXT-X-MEDIA":
			a, err := parseAlternative(value)
			if err != nil {
				return nil, lineErr(n, "EXT-X-MEDIA: %v", err)
			}
			p.Alternatives = append(p.Alternatives, *a)
			altLines = append(altLines, n)
		case name == "#EXT-X-VERSION":
			if p.Version, err = parseVersion(value, seenVersion); err != nil {
				return nil, lineErr(n, "EXT-X-VERSION: %v", err)
			}
			seenVersion = true
		case name == "#EXT-X-INDEPENDENT-SEGMENTS":
			p.IndependentSegments = true
		case isMediaTag(name):
			return nil, lineErr(n, "%s in a multivariant playlist: this is a media playlist", name)
		}
	}
	if pending != nil {
		return nil, lineErr(pendingLine, "EXT-X-STREAM-INF without a URI line")
	}
	if err := p.validate(); err != nil {
		return nil, itemLineErr(err, map[string][]int{"alternative": altLines, "variant": varLines})
	}
	return p, nil
}

// itemLineErr turns a validation *itemError into a *ParseError on the
// line of the element at fault.
func itemLineErr(err error, lines map[string][]int) error {
	var ie *itemError
	if errors.As(err, &ie) && ie.what != "" && ie.index < len(lines[ie.what]) {
		return &ParseError{Line: lines[ie.what][ie.index], Err: ie.err}
	}
	return &ParseError{Err: err}
}

// parseVersion parses EXT-X-VERSION, which may appear once.
func parseVersion(value string, seen bool) (int, error) {
	if seen {
		return 0, errors.New("duplicate tag")
	}
	v, err := parseDecimal(value)
	if err != nil {
		return 0, err
	}
	if v < 1 {
		return 0, fmt.Errorf("invalid version %d", v)
	}
	return int(v), nil
}

// parseVariant parses the attribute list of EXT-X-STREAM-INF.
func parseVariant(value string) (*Variant, error) {
	attrs, err := parseAttrs(value)
	if err != nil {
		return nil, err
	}
	v := &Variant{}
	for _, a := range attrs {
		switch a.name {
		case "BANDWIDTH", "AVERAGE-BANDWIDTH":
			n, err := parseDecimal(a.value)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", a.name, err)
			}
			if a.name == "BANDWIDTH" {
				v.Bandwidth = int(n)
			} else {
				v.AverageBandwidth = int(n)
			}
		case "CODECS":
			v.Codecs = a.value
		case "AUDIO":
			v.Audio = a.value
		case "RESOLUTION":
			w, h, _ := strings.Cut(a.value, "x")
			wn, err1 := parseDecimal(w)
			hn, err2 := parseDecimal(h)
			if err1 != nil || err2 != nil || wn == 0 || hn == 0 || wn > 1<<30 || hn > 1<<30 {
				return nil, fmt.Errorf("invalid RESOLUTION %q", a.value)
			}
			v.Width, v.Height = int(wn), int(hn)
		case "FRAME-RATE":
			if v.FrameRate, err = parseFloat(a.value, frameRateDecimals); err != nil {
				return nil, fmt.Errorf("FRAME-RATE: %v", err)
			}
		}
	}
	if _, ok := attrs.get("BANDWIDTH"); !ok {
		return nil, errors.New("missing BANDWIDTH")
	}
	return v, nil
}

// parseAlternative parses the attribute list of EXT-X-MEDIA.
func parseAlternative(value string) (*Alternative, error) {
	attrs, err := parseAttrs(value)
	if err != nil {
		return nil, err
	}
	a := &Alternative{}
	autoselect := ""
	for _, at := range attrs {
		switch at.name {
		case "TYPE":
			a.Type = at.value
		case "GROUP-ID":
			a.GroupID = at.value
		case "NAME":
			a.Name = at.value
		case "LANGUAGE":
			a.Language = at.value
		case "CHANNELS":
			a.Channels = at.value
		case "INSTREAM-ID":
			a.InstreamID = at.value
		case "URI":
			a.URI = at.value
		case "DEFAULT":
			if a.Default, err = parseBool(at.name, at.value); err != nil {
				return nil, err
			}
		case "AUTOSELECT":
			if a.Autoselect, err = parseBool(at.name, at.value); err != nil {
				return nil, err
			}
			autoselect = at.value
		}
	}
	if a.Default && autoselect == "NO" {
		return nil, errors.New("DEFAULT=YES with AUTOSELECT=NO")
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

// ParseMedia reads a media playlist such as ffmpeg's hls muxer writes. It
// ignores comments, blank lines and tags it does not model, and fails with
// a *ParseError naming the line on anything malformed or that it cannot
// represent faithfully (several EXT-X-MAP tags). What it returns always
// marshals back to the same playlist; Version is the declared
// EXT-X-VERSION (0 when absent), which MarshalText raises if the tags need
// more, and EXT-X-TARGETDURATION is required. A target duration of 0, which
// ffmpeg writes when every segment is shorter than half a second, is read as
// the smallest valid one (ComputedTargetDuration, at least 1), so a clip of
// a fraction of a second is a playlist like any other.
func ParseMedia(data []byte) (*Media, error) {
	l, err := start(data)
	if err != nil {
		return nil, err
	}
	p := &Media{}
	var (
		segLines                          []int
		seg                               Segment // tags gathered for the next segment
		extinf                            int     // line of the pending EXTINF, 0 if none
		targetLine                        int
		seenVersion, seenSeq, seenType    bool
		pendingRange, pendingKey, pending bool
	)
	for {
		line, n, ok := l.next()
		if !ok {
			break
		}
		if line[0] != '#' {
			if extinf == 0 {
				return nil, lineErr(n, "segment URI %q without EXTINF", line)
			}
			seg.URI = line
			p.Segments = append(p.Segments, seg)
			segLines = append(segLines, extinf)
			seg, extinf, pending, pendingRange, pendingKey = Segment{}, 0, false, false, false
			continue
		}
		name, value := tag(line)
		switch name {
		case "#EXTINF":
			if extinf != 0 {
				return nil, lineErr(n, "EXTINF follows EXTINF of line %d without a URI", extinf)
			}
			d, title, _ := strings.Cut(value, ",")
			if seg.Duration, err = parseFloat(strings.TrimSpace(d), durationDecimals); err != nil {
				return nil, lineErr(n, "EXTINF: %v", err)
			}
			seg.Title = title
			extinf, pending = n, true
		case "#EXT-X-BYTERANGE":
			if pendingRange {
				return nil, lineErr(n, "second EXT-X-BYTERANGE for one segment")
			}
			if seg.ByteRange, err = parseByteRange(value); err != nil {
				return nil, lineErr(n, "EXT-X-BYTERANGE: %v", err)
			}
			pendingRange, pending = true, true
		case "#EXT-X-DISCONTINUITY":
			seg.Discontinuity, pending = true, true
		case "#EXT-X-KEY":
			k, err := parseKey(value)
			if err != nil {
				return nil, lineErr(n, "EXT-X-KEY: %v", err)
			}
			if pendingKey && k.Method != seg.Key.Method {
				return nil, lineErr(n, "EXT-X-KEY: conflicting methods for one segment")
			}
			// Several keys for one segment differ only by KEYFORMAT, which
			// is not modelled: the first one, the identity format, is kept.
			if !pendingKey {
				seg.Key = k
			}
			pendingKey, pending = true, true
		case "#EXT-X-MAP":
			if p.Map != nil {
				return nil, lineErr(n, "EXT-X-MAP: more than one is not supported")
			}
			if len(p.Segments) > 0 || pending {
				return nil, lineErr(n, "EXT-X-MAP after the first segment is not supported")
			}
			if p.Map, err = parseMap(value); err != nil {
				return nil, lineErr(n, "EXT-X-MAP: %v", err)
			}
		case "#EXT-X-TARGETDURATION":
			if targetLine != 0 {
				return nil, lineErr(n, "EXT-X-TARGETDURATION: duplicate tag")
			}
			t, err := parseDecimal(value)
			if err != nil {
				return nil, lineErr(n, "EXT-X-TARGETDURATION: %v", err)
			}
			if t > maxFloat {
				return nil, lineErr(n, "EXT-X-TARGETDURATION: %d out of range", t)
			}
			// 0 is what ffmpeg writes when every segment is under half a
			// second; it is read as the smallest valid value (set below,
			// once the segments are known).
			p.TargetDuration, targetLine = int(t), n
		case "#EXT-X-MEDIA-SEQUENCE":
			if seenSeq {
				return nil, lineErr(n, "EXT-X-MEDIA-SEQUENCE: duplicate tag")
			}
			s, err := parseDecimal(value)
			if err != nil {
				return nil, lineErr(n, "EXT-X-MEDIA-SEQUENCE: %v", err)
			}
			p.MediaSequence, seenSeq = int(s), true
		case "#EXT-X-PLAYLIST-TYPE":
			if seenType {
				return nil, lineErr(n, "EXT-X-PLAYLIST-TYPE: duplicate tag")
			}
			if value != TypeVOD && value != TypeEvent {
				return nil, lineErr(n, "EXT-X-PLAYLIST-TYPE: invalid type %q", value)
			}
			p.PlaylistType, seenType = value, true
		case "#EXT-X-VERSION":
			if p.Version, err = parseVersion(value, seenVersion); err != nil {
				return nil, lineErr(n, "EXT-X-VERSION: %v", err)
			}
			seenVersion = true
		case "#EXT-X-INDEPENDENT-SEGMENTS":
			p.IndependentSegments = true
		case "#EXT-X-ENDLIST":
			p.EndList = true
		case "#EXT-X-STREAM-INF", "#EXT-X-MEDIA", "#EXT-X-I-FRAME-STREAM-INF":
			return nil, lineErr(n, "%s in a media playlist: this is a multivariant playlist", name)
		}
	}
	if extinf != 0 {
		return nil, lineErr(extinf, "EXTINF without a segment URI")
	}
	if targetLine == 0 {
		return nil, &ParseError{Err: errors.New("missing EXT-X-TARGETDURATION")}
	}
	if p.TargetDuration == 0 {
		p.TargetDuration = p.ComputedTargetDuration()
	}
	if err := p.validate(); err != nil {
		return nil, itemLineErr(err, map[string][]int{"segment": segLines})
	}
	return p, nil
}

// parseKey parses the attribute list of EXT-X-KEY.
func parseKey(value string) (*Key, error) {
	attrs, err := parseAttrs(value)
	if err != nil {
		return nil, err
	}
	k := &Key{}
	k.Method, _ = attrs.get("METHOD")
	k.URI, _ = attrs.get("URI")
	k.IV, _ = attrs.get("IV")
	if err := k.check(); err != nil {
		return nil, err
	}
	return k, nil
}

// parseMap parses the attribute list of EXT-X-MAP.
func parseMap(value string) (*Map, error) {
	attrs, err := parseAttrs(value)
	if err != nil {
		return nil, err
	}
	m := &Map{}
	if m.URI, _ = attrs.get("URI"); m.URI == "" {
		return nil, errors.New("missing URI")
	}
	if r, ok := attrs.get("BYTERANGE"); ok {
		if m.ByteRange, err = parseByteRange(r); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// UnmarshalText parses a multivariant playlist into p (see ParseMultivariant).
func (p *Multivariant) UnmarshalText(data []byte) error {
	q, err := ParseMultivariant(data)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// UnmarshalText parses a media playlist into p (see ParseMedia).
func (p *Media) UnmarshalText(data []byte) error {
	q, err := ParseMedia(data)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}
