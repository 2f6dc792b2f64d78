package ingest

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
)

// Sample entries copied from init segments ffmpeg 5.1 wrote for hlsd: a
// 640x360 x264 High@3.0 video and a 44.1 kHz AAC-LC stereo audio.
const (
	realAVC1 = "0000009c61766331000000000000000100000000000000000000000000000000028001680048000000480000000000000001154c61766335392e33372e313030206c696278323634000000000000000000000018ffff00000036617663430164001effe1001a6764001eacd940a02ff970110000030001000003003c0f162d9601000568ef85f2c0fdf8f80000000010706173700000000100000001"
	realMP4A = "0000006e6d703461000000000000000100000000000000000002001000000000ac4400000000003665736473000000000380808025000100048080801740150000000001f4000001f4000580808005121056e5000680808001020000001462747274000000000001f4000001f400"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mkbox(typ string, payload ...[]byte) []byte {
	var body []byte
	for _, p := range payload {
		body = append(body, p...)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(b, typ...), body...)
}

// initWith wraps sample entries in the box path of an init segment.
func initWith(entries ...[]byte) []byte {
	stsd := mkbox("stsd", append([]byte{0, 0, 0, 0, 0, 0, 0, byte(len(entries))}, slices.Concat(entries...)...))
	trak := mkbox("trak", mkbox("tkhd", make([]byte, 84)), mkbox("mdia", mkbox("minf", mkbox("stbl", stsd))))
	return slices.Concat(mkbox("ftyp", []byte("iso5\x00\x00\x02\x00iso6mp41")), mkbox("moov", mkbox("mvhd", make([]byte, 100)), trak))
}

// patch returns a copy of b with the bytes at off replaced.
func patch(b []byte, off int, with ...byte) []byte {
	c := slices.Clone(b)
	copy(c[off:], with)
	return c
}

func TestMP4Codecs(t *testing.T) {
	avc := mustHex(t, realAVC1)
	aac := mustHex(t, realMP4A)
	ascOff := len(aac) - 31 // offset of the AudioSpecificConfig's first byte (0x12)
	if aac[ascOff] != 0x12 {
		t.Fatalf("test data: byte at %d is %#x, want the AudioSpecificConfig 0x12", ascOff, aac[ascOff])
	}
	tests := []struct {
		name string
		init []byte
		want []string
	}{
		{"x264 high 3.0", initWith(avc), []string{"avc1.64001e"}},
		{"aac-lc", initWith(aac), []string{"mp4a.40.2"}},
		{"he-aac", initWith(patch(aac, ascOff, 0x2b, 0x10)), []string{"mp4a.40.5"}},
		{"escaped object type", initWith(patch(aac, ascOff, 0xf9, 0x40)), []string{"mp4a.40.42"}},
		{"main 4.1 avc3", initWith(patch(patch(avc, 4, 'a', 'v', 'c', '3'), 0x5f, 0x4d, 0x40, 0x29)), []string{"avc3.4d4029"}},
		{"mp3 in mp4", initWith(patch(aac, 0x3d, 0x6b)), []string{"mp4a.6b"}},
		{"video and audio", initWith(avc, aac), []string{"avc1.64001e", "mp4a.40.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MP4Codecs(tt.init)
			if err != nil {
				t.Fatalf("MP4Codecs: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("MP4Codecs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMP4CodecsErrors(t *testing.T) {
	avc := mustHex(t, realAVC1)
	full := initWith(avc)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"no moov", mkbox("ftyp", []byte("iso5"))},
		{"cut in the middle", full[:len(full)-40]},
		{"box size too large", patch(full, 0, 0x7f)},
		{"unknown sample entry", initWith(patch(avc, 4, 'h', 'v', 'c', '1'))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := MP4Codecs(tt.data); err == nil {
				t.Errorf("MP4Codecs = %q, want an error", got)
			}
		})
	}
	if _, err := MP4Codecs(initWith()); !errors.Is(err, errNoCodec) {
		t.Errorf("no sample entry: err = %v, want errNoCodec", err)
	}
}

// TestTSCodecs reads codec strings from MPEG-TS files that ffmpeg writes
// now, so the bytes are real: x264's profile, constraint flags and level
// for three profiles, and the ADTS header of AAC-LC.
func TestTSCodecs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffmpeg")
	}
	tests := []struct {
		name    string
		profile string
		level   string
		audio   bool
		want    []string
	}{
		{"high 4.0 with aac", "high", "4.0", true, []string{"avc1.640028", "mp4a.40.2"}},
		{"main 3.1", "main", "3.1", false, []string{"avc1.4d401f"}},
		{"baseline 3.0 with aac", "baseline", "3.0", true, []string{"avc1.42c01e", "mp4a.40.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "x.ts")
			args := []string{"-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1"}
			if tt.audio {
				args = append(args, "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
			}
			args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-profile:v", tt.profile, "-level:v", tt.level,
				"-pix_fmt", "yuv420p", "-f", "mpegts", out)
			if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg (install the Debian package ffmpeg): %v\n%s", err, b)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TSCodecs(data)
			if err != nil {
				t.Fatalf("TSCodecs: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("TSCodecs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTSCodecsErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"no sync byte", make([]byte, 188*3)},
		{"only null packets", slices.Repeat(append([]byte{0x47, 0x1f, 0xff, 0x10}, make([]byte, 184)...), 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := TSCodecs(tt.data); err == nil {
				t.Errorf("TSCodecs = %q, want an error", got)
			}
		})
	}
}

func FuzzMP4Codecs(f *testing.F) {
	avc, _ := hex.DecodeString(realAVC1)
	aac, _ := hex.DecodeString(realMP4A)
	f.Add(initWith(avc))
	f.Add(initWith(aac))
	f.Add(initWith(avc, aac))
	f.Fuzz(func(t *testing.T, b []byte) {
		MP4Codecs(b) // must not panic or loop
	})
}

func FuzzTSCodecs(f *testing.F) {
	pat := append([]byte{0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00}, make([]byte, 171)...)
	f.Add(pat)
	f.Add(slices.Repeat([]byte{0x47, 0x1f, 0xff, 0x10}, 47))
	f.Fuzz(func(t *testing.T, b []byte) {
		TSCodecs(b)
	})
}

// TestMeasureMuxedTS checks that a TS video rendition planned with muxed
// audio is measured with both codecs, and refused when its first segment
// has no audio: a variant listing only avc1 would make players drop the
// sound, one claiming mp4a without it would fail to play.
func TestMeasureMuxedTS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffmpeg")
	}
	job := &ffmpeg.Job{Kind: hlsd.KindVideo, Format: ffmpeg.FormatTS, Segment: time.Second,
		MuxedAudio: &ffmpeg.AudioRendition{Bitrate: 128000, SampleRate: 48000, Channels: 2}}
	tests := []struct {
		name    string
		audio   bool
		want    string
		wantErr bool
	}{
		{"video and audio", true, "avc1.64000d,mp4a.40.2", false},
		{"video only", false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "144p")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			args := []string{"-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=192x144:rate=25:duration=1"}
			if tt.audio {
				args = append(args, "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
			}
			args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-level:v", "1.3",
				"-pix_fmt", "yuv420p", "-f", "hls", "-hls_time", "1", "-hls_segment_type", "mpegts",
				"-hls_segment_filename", filepath.Join(dir, "seg_%05d.ts"), filepath.Join(dir, ffmpeg.PlaylistName))
			if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg (install the Debian package ffmpeg): %v\n%s", err, b)
			}
			m, err := measure(dir, job, nil)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("measure = %q, want an error", m.Codecs)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("measure: %v", err)
			}
			if m.Codecs != tt.want || m.Bandwidth <= 0 || m.AverageBandwidth <= 0 {
				t.Errorf("measured CODECS %q, BANDWIDTH %d/%d; want %q and bandwidths", m.Codecs, m.Bandwidth, m.AverageBandwidth, tt.want)
			}
		})
	}
}
