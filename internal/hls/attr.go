package hls

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// attr is one AttributeName=AttributeValue pair of an attribute list
// (RFC 8216 section 4.2). Value holds a quoted-string without its quotes.
type attr struct {
	name   string
	value  string
	quoted bool
}

// attrList is a parsed attribute list, small enough to search linearly.
type attrList []attr

// get returns the value of the named attribute and whether it is present.
func (l attrList) get(name string) (string, bool) {
	for _, a := range l {
		if a.name == name {
			return a.value, true
		}
	}
	return "", false
}

// parseAttrs parses an attribute list as RFC 8216 section 4.2 defines it:
// comma-separated name=value pairs where a quoted-string may hold commas
// and '=' but never a double quote, CR or LF. It tolerates spaces around
// the separators and a trailing comma, which some tools write, and refuses
// duplicate names.
func parseAttrs(s string) (attrList, error) {
	var l attrList
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			return l, nil // a trailing comma is tolerated
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("attribute %q has no value", s[i:])
		}
		name := strings.TrimRight(s[i:i+eq], " \t")
		if !validAttrName(name) {
			return nil, fmt.Errorf("invalid attribute name %q", name)
		}
		if _, dup := l.get(name); dup {
			return nil, fmt.Errorf("duplicate attribute %s", name)
		}
		i += eq + 1
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		a := attr{name: name}
		if i < len(s) && s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("attribute %s: unterminated quoted string", name)
			}
			a.value, a.quoted = s[i+1:i+1+end], true
			if err := checkQuoted(a.value); err != nil {
				return nil, fmt.Errorf("attribute %s: %w", name, err)
			}
			i += end + 2
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if i < len(s) && s[i] != ',' {
				return nil, fmt.Errorf("attribute %s: unexpected %q after quoted string", name, s[i:])
			}
		} else {
			end := strings.IndexByte(s[i:], ',')
			if end < 0 {
				end = len(s) - i
			}
			a.value = strings.TrimRight(s[i:i+end], " \t")
			if a.value == "" {
				return nil, fmt.Errorf("attribute %s has an empty value", name)
			}
			if strings.ContainsAny(a.value, "\" \t\r\n") {
				return nil, fmt.Errorf("attribute %s: invalid value %q", name, a.value)
			}
			i += end
		}
		l = append(l, a)
		if i < len(s) {
			i++ // the comma
		}
	}
}

// validAttrName reports whether name is made of [A-Z0-9-] only.
func validAttrName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// checkQuoted reports why s cannot be written as a quoted-string.
func checkQuoted(s string) error {
	if i := strings.IndexAny(s, "\"\r\n"); i >= 0 {
		return fmt.Errorf("quoted string %q contains %q", s, s[i])
	}
	return nil
}

// checkURI reports why s cannot be written on a URI line: a reader would
// see a tag, a blank line or a different string.
func checkURI(s string) error {
	switch {
	case s == "":
		return errors.New("missing URI")
	case strings.ContainsAny(s, "\r\n"):
		return fmt.Errorf("URI %q contains a line break", s)
	case s[0] == '#':
		return fmt.Errorf("URI %q starts with '#'", s)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("URI %q has surrounding white space", s)
	}
	return nil
}

// parseDecimal parses a decimal-integer: digits only, no sign, within int.
func parseDecimal(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid integer %q", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt {
		return 0, fmt.Errorf("integer %q out of range", s)
	}
	return n, nil
}

// maxFloat bounds the decimal-floating-point values we accept (durations,
// frame rates), so that rounding them to a fixed number of decimals stays
// exact and every value we read can be written back unchanged.
const maxFloat = 1e9

// parseFloat parses a non-negative decimal-floating-point ("4", "4.004")
// and rounds it to the given number of decimals, the precision we write.
func parseFloat(s string, decimals int) (float64, error) {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.' && !dot && i > 0:
			dot = true
		case c < '0' || c > '9':
			return 0, fmt.Errorf("invalid number %q", s)
		}
	}
	if s == "" {
		return 0, errors.New("empty number")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v > maxFloat {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	scale := math.Pow10(decimals)
	return math.Round(v*scale) / scale, nil
}

// formatFloat writes v with at most the given decimals, trailing zeros
// trimmed and never in exponent form ("4", "4.004", "29.97").
func formatFloat(b []byte, v float64, decimals int) []byte {
	n := len(b)
	b = strconv.AppendFloat(b, v, 'f', decimals, 64)
	if decimals > 0 {
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
		if b[len(b)-1] == '.' {
			b = b[:len(b)-1]
		}
	}
	if string(b[n:]) == "-0" {
		b = append(b[:n], '0')
	}
	return b
}

// checkFloat reports why v cannot be written as a decimal-floating-point.
func checkFloat(v float64) error {
	if math.IsNaN(v) || v < 0 || v > maxFloat {
		return fmt.Errorf("number %v out of range", v)
	}
	return nil
}

// parseByteRange parses "<n>[@<o>]"; Offset is -1 when o is absent.
func parseByteRange(s string) (*ByteRange, error) {
	n, o, found := strings.Cut(s, "@")
	length, err := parseDecimal(n)
	if err != nil {
		return nil, fmt.Errorf("invalid byte range %q", s)
	}
	br := &ByteRange{Length: length, Offset: -1}
	if found {
		if br.Offset, err = parseDecimal(o); err != nil {
			return nil, fmt.Errorf("invalid byte range %q", s)
		}
	}
	return br, nil
}

// appendByteRange writes "<n>[@<o>]".
func appendByteRange(b []byte, r *ByteRange) []byte {
	b = strconv.AppendInt(b, r.Length, 10)
	if r.Offset >= 0 {
		b = append(b, '@')
		b = strconv.AppendInt(b, r.Offset, 10)
	}
	return b
}

// checkByteRange reports why r cannot be written.
func checkByteRange(r *ByteRange) error {
	if r.Length < 0 || r.Offset < -1 {
		return fmt.Errorf("invalid byte range %d@%d", r.Length, r.Offset)
	}
	return nil
}

// parseBool parses the YES/NO enumerated strings.
func parseBool(name, s string) (bool, error) {
	switch s {
	case "YES":
		return true, nil
	case "NO":
		return false, nil
	}
	return false, fmt.Errorf("%s must be YES or NO, not %q", name, s)
}
