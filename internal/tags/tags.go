// Package tags turns the metadata tags ffprobe reports for an audio file
// (ID3v2, Vorbis comments, MP4 atoms, APE, WAV LIST INFO: each container
// spells its keys its own way) into one small, clean set of keys, and
// extracts the embedded cover picture. Tag data comes from uploads, so it is
// treated as hostile: every value is valid UTF-8 without control
// characters, bounded in length, and numbers are checked, whatever the file
// holds.
package tags

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The keys FromProbe returns; any other key ffprobe reports is dropped.
const (
	Title               = "title"
	Artist              = "artist"
	Album               = "album"
	AlbumArtist         = "album_artist"
	Track               = "track"
	TrackTotal          = "track_total"
	Disc                = "disc"
	DiscTotal           = "disc_total"
	Date                = "date"
	Genre               = "genre"
	Composer            = "composer"
	MusicBrainzTrackID  = "musicbrainz_track_id"
	MusicBrainzAlbumID  = "musicbrainz_album_id"
	MusicBrainzArtistID = "musicbrainz_artist_id"
)

// Keys returns every key FromProbe may return, in a stable order, so
// callers (an API schema, a CLI printing tags) need not repeat the list.
func Keys() []string { return slices.Clone(keys) }

// keys is the list Keys returns; FromProbe fills keys in this order.
var keys = []string{Title, Artist, Album, AlbumArtist, Track, TrackTotal, Disc, DiscTotal,
	Date, Genre, Composer, MusicBrainzTrackID, MusicBrainzAlbumID, MusicBrainzArtistID}

// MaxValueBytes bounds one cleaned value. A real title, artist or album name
// is well under a few hundred bytes even in scripts that take three or four
// bytes a character; 1 KiB keeps every genuine value whole while a hostile
// file (ID3 frames may be megabytes) cannot make each catalog row, API
// response and web page carry its junk: with 14 keys a media's tags stay
// under 15 KiB. Truncation happens on a character boundary.
const MaxValueBytes = 1024

// Separator joins several values of one key (several artists or genres).
const Separator = "; "

// aliases maps each output key to the source keys that carry it, after
// fold (lower case, letters and digits only), most preferred first:
// ffmpeg's own generic names, then Vorbis comment, ID3v2 frame, MP4 atom,
// APE and RIFF INFO spellings ffprobe passes through unmapped.
var aliases = map[string][]string{
	Title:               {"title", "tit2", "inam", "nam"},
	Artist:              {"artist", "tpe1", "iart", "art", "author"},
	Album:               {"album", "talb", "iprd", "alb"},
	AlbumArtist:         {"albumartist", "tpe2", "aart", "band", "ensemble"},
	Track:               {"track", "tracknumber", "trck", "itrk", "iprt", "trkn"},
	TrackTotal:          {"tracktotal", "totaltracks", "trackc"},
	Disc:                {"disc", "discnumber", "disk", "tpos", "disknumber"},
	DiscTotal:           {"disctotal", "totaldiscs", "disktotal", "totaldisks"},
	Date:                {"date", "year", "tdrc", "tyer", "icrd", "day", "originaldate", "tdor"},
	Genre:               {"genre", "tcon", "ignr", "gen"},
	Composer:            {"composer", "tcom", "wrt"},
	MusicBrainzTrackID:  {"musicbrainztrackid", "musicbrainzrecordingid"},
	MusicBrainzAlbumID:  {"musicbrainzalbumid", "musicbrainzreleaseid"},
	MusicBrainzArtistID: {"musicbrainzartistid"},
}

// multi lists the keys that hold several values: ffmpeg joins repeated
// Vorbis comments and ID3v2.4's NUL-separated values with ";", so those are
// split, cleaned one by one, deduplicated and joined with Separator.
var multi = map[string]bool{Artist: true, AlbumArtist: true, Genre: true, Composer: true, MusicBrainzArtistID: true}

// fold reduces a tag key to lower-case letters and digits, so that
// "ALBUMARTIST", "album_artist", "Album Artist" and "©ART" meet.
func fold(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		}
	}
	return b.String()
}

// FromProbe returns the normalised tags of a file from the tags ffprobe
// reports for its container (format.tags) and for its audio stream
// (streams[].tags: Ogg and Opus keep their Vorbis comments there). A key
// in formatTags wins over the same key in streamTags. Only keys with a
// usable value are present; every value is a non-empty string. It never
// fails: unusable values are dropped.
func FromProbe(formatTags, streamTags map[string]string) map[string]string {
	src := folded(streamTags)
	for k, v := range folded(formatTags) {
		src[k] = v
	}
	out := make(map[string]string)
	for _, key := range keys {
		for _, alias := range aliases[key] {
			raw, ok := src[alias]
			if !ok {
				continue
			}
			if v := value(key, raw); v != "" {
				out[key] = v
				break
			}
		}
	}
	// "3/12" in a track or disc tag carries the total too; an explicit
	// total tag wins.
	for _, p := range [][2]string{{Track, TrackTotal}, {Disc, DiscTotal}} {
		for _, alias := range aliases[p[0]] {
			raw, ok := src[alias]
			if !ok {
				continue
			}
			if _, total, found := strings.Cut(raw, "/"); found {
				if n := number(total); n != "" && out[p[1]] == "" {
					out[p[1]] = n
				}
			}
			if out[p[0]] != "" {
				break
			}
		}
	}
	return out
}

