package tags

import (
	"maps"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestFromProbeSpellings(t *testing.T) {
	const uuid = "1b2c3d4e-0000-4a4a-8b8b-0123456789ab"
	cases := []struct {
		name           string
		format, stream map[string]string
		want           map[string]string
	}{
		{
			name: "ffmpeg generic names",
			format: map[string]string{"title": "T", "artist": "A", "album": "Al", "album_artist": "AA",
				"track": "3/12", "disc": "1/2", "date": "2024", "genre": "Rock", "composer": "C", "encoder": "Lavf"},
			want: map[string]string{"title": "T", "artist": "A", "album": "Al", "album_artist": "AA", "track": "3",
				"track_total": "12", "disc": "1", "disc_total": "2", "date": "2024", "genre": "Rock", "composer": "C"},
		},
		{
			name: "vorbis comments on the stream",
			stream: map[string]string{"TITLE": "T", "ARTIST": "A;B", "ALBUMARTIST": "AA", "TRACKNUMBER": "03",
				"TOTALTRACKS": "12", "DISCNUMBER": "2", "DISCTOTAL": "3", "DATE": "2024-05-01",
				"MUSICBRAINZ_TRACKID": strings.ToUpper(uuid), "MUSICBRAINZ_ALBUMID": uuid, "MUSICBRAINZ_ARTISTID": uuid + ";" + uuid},
			want: map[string]string{"title": "T", "artist": "A; B", "album_artist": "AA", "track": "3", "track_total": "12",
				"disc": "2", "disc_total": "3", "date": "2024-05-01", "musicbrainz_track_id": uuid,
				"musicbrainz_album_id": uuid, "musicbrainz_artist_id": uuid},
		},
		{
			name:   "id3v2 frames and TXXX descriptions",
			format: map[string]string{"TIT2": "T", "TPE1": "A", "TPE2": "AA", "TRCK": "7/9", "TPOS": "1/1", "TDRC": "2019-03-04T10:11", "TCON": "Jazz", "MusicBrainz Album Id": uuid},
			want: map[string]string{"title": "T", "artist": "A", "album_artist": "AA", "track": "7", "track_total": "9",
				"disc": "1", "disc_total": "1", "date": "2019-03-04", "genre": "Jazz", "musicbrainz_album_id": uuid},
		},
		{
			name:   "riff info",
			format: map[string]string{"INAM": "T", "IART": "A", "IPRD": "Al", "ICRD": "2001", "IGNR": "G", "ITRK": "5"},
			want:   map[string]string{"title": "T", "artist": "A", "album": "Al", "date": "2001", "genre": "G", "track": "5"},
		},
		{
			name:   "format wins over stream, explicit total over slash",
			format: map[string]string{"title": "Format", "track": "2/10", "TRACKTOTAL": "11"},
			stream: map[string]string{"title": "Stream", "album": "From stream"},
			want:   map[string]string{"title": "Format", "album": "From stream", "track": "2", "track_total": "11"},
		},
		{
			name:   "bad numbers, dates and ids are dropped",
			format: map[string]string{"track": "A1", "disc": "0/0", "date": "unknown", "genre": "  ", "MUSICBRAINZ_TRACKID": "not-a-uuid", "TRACKTOTAL": "-3"},
			want:   map[string]string{},
		},
		{
			name:   "hostile text is cleaned",
			format: map[string]string{"title": "Bad\xff\xfe title\x01\x1b[31m\u202e end\n", "artist": "\x00One\x00Two\x00One", "album": "\u200b\ufeff"},
			want:   map[string]string{"title": "Bad\ufffd title[31m end", "artist": "One; Two"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FromProbe(c.format, c.stream)
			if !maps.Equal(got, c.want) {
				t.Errorf("FromProbe =\n %q\nwant\n %q", got, c.want)
			}
		})
	}
}

func TestFromProbeTruncates(t *testing.T) {
	long := strings.Repeat("é", 5000)
	got := FromProbe(map[string]string{"title": long, "genre": strings.Repeat("Rock;Pop;", 10) + strings.Repeat("x", 2000)}, nil)
	if n := len(got["title"]); n > MaxValueBytes || n < MaxValueBytes-1 || !utf8.ValidString(got["title"]) {
		t.Errorf("title is %d bytes (valid UTF-8 %v), want at most %d, cut on a character", n, utf8.ValidString(got["title"]), MaxValueBytes)
	}
	// A value that no longer fits is left out whole rather than cut.
	if got["genre"] != "Rock; Pop" {
		t.Errorf("genre = %.60q... (%d bytes)", got["genre"], len(got["genre"]))
	}
}

// FuzzFromProbe checks what a caller relies on for any input: only known
// keys, non-empty valid UTF-8 values without control characters within
// MaxValueBytes, canonical numbers, and a result that normalises to itself.
func FuzzFromProbe(f *testing.F) {
	f.Add("TRACKNUMBER", "3/12", "title", "T\xff\x01", "ARTIST", "A;B")
	f.Add("TPE2", strings.Repeat("x", 3000), "date", "2024-13-01", "disc", "0009/0010")
	f.Add("MusicBrainz Artist Id", "1b2c3d4e-0000-4a4a-8b8b-0123456789ab", "genre", "\u202e;;", "TRCK", "+5")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		got := FromProbe(map[string]string{k1: v1, k2: v2}, map[string]string{k3: v3, k1: v3})
		for k, v := range got {
			if _, known := aliases[k]; !known {
				t.Fatalf("unknown key %q", k)
			}
			if v == "" || len(v) > MaxValueBytes || !utf8.ValidString(v) || strings.TrimSpace(v) != v {
				t.Fatalf("%s = %q: empty, too long, invalid or untrimmed", k, v)
			}
			for _, r := range v {
				if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
					t.Fatalf("%s = %q holds control character %U", k, v, r)
				}
			}
			switch k {
			case Track, TrackTotal, Disc, DiscTotal:
				if number(v) != v {
					t.Fatalf("%s = %q is not a canonical number", k, v)
				}
			}
		}
		if again := FromProbe(got, nil); !maps.Equal(again, got) {
			t.Fatalf("not idempotent:\n %q\n %q", got, again)
		}
	})
}
