package hls

import (
	"errors"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// videoMultivariant is a three-rung ladder with separate stereo audio.
func videoMultivariant() *Multivariant {
	return &Multivariant{
		IndependentSegments: true,
		Alternatives: []Alternative{{
			Type: "AUDIO", GroupID: "audio", Name: "English", Language: "en",
			Default: true, Autoselect: true, Channels: "2", URI: "audio/index.m3u8",
		}},
		Variants: []Variant{
			{URI: "1080p/index.m3u8", Bandwidth: 5605600, AverageBandwidth: 4800000, Codecs: "avc1.640028,mp4a.40.2", Width: 1920, Height: 1080, FrameRate: 30, Audio: "audio"},
			{URI: "720p/index.m3u8", Bandwidth: 3405600, AverageBandwidth: 2800000, Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720, FrameRate: 29.97, Audio: "audio"},
			{URI: "360p/index.m3u8", Bandwidth: 805600, AverageBandwidth: 700000, Codecs: "avc1.64001e,mp4a.40.2", Width: 640, Height: 360, FrameRate: 23.976, Audio: "audio"},
		},
	}
}

// audioMultivariant is a music track at two bitrates.
func audioMultivariant() *Multivariant {
	return &Multivariant{
		IndependentSegments: true,
		Variants: []Variant{
			{URI: "aac256/index.m3u8", Bandwidth: 270000, AverageBandwidth: 262000, Codecs: "mp4a.40.2"},
			{URI: "aac128/index.m3u8", Bandwidth: 140000, AverageBandwidth: 131000, Codecs: "mp4a.40.2"},
		},
	}
}

// fmp4VOD is a finished fMP4 rendition as hlsd ingest writes it.
func fmp4VOD() *Media {
	return &Media{
		PlaylistType:        TypeVOD,
		IndependentSegments: true,
		Map:                 &Map{URI: "init.mp4"},
		Segments: []Segment{
			{Duration: 6, URI: "seg0.m4s"},
			{Duration: 6, URI: "seg1.m4s"},
			{Duration: 6.006, URI: "seg2.m4s"},
			{Duration: 2.5, URI: "seg3.m4s"},
		},
		EndList: true,
	}
}

// tsEvent is a growing MPEG-TS playlist: EVENT, no ENDLIST, integer durations.
func tsEvent() *Media {
	return &Media{
		TargetDuration: 4,
		MediaSequence:  0,
		PlaylistType:   TypeEvent,
		Segments: []Segment{
			{Duration: 4, URI: "seg0.ts"},
			{Duration: 4, URI: "seg1.ts"},
			{Duration: 4, URI: "seg2.ts", Discontinuity: true, Title: "after the break"},
		},
	}
}

// byteRange is a single-file fMP4 playlist addressed by byte ranges.
func byteRange() *Media {
	return &Media{
		PlaylistType: TypeVOD,
		Map:          &Map{URI: "main.mp4", ByteRange: &ByteRange{Length: 720, Offset: 0}},
		Segments: []Segment{
			{Duration: 4.004, URI: "main.mp4", ByteRange: &ByteRange{Length: 75232, Offset: 720}},
			{Duration: 4.004, URI: "main.mp4", ByteRange: &ByteRange{Length: 82112, Offset: -1}},
			{Duration: 1.9, URI: "main.mp4", ByteRange: &ByteRange{Length: 69864, Offset: -1}},
		},
		EndList: true,
	}
}

// encrypted is an AES-128 TS playlist with a key rotation.
func encrypted() *Media {
	return &Media{
		MediaSequence: 7,
		PlaylistType:  TypeVOD,
		Segments: []Segment{
			{Duration: 5.005, URI: "seg7.ts", Key: &Key{Method: "AES-128", URI: "https://keys.example.com/k1.key"}},
			{Duration: 5.005, URI: "seg8.ts"},
			{Duration: 3.2, URI: "seg9.ts", Key: &Key{Method: "AES-128", URI: "k2.key", IV: "0x000102030405060708090A0B0C0D0E0F"}},
		},
		EndList: true,
	}
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestGoldenMultivariant(t *testing.T) {
	tests := []struct {
		name string
		p    *Multivariant
	}{
		{"video_multivariant.m3u8", videoMultivariant()},
		{"audio_multivariant.m3u8", audioMultivariant()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.p.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, b)
			if !IsMultivariant(b) {
				t.Error("IsMultivariant = false")
			}
			got, err := ParseMultivariant(b)
			if err != nil {
				t.Fatalf("parse own output: %v", err)
			}
			want := *tt.p
			want.Version = 1
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("round trip:\ngot  %+v\nwant %+v", got, &want)
			}
		})
	}
}