// folded returns tags with folded keys. When two keys fold alike ("ARTIST"
// and "artist" in one file), the one that sorts first wins, so the result
// never depends on map order.
func folded(tags map[string]string) map[string]string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]string, len(tags))
	for _, k := range keys {
		f := fold(k)
		if _, dup := out[f]; !dup && f != "" {
			out[f] = tags[k]
		}
	}
	return out
}

// value cleans one raw value for key, returning "" when nothing usable is left.
func value(key, raw string) string {
	switch key {
	case Track, TrackTotal, Disc, DiscTotal:
		n, _, _ := strings.Cut(raw, "/")
		return number(n)
	case Date:
		return date(clean(raw))
	case MusicBrainzTrackID, MusicBrainzAlbumID, MusicBrainzArtistID:
		return join(raw, multi[key], mbid)
	}
	return join(raw, multi[key], clean)
}

// join cleans raw with each, after splitting it on ";" and NUL when split
// is set, dropping empty and repeated parts, and joins what is left with
// Separator within MaxValueBytes.
func join(raw string, split bool, each func(string) string) string {
	parts := []string{raw}
	if split {
		parts = strings.FieldsFunc(raw, func(r rune) bool { return r == ';' || r == 0 })
	}
	var kept []string
	size := 0
	for _, p := range parts {
		c := each(p)
		if c == "" || slices.Contains(kept, c) {
			continue
		}
		if len(kept) > 0 {
			if size+len(Separator)+len(c) > MaxValueBytes {
				break
			}
			size += len(Separator)
		}
		size += len(c)
		kept = append(kept, c)
	}
	return strings.Join(kept, Separator)
}

// clean repairs one text value: invalid UTF-8 becomes U+FFFD (one per
// bad run, also when ffprobe already replaced each bad byte), control and format characters (C0, C1, DEL, bidirectional
// overrides and isolates, zero-width characters) go, any run of white space
// becomes one space, and the ends are trimmed. A value with no letter,
// number or symbol left is dropped; a value over MaxValueBytes is cut on a
// character boundary.
func clean(raw string) string {
	s := strings.ToValidUTF8(raw, "\uFFFD")
	var b strings.Builder
	space, useful := false, false
	last := rune(-1)
	for _, r := range s {
		switch {
		case r == utf8.RuneError && last == utf8.RuneError && !space:
			continue // ffprobe writes one U+FFFD per bad byte
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == '\uFEFF':
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsSymbol(r) || unicode.IsPunct(r)) {
			useful = true
		}
		b.WriteRune(r)
		last = r
		if b.Len() >= MaxValueBytes {
			break
		}
	}
	if !useful {
		return ""
	}
	return truncate(b.String(), MaxValueBytes)
}

// truncate cuts s to at most max bytes without splitting a character.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return strings.TrimSpace(s)
}

// number returns s as a canonical positive decimal ("03" → "3"), or "" when
// s is not a whole number from 1 to 9999: no real album has more tracks or
// discs, and vinyl sides ("A1") or junk are better absent than wrong.
func number(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 8 {
		return ""
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 9999 || strings.ContainsAny(s, "+-") {
		return ""
	}
	return strconv.Itoa(n)
}

// date keeps the ISO 8601 calendar part of a cleaned date tag: "2024",
// "2024-05" or "2024-05-01" (ID3v2.4 TDRC may add a time, which is cut).
// A date that does not start with a four-digit year is dropped.
func date(s string) string {
	digits := func(t string) bool {
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return false
			}
		}
		return true
	}
	if len(s) < 4 || !digits(s[:4]) || s[:4] == "0000" {
		return ""
	}
	out := s[:4]
	if len(s) >= 7 && s[4] == '-' && digits(s[5:7]) && s[5:7] >= "01" && s[5:7] <= "12" {
		out = s[:7]
		if len(s) >= 10 && s[7] == '-' && digits(s[8:10]) && s[8:10] >= "01" && s[8:10] <= "31" {
			out = s[:10]
		}
	}
	if len(s) > len(out) && s[len(out)] >= '0' && s[len(out)] <= '9' {
		return "" // "20245": not a year
	}
	return out
}

// mbid returns s as a lower-case MusicBrainz identifier (a UUID), or "".
func mbid(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 36 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return ""
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return ""
			}
		}
	}
	return s
}
