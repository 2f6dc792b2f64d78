package hls

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// ffmpegTS is what ffmpeg's hls muxer writes for MPEG-TS segments.
const ffmpegTS = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n" +
	"#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:2.000000,\nindex0.ts\n#EXTINF:2.000000,\nindex1.ts\n" +
	"#EXTINF:0.040000,\nindex2.ts\n"

// ffmpegFMP4 is what ffmpeg's hls muxer writes for fMP4 segments.
const ffmpegFMP4 = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n" +
	"#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1.000000,\nindex0.m4s\n" +
	"#EXTINF:1.000000,\nindex1.m4s\n#EXTINF:1.000000,\nindex2.m4s\n#EXTINF:1.000000,\nindex3.m4s\n#EXT-X-ENDLIST\n"

// ffmpegMaster is what ffmpeg writes with -master_pl_name and var_stream_map.
const ffmpegMaster = "#EXTM3U\n#EXT-X-VERSION:7\n" +
	"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_aud\",NAME=\"audio_0\",DEFAULT=YES,URI=\"stream_0.m3u8\"\n" +
	"#EXT-X-STREAM-INF:BANDWIDTH=140800,CODECS=\"mp4a.40.2\"\nstream_0.m3u8\n\n" +
	"#EXT-X-STREAM-INF:BANDWIDTH=1057896,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"group_aud\"\nstream_1.m3u8\n"

// addGolden seeds f with the committed golden playlists of one kind.
func addGolden(f *testing.F, multivariant bool) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.m3u8"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no golden playlists in testdata: %v", err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if IsMultivariant(b) == multivariant {
			f.Add(b)
		}
	}
}

// roundTrip checks that whatever parse accepts marshals, parses back equal
// to written (the version raised to what the tags need: written), and
// marshals again to the same bytes.
func roundTrip[P interface{ MarshalText() ([]byte, error) }](t *testing.T, data []byte, parse func([]byte) (P, error), written func(P) P) {
	t.Helper()
	p, err := parse(data)
	if err != nil {
		return
	}
	b, err := p.MarshalText()
	if err != nil {
		t.Fatalf("parsed playlist does not marshal: %v\n%+v", err, p)
	}
	q, err := parse(b)
	if err != nil {
		t.Fatalf("marshalled playlist does not parse: %v\n%s", err, b)
	}
	if want := written(p); !reflect.DeepEqual(q, want) {
		t.Fatalf("round trip differs:\ngot  %+v\nwant %+v\n%s", q, want, b)
	}
	b2, err := q.MarshalText()
	if err != nil || string(b2) != string(b) {
		t.Fatalf("second marshal differs (%v):\n%s\nfirst:\n%s", err, b2, b)
	}
}

func FuzzParseMedia(f *testing.F) {
	addGolden(f, false)
	f.Add([]byte(ffmpegTS))
	f.Add([]byte(ffmpegFMP4))
	f.Add([]byte("#EXTM3U\r\n#EXT-X-TARGETDURATION:10\r\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://a\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\r\n#EXTINF:9.5,title, with comma\r\n#EXT-X-BYTERANGE:100@0\r\na.ts\r\n#EXTINF:9.5,\r\n#EXT-X-BYTERANGE:100\r\na.ts\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, ParseMedia, func(p *Media) *Media {
			want := *p
			want.Version = max(p.Version, p.MinVersion())
			return &want
		})
	})
}

func FuzzParseMultivariant(f *testing.F) {
	addGolden(f, true)
	f.Add([]byte(ffmpegMaster))
	f.Add([]byte("#EXTM3U\r\n#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"English, CC\",INSTREAM-ID=\"SERVICE1\"\r\n#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"s\",NAME=\"en\",URI=\"s.m3u8\"\r\n#EXT-X-STREAM-INF:BANDWIDTH=1,FRAME-RATE=59.94,CLOSED-CAPTIONS=\"cc\"\r\nv.m3u8\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, ParseMultivariant, func(p *Multivariant) *Multivariant {
			want := *p
			want.Version = max(p.Version, p.MinVersion())
			return &want
		})
	})
}

// TestFuzzSeedsParse keeps the seed corpora useful: a seed that fails to
// parse only exercises the error paths.
func TestFuzzSeedsParse(t *testing.T) {
	tests := []struct {
		fuzzer string
		consts []string
		parse  func([]byte) error
	}{
		{"FuzzParseMedia", []string{ffmpegTS, ffmpegFMP4},
			func(b []byte) error { _, err := ParseMedia(b); return err }},
		{"FuzzParseMultivariant", []string{ffmpegMaster},
			func(b []byte) error { _, err := ParseMultivariant(b); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.fuzzer, func(t *testing.T) {
			for i, s := range tt.consts {
				if err := tt.parse([]byte(s)); err != nil {
					t.Errorf("seed %d: %v", i, err)
				}
			}
			names, _ := filepath.Glob(filepath.Join("testdata", "fuzz", tt.fuzzer, "*"))
			if len(names) < 2 {
				t.Fatalf("%d corpus files for %s, want at least 2", len(names), tt.fuzzer)
			}
			for _, name := range names {
				b, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				s, ok := strings.CutPrefix(string(b), "go test fuzz v1\n[]byte(")
				s, ok2 := strings.CutSuffix(s, ")\n")
				data, err := strconv.Unquote(s)
				if !ok || !ok2 || err != nil {
					t.Errorf("%s: not in the fuzz corpus format", name)
					continue
				}
				if strings.HasPrefix(filepath.Base(name), "crash_") {
					continue // found by the fuzzer: may be an input it rejects
				}
				if err := tt.parse([]byte(data)); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}
