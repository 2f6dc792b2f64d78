package ffmpeg

import (
	"slices"
	"testing"
)

// TestTranscodeArgsEncrypted checks the muxer options of an encrypted
// presentation: every rendition (video with its muxed audio, TS) gets the
// key info file and periodic_rekey (one IV per segment), and nothing else
// changes.
func TestTranscodeArgsEncrypted(t *testing.T) {
	j, err := Plan(videoInfo(640, 360, 0, 25, true), PlanOptions{Ladder: []int{360}, Format: FormatTS})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Path: "/src/in.mp4", Formats: "mov", VideoStream: 0, AudioStream: 1}
	plain := TranscodeArgs(j, in, "/work")
	j.KeyInfo = "/keys/m.keyinfo"
	enc := TranscodeArgs(j, in, "/work")

	if slices.Contains(enc, "/work/audio/index.m3u8") {
		t.Errorf("ts argv has a separate audio rendition, want it muxed: %q", enc)
	}
	for _, dir := range []string{"360p"} {
		out := slices.Index(enc, "/work/"+dir+"/index.m3u8")
		if out < 4 {
			t.Fatalf("%s: output not found in %q", dir, enc)
		}
		want := []string{"-hls_key_info_file", "/keys/m.keyinfo", "-hls_segment_filename", "/work/" + dir + "/seg_%05d.ts",
			"-hls_flags", "independent_segments+periodic_rekey"}
		if got := enc[out-len(want) : out]; !slices.Equal(got, want) {
			t.Errorf("%s muxer tail = %q, want %q", dir, got, want)
		}
	}
	// Removing the key options gives back the plain argv.
	var stripped []string
	for i := 0; i < len(enc); i++ {
		switch {
		case enc[i] == "-hls_key_info_file":
			i++
		case enc[i] == "independent_segments+periodic_rekey":
			stripped = append(stripped, "independent_segments")
		default:
			stripped = append(stripped, enc[i])
		}
	}
	if !slices.Equal(stripped, plain) {
		t.Errorf("encrypted argv without key options\n got %q\nwant %q", stripped, plain)
	}
}