func TestGoldenMedia(t *testing.T) {
	tests := []struct {
		name    string
		p       *Media
		version int // written EXT-X-VERSION
		target  int // written EXT-X-TARGETDURATION
	}{
		{"fmp4_vod.m3u8", fmp4VOD(), 6, 6},
		{"ts_event.m3u8", tsEvent(), 1, 4},
		{"byterange.m3u8", byteRange(), 6, 4},
		{"encrypted.m3u8", encrypted(), 3, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.p.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, b)
			if IsMultivariant(b) {
				t.Error("IsMultivariant = true")
			}
			got, err := ParseMedia(b)
			if err != nil {
				t.Fatalf("parse own output: %v", err)
			}
			if got.Version != tt.version || got.TargetDuration != tt.target {
				t.Errorf("version, target = %d, %d; want %d, %d", got.Version, got.TargetDuration, tt.version, tt.target)
			}
			want := *tt.p
			want.Version, want.TargetDuration = tt.version, tt.target
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("round trip:\ngot  %+v\nwant %+v", got, &want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	p := fmp4VOD()
	if got := p.Duration(); math.Abs(got-20.506) > 1e-9 {
		t.Errorf("Duration = %v, want 20.506", got)
	}
	tests := []struct {
		name      string
		durations []float64
		want      int
	}{
		{"empty", nil, 1},
		{"short segments", []float64{0.4, 0.3}, 1},
		{"rounds down", []float64{6.006, 4.49}, 6},
		{"rounds half up", []float64{2, 4.5}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Media{}
			for _, d := range tt.durations {
				p.Segments = append(p.Segments, Segment{Duration: d, URI: "s.ts"})
			}
			if got := p.ComputedTargetDuration(); got != tt.want {
				t.Errorf("ComputedTargetDuration = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDurationFormat(t *testing.T) {
	tests := []struct {
		d    float64
		want string
	}{
		{4, "#EXTINF:4,"},
		{4.004, "#EXTINF:4.004,"},
		{0.000001, "#EXTINF:0.000001,"},
		{1.0 / 3, "#EXTINF:0.333333,"},
		{123456.5, "#EXTINF:123456.5,"},
		{1e-9, "#EXTINF:0,"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			p := &Media{Segments: []Segment{{Duration: tt.d, URI: "a.ts"}}}
			b, err := p.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "\n"+tt.want+"\n") {
				t.Errorf("got\n%s\nwant a line %q", b, tt.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		p    interface{ MarshalText() ([]byte, error) }
		want string
	}{
		{"target duration too small",
			&Media{TargetDuration: 4, Segments: []Segment{{Duration: 4, URI: "a.ts"}, {Duration: 4.6, URI: "b.ts"}}},
			"media playlist: segment 2: duration 4.6 rounds to 5, more than the target duration 4"},
		{"segment without URI",
			&Media{Segments: []Segment{{Duration: 4}}},
			"media playlist: segment 1: missing URI"},
		{"newline in segment URI",
			&Media{Segments: []Segment{{Duration: 4, URI: "a.ts\n#EXT-X-ENDLIST"}}},
			`media playlist: segment 1: URI "a.ts\n#EXT-X-ENDLIST" contains a line break`},
		{"negative duration",
			&Media{Segments: []Segment{{Duration: -1, URI: "a.ts"}}},
			"media playlist: segment 1: duration: number -1 out of range"},
		{"NaN duration",
			&Media{Segments: []Segment{{Duration: math.NaN(), URI: "a.ts"}}},
			"media playlist: segment 1: duration: number NaN out of range"},
		{"quote in map URI",
			&Media{Map: &Map{URI: `in"it.mp4`}},
			`media playlist: EXT-X-MAP: quoted string "in\"it.mp4" contains '"'`},
		{"dangling byte range",
			&Media{Segments: []Segment{{Duration: 1, URI: "a.mp4", ByteRange: &ByteRange{Length: 10, Offset: -1}}}},
			"media playlist: segment 1: byte range without offset does not follow a range of the same URI"},
		{"key without URI",
			&Media{Segments: []Segment{{Duration: 1, URI: "a.ts", Key: &Key{Method: "AES-128"}}}},
			"media playlist: segment 1: EXT-X-KEY: METHOD=AES-128 without URI"},
		{"bad IV",
			&Media{Segments: []Segment{{Duration: 1, URI: "a.ts", Key: &Key{Method: "AES-128", URI: "k", IV: "0x12"}}}},
			`media playlist: segment 1: EXT-X-KEY: invalid IV "0x12": want 0x and 32 hex digits`},
		{"bad playlist type",
			&Media{PlaylistType: "vod"},
			`media playlist: invalid playlist type "vod"`},
		{"no variants",
			&Multivariant{},
			"multivariant playlist: no variants"},
		{"variant without URI",
			&Multivariant{Variants: []Variant{{Bandwidth: 1}}},
			"multivariant playlist: variant 1: missing URI"},
		{"variant without bandwidth",
			&Multivariant{Variants: []Variant{{URI: "a.m3u8"}}},
			"multivariant playlist: variant 1: BANDWIDTH 0 must be positive"},
		{"quote in codecs",
			&Multivariant{Variants: []Variant{{URI: "a.m3u8", Bandwidth: 1, Codecs: `avc1"`}}},
			`multivariant playlist: variant 1: quoted string "avc1\"" contains '"'`},
		{"unknown audio group",
			&Multivariant{Variants: []Variant{{URI: "a.m3u8", Bandwidth: 1, Audio: "aud"}}},
			`multivariant playlist: variant 1: AUDIO group "aud" has no EXT-X-MEDIA`},
		{"newline in rendition name",
			&Multivariant{Alternatives: []Alternative{{Type: "AUDIO", GroupID: "a", Name: "x\ny"}}, Variants: []Variant{{URI: "a.m3u8", Bandwidth: 1}}},
			`multivariant playlist: alternative 1: quoted string "x\ny" contains '\n'`},
		{"URI line that is a tag",
			&Multivariant{Variants: []Variant{{URI: "#EXT-X-ENDLIST", Bandwidth: 1}}},
			`multivariant playlist: variant 1: URI "#EXT-X-ENDLIST" starts with '#'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.p.MarshalText()
			if err == nil {
				t.Fatalf("no error; wrote\n%s", b)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const head = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
	tests := []struct {
		name  string
		media bool
		in    string
		want  string
		line  int
	}{
		{"missing EXTM3U", true, "#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n", "line 1: missing #EXTM3U header", 1},
		{"empty input", false, "", "line 1: missing #EXTM3U header", 1},
		{"EXTM3U not first", true, "\n#EXTM3U\n", "line 1: missing #EXTM3U header", 1},
		{"target duration too small", true, head + "#EXTINF:4.000,\na.ts\n#EXTINF:4.5,\nb.ts\n",
			"line 5: duration 4.5 rounds to 5, more than the target duration 4", 5},
		{"missing target duration", true, "#EXTM3U\n#EXTINF:4,\na.ts\n", "missing EXT-X-TARGETDURATION", 0},
		{"bad EXTINF", true, head + "#EXTINF:four,\na.ts\n", `line 3: EXTINF: invalid number "four"`, 3},
		{"exponent EXTINF", true, head + "#EXTINF:1e3,\na.ts\n", `line 3: EXTINF: invalid number "1e3"`, 3},
		{"bad media sequence", true, "#EXTM3U\r\n#EXT-X-MEDIA-SEQUENCE:-1\r\n", `line 2: EXT-X-MEDIA-SEQUENCE: invalid integer "-1"`, 2},
		{"URI without EXTINF", true, head + "a.ts\n", `line 3: segment URI "a.ts" without EXTINF`, 3},
		{"EXTINF at end", true, head + "#EXTINF:4,\n", "line 3: EXTINF without a segment URI", 3},
		{"bad byte range", true, head + "#EXTINF:4,\n#EXT-X-BYTERANGE:10@x\na.ts\n", `line 4: EXT-X-BYTERANGE: invalid byte range "10@x"`, 4},
		{"unterminated map URI", true, head + "#EXT-X-MAP:URI=\"init.mp4\n", `line 3: EXT-X-MAP: attribute URI: unterminated quoted string`, 3},
		{"key method", true, head + "#EXT-X-KEY:METHOD=AES-256,URI=\"k\"\n", `line 3: EXT-X-KEY: invalid METHOD "AES-256"`, 3},
		{"multivariant given to ParseMedia", true, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n",
			"line 2: #EXT-X-STREAM-INF in a media playlist: this is a multivariant playlist", 2},
		{"bad bandwidth", false, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=12k\na.m3u8\n",
			`line 2: EXT-X-STREAM-INF: BANDWIDTH: invalid integer "12k"`, 2},
		{"missing bandwidth", false, "#EXTM3U\n#EXT-X-STREAM-INF:CODECS=\"mp4a.40.2\"\na.m3u8\n",
			"line 2: EXT-X-STREAM-INF: missing BANDWIDTH", 2},
		{"bad attribute name", false, "#EXTM3U\n#EXT-X-STREAM-INF:bandwidth=1\na.m3u8\n",
			`line 2: EXT-X-STREAM-INF: invalid attribute name "bandwidth"`, 2},
		{"attribute without value", false, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS\na.m3u8\n",
			`line 2: EXT-X-STREAM-INF: attribute "CODECS" has no value`, 2},
		{"duplicate attribute", false, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,BANDWIDTH=2\na.m3u8\n",
			"line 2: EXT-X-STREAM-INF: duplicate attribute BANDWIDTH", 2},
		{"junk after quoted string", false, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"a\"b\na.m3u8\n",
			`line 2: EXT-X-STREAM-INF: attribute CODECS: unexpected "b" after quoted string`, 2},
		{"bad resolution", false, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1920\na.m3u8\n",
			`line 2: EXT-X-STREAM-INF: invalid RESOLUTION "1920"`, 2},
		{"bad DEFAULT", false, "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"n\",DEFAULT=yes\n",
			`line 2: EXT-X-MEDIA: DEFAULT must be YES or NO, not "yes"`, 2},
		{"missing variant URI", false, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n\n# comment\n",
			"line 2: EXT-X-STREAM-INF without a URI line", 2},
		{"unknown audio group", false, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"aac\"\na.m3u8\n",
			`line 2: AUDIO group "aac" has no EXT-X-MEDIA`, 2},
		{"media given to ParseMultivariant", false, head + "#EXTINF:4,\na.ts\n",
			"line 2: #EXT-X-TARGETDURATION in a multivariant playlist: this is a media playlist", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.media {
				_, err = ParseMedia([]byte(tt.in))
			} else {
				_, err = ParseMultivariant([]byte(tt.in))
			}
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != tt.line {
				t.Errorf("error %#v: want *ParseError on line %d", err, tt.line)
			}
		})
	}
}

// TestParseTolerant feeds what real tools write: CRLF, blank lines,
// comments, unknown tags, quoted commas, spaces after commas.
func TestParseTolerant(t *testing.T) {
	in := "\xef\xbb\xbf#EXTM3U\r\n" +
		"# written by hand\r\n" +
		"#EXT-X-VERSION:4\r\n\r\n" +
		"#EXT-X-SESSION-DATA:DATA-ID=\"com.example.title\",VALUE=\"a, b\"\r\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO, GROUP-ID=\"aac\",NAME=\"Stereo, English\",LANGUAGE=\"en\",AUTOSELECT=YES,DEFAULT=YES,URI=\"a/index.m3u8\"\r\n" +
		"#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"CC1\",INSTREAM-ID=\"CC1\"\r\n" +
		"#EXT-X-STREAM-INF:PROGRAM-ID=1,BANDWIDTH=1280000,CODECS=\"avc1.4d401f,mp4a.40.2\",RESOLUTION=1280x720,AUDIO=\"aac\",CLOSED-CAPTIONS=\"cc\",FRAME-RATE=29.97,\r\n" +
		"  v/720.m3u8  \r\n" +
		"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI=\"v/iframes.m3u8\"\r\n"
	got, err := ParseMultivariant([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &Multivariant{
		Version: 4,
		Alternatives: []Alternative{
			{Type: "AUDIO", GroupID: "aac", Name: "Stereo, English", Language: "en", Default: true, Autoselect: true, URI: "a/index.m3u8"},
			{Type: "CLOSED-CAPTIONS", GroupID: "cc", Name: "CC1", InstreamID: "CC1"},
		},
		Variants: []Variant{{URI: "v/720.m3u8", Bandwidth: 1280000, Codecs: "avc1.4d401f,mp4a.40.2", Width: 1280, Height: 720, FrameRate: 29.97, Audio: "aac"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !IsMultivariant([]byte(in)) {
		t.Error("IsMultivariant = false")
	}

	media := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-ALLOW-CACHE:YES\n#EXT-X-TARGETDURATION:2\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00Z\n#EXTINF:1.960000,\nseg0.ts\n# comment\n\n" +
		"#EXT-X-KEY:METHOD=AES-128,URI=\"k.key\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"skd://k\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n" +
		"#EXTINF:2\nseg1.ts\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-ENDLIST\n"
	m, err := ParseMedia([]byte(media))
	if err != nil {
		t.Fatal(err)
	}
	wantM := &Media{Version: 3, TargetDuration: 2, EndList: true, Segments: []Segment{
		{Duration: 1.96, URI: "seg0.ts"},
		{Duration: 2, URI: "seg1.ts", Key: &Key{Method: "AES-128", URI: "k.key"}},
	}}
	if !reflect.DeepEqual(m, wantM) {
		t.Errorf("got  %+v\nwant %+v", m, wantM)
	}
}

// TestRoundTrip marshals playlists using every modelled field, parses the
// output and expects the same values back.
func TestRoundTrip(t *testing.T) {
	multivariants := map[string]*Multivariant{
		"every rendition type": {
			Version: 7,
			Alternatives: []Alternative{
				{Type: "AUDIO", GroupID: "aac", Name: "English", Language: "en", Default: true, Autoselect: true, Channels: "2", URI: "en/index.m3u8"},
				{Type: "AUDIO", GroupID: "aac", Name: "Français, stéréo", Language: "fr", Autoselect: true, Channels: "2", URI: "fr/index.m3u8"},
				{Type: "AUDIO", GroupID: "aac", Name: "Muxed"},
				{Type: "VIDEO", GroupID: "angles", Name: "Side", URI: "side/index.m3u8"},
				{Type: "SUBTITLES", GroupID: "subs", Name: "English", Language: "en", URI: "subs/en.m3u8"},
				{Type: "CLOSED-CAPTIONS", GroupID: "cc", Name: "CC", InstreamID: "SERVICE2"},
			},
			Variants: []Variant{
				{URI: "https://cdn.example.com/v/720p.m3u8?token=a,b", Bandwidth: 1, Width: 2, Height: 2, FrameRate: 0.5},
				{URI: "audio only.m3u8", Bandwidth: 1 << 40, Audio: "aac"},
			},
		},
	}
	for name, p := range multivariants {
		t.Run(name, func(t *testing.T) {
			b, err := p.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseMultivariant(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(got, p) {
				t.Errorf("got  %+v\nwant %+v\n%s", got, p, b)
			}
		})
	}
	medias := map[string]*Media{
		"live window": {
			Version: 3, TargetDuration: 10, MediaSequence: 1 << 40, IndependentSegments: true,
			Map: &Map{URI: "init 1.mp4", ByteRange: &ByteRange{Length: 800, Offset: -1}},
			Segments: []Segment{
				{Duration: 9.999999, Title: "first, with comma", URI: "a.m4s", Key: &Key{Method: "SAMPLE-AES", URI: "skd://key,1", IV: "0xffffffffffffffffffffffffffffffff"}},
				{Duration: 0, URI: "b.m4s", Discontinuity: true, Key: &Key{Method: "NONE"}},
				{Duration: 10.4, URI: "c.m4s", ByteRange: &ByteRange{Length: 0, Offset: 12}},
				{Duration: 1, URI: "c.m4s", ByteRange: &ByteRange{Length: 5, Offset: -1}},
			},
		},
	}
	for name, p := range medias {
		t.Run(name, func(t *testing.T) {
			b, err := p.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseMedia(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			want := *p
			want.Version = 6
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("got  %+v\nwant %+v\n%s", got, &want, b)
			}
		})
	}
}

// TestVersionRaised checks that a declared version too low for the tags
// is raised on writing, and a higher one kept.
func TestVersionRaised(t *testing.T) {
	tests := []struct {
		name     string
		declared int
		p        *Media
		want     string
	}{
		{"map needs 6", 3, fmp4VOD(), "#EXT-X-VERSION:6\n"},
		{"byte range needs 4", 0, &Media{Segments: []Segment{{Duration: 1, URI: "a.ts", ByteRange: &ByteRange{Length: 1}}}}, "#EXT-X-VERSION:4\n"},
		{"float EXTINF needs 3", 1, &Media{Segments: []Segment{{Duration: 1.5, URI: "a.ts"}}}, "#EXT-X-VERSION:3\n"},
		{"IV needs 2", 0, &Media{Segments: []Segment{{Duration: 1, URI: "a.ts", Key: &Key{Method: "AES-128", URI: "k", IV: "0x0123456789abcdef0123456789ABCDEF"}}}}, "#EXT-X-VERSION:2\n"},
		{"SAMPLE-AES needs 5", 0, &Media{Segments: []Segment{{Duration: 1, URI: "a.ts", Key: &Key{Method: "SAMPLE-AES", URI: "k"}}}}, "#EXT-X-VERSION:5\n"},
		{"higher kept", 7, fmp4VOD(), "#EXT-X-VERSION:7\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Version = tt.declared
			b, err := tt.p.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "#EXTM3U\n"+tt.want) {
				t.Errorf("got\n%s\nwant it to start with #EXTM3U and %q", b, tt.want)
			}
		})
	}
}

// TestFFmpegPlaylist parses what ffmpeg's hls muxer really writes for an
// fMP4 VOD rendition, and checks it survives a round trip.
func TestFFmpegPlaylist(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffmpeg; skipped under -short")
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("internal/hls tests need ffmpeg (apt-get install ffmpeg): %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=4",
		"-f", "lavfi", "-i", "sine=duration=4",
		// A keyframe every second, or x264's default GOP makes one segment.
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac",
		"-f", "hls", "-hls_time", "1", "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
		filepath.Join(dir, "index.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if IsMultivariant(data) {
		t.Error("IsMultivariant = true for a media playlist")
	}
	p, err := ParseMedia(data)
	if err != nil {
		t.Fatalf("parse ffmpeg playlist: %v\n%s", err, data)
	}
	if p.PlaylistType != TypeVOD || !p.EndList || p.Map == nil || p.Map.URI != "init.mp4" || p.Version < 6 {
		t.Errorf("got type %q, endlist %v, map %+v, version %d; want VOD, true, init.mp4, >= 6\n%s",
			p.PlaylistType, p.EndList, p.Map, p.Version, data)
	}
	if len(p.Segments) < 2 {
		t.Fatalf("%d segments, want several of about 1 s\n%s", len(p.Segments), data)
	}
	// The media is 4 s long; AAC priming and frame granularity may add a
	// few tens of milliseconds.
	if d := p.Duration(); math.Abs(d-4) > 0.1 {
		t.Errorf("Duration = %.3f, want 4 s\n%s", d, data)
	}
	for i, s := range p.Segments {
		if _, err := os.Stat(filepath.Join(dir, s.URI)); err != nil {
			t.Errorf("segment %d: %v", i, err)
		}
		if roundDuration(s.Duration) > p.TargetDuration {
			t.Errorf("segment %d: %.3f s exceeds target %d", i, s.Duration, p.TargetDuration)
		}
	}
	b, err := p.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseMedia(b)
	if err != nil {
		t.Fatalf("parse marshalled playlist: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(again, p) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", again, p)
	}
}

func TestContentType(t *testing.T) {
	tests := []struct{ name, want string }{
		{"master.m3u8", MIMEPlaylist},
		{"720p/INDEX.M3U8", MIMEPlaylist},
		{"seg0.ts", MIMETS},
		{"seg0.m4s", MIMEMP4},
		{"init.mp4", MIMEMP4},
		{"clip.M4V", MIMEMP4},
		{"song.m4a", MIMEAudioMP4},
		{"song.aac", MIMEAAC},
		{"song.mp3", MIMEMP3},
		{"subs/en.vtt", MIMEVTT},
		{"poster.jpg", MIMEJPEG},
		{"poster.JPEG", MIMEJPEG},
		{"sprite.png", MIMEPNG},
		{"thumb.webp", MIMEWebP},
		{"k1.key", MIMEKey},
		{"info.json", MIMEJSON},
		{"archive.tar.gz", ""},
		{"noext", ""},
		{"dir.m3u8/file", ""},
		{"", ""},
		{"file.", ""},
		{"a.verylongextension", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContentType(tt.name); got != tt.want {
				t.Errorf("ContentType(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
	t.Run("no allocation", func(t *testing.T) {
		if n := testing.AllocsPerRun(100, func() { ContentType("720p/SEG00012.M4S") }); n != 0 {
			t.Errorf("ContentType allocates %v times per call, want 0", n)
		}
	})
}

func BenchmarkContentType(b *testing.B) {
	for b.Loop() {
		ContentType("720p/seg00012.m4s")
	}
}

// TestParseZeroTargetDuration reads what ffmpeg writes for a clip shorter
// than half a second: EXT-X-TARGETDURATION:0. It parses, and is written
// back with the smallest valid target duration, 1.
func TestParseZeroTargetDuration(t *testing.T) {
	const in = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:0\n#EXT-X-MEDIA-SEQUENCE:1\n" +
		"#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:0.200000,\nseg_00001.m4s\n#EXT-X-ENDLIST\n"
	m, err := ParseMedia([]byte(in))
	if err != nil {
		t.Fatalf("ParseMedia: %v", err)
	}
	if m.TargetDuration != 1 {
		t.Errorf("TargetDuration = %d, want 1", m.TargetDuration)
	}
	b, err := m.MarshalText()
	if err != nil {
		t.Fatalf("MarshalText: %v", err)
	}
	if !strings.Contains(string(b), "\n#EXT-X-TARGETDURATION:1\n") {
		t.Errorf("written playlist lacks EXT-X-TARGETDURATION:1:\n%s", b)
	}
}
