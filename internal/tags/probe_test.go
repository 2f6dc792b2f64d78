package tags

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hlsd/hlsd/internal/testmedia"
)

// area is this package's folder in the shared fixture cache; bump the key
// when a recipe changes.
const (
	area = "tags"
	key  = "v1"
)

// tagArgs are the tags every fixture is written with.
var tagArgs = []string{"-metadata", "title=Título Uno", "-metadata", "artist=The Artist",
	"-metadata", "album=First Album", "-metadata", "album_artist=Various Artists",
	"-metadata", "track=3/12", "-metadata", "disc=1/2", "-metadata", "date=2024",
	"-metadata", "genre=Electronic", "-metadata", "composer=A. Composer"}

// allTags is what FromProbe must give for tagArgs in a container that
// holds them all.
var allTags = map[string]string{"title": "Título Uno", "artist": "The Artist", "album": "First Album",
	"album_artist": "Various Artists", "track": "3", "track_total": "12", "disc": "1", "disc_total": "2",
	"date": "2024", "genre": "Electronic", "composer": "A. Composer"}

// ffmpegRun runs ffmpeg with args, failing with its stderr.
func ffmpegRun(args ...string) error {
	out, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-nostdin", "-y"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg %.300q: %w: %s", args, err, out)
	}
	return nil
}

// sineIn and picIn are a one-second tone and a picture of w x h.
var sineIn = []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1"}

func picIn(w, h int) []string {
	return []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=1:duration=1", w, h)}
}

// withCover maps a tone and a w x h JPEG cover as attached picture.
func withCover(audio []string, w, h int) []string {
	return slices.Concat(sineIn, picIn(w, h), []string{"-map", "0:a", "-map", "1:v"}, audio,
		[]string{"-c:v", "mjpeg", "-frames:v", "1", "-disposition:v:0", "attached_pic"})
}

// tagged are the ffmpeg arguments (output path left out) of the fixtures
// written with tagArgs, one per container.
var tagged = map[string][]string{
	"id3v23.mp3":  slices.Concat(withCover([]string{"-c:a", "libmp3lame"}, 320, 320), tagArgs, []string{"-id3v2_version", "3", "-f", "mp3"}),
	"id3v24.mp3":  slices.Concat(withCover([]string{"-c:a", "libmp3lame"}, 320, 320), tagArgs, []string{"-id3v2_version", "4", "-f", "mp3"}),
	"vorbis.flac": slices.Concat(withCover([]string{"-c:a", "flac"}, 800, 400), tagArgs, []string{"-f", "flac"}),
	"vorbis.ogg":  slices.Concat(sineIn, []string{"-c:a", "libvorbis"}, tagArgs, []string{"-f", "ogg"}),
	"opus.opus":   slices.Concat(sineIn, []string{"-c:a", "libopus"}, tagArgs, []string{"-f", "ogg"}),
	"atoms.m4a":   slices.Concat(withCover([]string{"-c:a", "aac"}, 320, 320), tagArgs, []string{"-f", "ipod"}),
	"info.wav":    slices.Concat(sineIn, []string{"-c:a", "pcm_s16le"}, tagArgs, []string{"-f", "wav"}),
	// WavPack carries APEv2 items, here under the names taggers give them.
	"ape.wv": slices.Concat(sineIn, []string{"-c:a", "wavpack", "-metadata", "Title=Título Uno", "-metadata", "Artist=The Artist",
		"-metadata", "Album=First Album", "-metadata", "Album Artist=Various Artists", "-metadata", "Track=3/12",
		"-metadata", "Disc=1/2", "-metadata", "Year=2024", "-metadata", "Genre=Electronic", "-metadata", "Composer=A. Composer",
		"-metadata", "MUSICBRAINZ_ALBUMID=1B2C3D4E-0000-4A4A-8B8B-0123456789AB", "-f", "wv"}),
}

// fixture returns the cached file name made with ffmpeg args (the output
// path appended), or with tagged[name] when args are nil.
func fixture(t *testing.T, name string, args ...string) string {
	t.Helper()
	if args == nil {
		args = tagged[name]
	}
	return testmedia.Cached(t, area, key, name, func(tmp string) error {
		return ffmpegRun(append(args, tmp)...)
	})
}

func TestProbeContainers(t *testing.T) {
	without := func(keys ...string) map[string]string {
		m := maps.Clone(allTags)
		for _, k := range keys {
			delete(m, k)
		}
		return m
	}
	with := func(m map[string]string, k, v string) map[string]string {
		m = maps.Clone(m)
		m[k] = v
		return m
	}
	cases := []struct {
		name  string
		want  map[string]string
		cover [2]int // cover size, zero when the container holds none
	}{
		{"id3v23.mp3", allTags, [2]int{320, 320}},
		{"id3v24.mp3", allTags, [2]int{320, 320}},
		{"vorbis.flac", allTags, [2]int{800, 400}},
		{"vorbis.ogg", allTags, [2]int{}},
		{"opus.opus", allTags, [2]int{}},
		{"atoms.m4a", allTags, [2]int{320, 320}},
		// RIFF LIST INFO has no album artist, disc or composer; ffmpeg
		// writes INAM, IART, IPRD, ICRD, IGNR and IPRT ("3/12").
		{"ape.wv", with(allTags, "musicbrainz_album_id", "1b2c3d4e-0000-4a4a-8b8b-0123456789ab"), [2]int{}},
		{"info.wav", without("album_artist", "disc", "disc_total", "composer"), [2]int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := fixture(t, c.name)
			f, err := Probe(context.Background(), "ffprobe", path)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(f.Tags, c.want) {
				t.Errorf("tags =\n %q\nwant\n %q", f.Tags, c.want)
			}
			switch {
			case c.cover == [2]int{} && f.Cover != nil:
				t.Errorf("cover = %+v, want none", *f.Cover)
			case c.cover != [2]int{} && (f.Cover == nil || f.Cover.Width != c.cover[0] || f.Cover.Height != c.cover[1]):
				t.Errorf("cover = %+v, want %dx%d", f.Cover, c.cover[0], c.cover[1])
			}
		})
	}
}

// size returns the width and height ffprobe reads in the picture at path.
func size(t *testing.T, path string) (w, h int, codec string) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probeOutput
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) != 1 {
		t.Fatalf("ffprobe %s: %v, %d streams", path, err, len(p.Streams))
	}
	return p.Streams[0].Width, p.Streams[0].Height, p.Streams[0].CodecName
}

func TestCover(t *testing.T) {
	cases := []struct {
		name string
		want map[int][2]int // size → picture written
	}{
		// A 320 px cover is never upscaled to 600.
		{"id3v23.mp3", map[int][2]int{600: {320, 320}, 300: {300, 300}}},
		// A wide one keeps its aspect ratio.
		{"vorbis.flac", map[int][2]int{600: {600, 300}, 300: {300, 150}}},
		{"atoms.m4a", map[int][2]int{600: {320, 320}, 300: {300, 300}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := fixture(t, c.name)
			f, err := Probe(context.Background(), "ffprobe", path)
			if err != nil || f.Cover == nil {
				t.Fatalf("probe: %v, cover %v", err, f.Cover)
			}
			dir := t.TempDir()
			files, err := Cover(context.Background(), "ffmpeg", path, *f.Cover, dir, CoverSizes())
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range CoverSizes() {
				if files[i] != filepath.Join(dir, CoverName(s)) {
					t.Errorf("file %d = %s, want %s", i, files[i], CoverName(s))
				}
				w, h, codec := size(t, files[i])
				if [2]int{w, h} != c.want[s] || codec != "mjpeg" {
					t.Errorf("%s: %s %dx%d, want mjpeg %dx%d", CoverName(s), codec, w, h, c.want[s][0], c.want[s][1])
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(CoverSizes()) {
				t.Errorf("dir holds %d files, want %d (no temporary left)", len(entries), len(CoverSizes()))
			}
		})
	}
}

func TestCoverFailureLeavesNothing(t *testing.T) {
	path := fixture(t, "vorbis.ogg")
	dir := t.TempDir()
	// Stream 0 is audio: there is no picture to decode.
	if _, err := Cover(context.Background(), "ffmpeg", path, Picture{Index: 0, Width: 10, Height: 10}, dir, CoverSizes()); err == nil {
		t.Fatal("Cover of an audio stream succeeded")
	}
	if _, err := Cover(context.Background(), "ffmpeg", path, Picture{Index: 1, Width: 10000, Height: 10000}, dir, CoverSizes()); err == nil {
		t.Fatal("Cover of a 100 megapixel picture was attempted")
	}
	if _, err := Cover(context.Background(), "ffmpeg", fixture(t, "id3v23.mp3"), Picture{Index: 1, Width: 320, Height: 320}, dir, []int{300, 300}); err == nil {
		t.Fatal("Cover with a repeated size succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed Cover left %d files", len(entries))
	}
}

// id3Frame is one ID3v2.4 text frame whose body is written as given
// (encoding byte first), so it can hold what no tagger should write.
func id3Frame(id string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(id)
	b.Write(synchsafe(len(body)))
	b.Write([]byte{0, 0})
	b.Write(body)
	return b.Bytes()
}

// synchsafe encodes n in ID3v2's four 7-bit bytes.
func synchsafe(n int) []byte {
	return []byte{byte(n >> 21 & 0x7f), byte(n >> 14 & 0x7f), byte(n >> 7 & 0x7f), byte(n & 0x7f)}
}

// hostileMP3 is an mp3 whose hand-written ID3v2.4 tag holds invalid UTF-8,
// control characters, a bidi override, NUL-separated artists, a 200 KB
// genre, a vinyl-side track number and a malformed date.
func hostileMP3(tmp string) error {
	plain := tmp + ".plain.mp3"
	defer os.Remove(plain)
	if err := ffmpegRun(slices.Concat(sineIn, []string{"-c:a", "libmp3lame", "-write_id3v2", "0", "-write_xing", "0", "-f", "mp3", plain})...); err != nil {
		return err
	}
	audio, err := os.ReadFile(plain)
	if err != nil {
		return err
	}
	const utf8Enc = 3
	var frames []byte
	add := func(id, text string) {
		frames = append(frames, id3Frame(id, append([]byte{utf8Enc}, text...))...)
	}
	add("TIT2", "Evil \xff\xfe\xc3 title\x07\x1b[2J\u202egnp.exe\r\n")
	add("TPE1", "First\x00Second\x00First")
	add("TALB", "\x01\x02\x03")
	add("TCON", strings.Repeat("Noise ", 200_000/6))
	add("TRCK", "A1")
	add("TDRC", "24/05/2024")
	add("TPOS", "2/3")
	frames = append(frames, id3Frame("TXXX", append([]byte{utf8Enc}, "MusicBrainz Album Id\x001B2C3D4E-0000-4A4A-8B8B-0123456789AB"...))...)
	tag := append([]byte("ID3\x04\x00\x00"), synchsafe(len(frames))...)
	return os.WriteFile(tmp, slices.Concat(tag, frames, audio), 0o644)
}

func TestProbeHostileTags(t *testing.T) {
	t.Run("raw id3v2.4", func(t *testing.T) {
		path := testmedia.Cached(t, area, key, "hostile.mp3", hostileMP3)
		f, err := Probe(context.Background(), "ffprobe", path)
		if err != nil {
			t.Fatal(err)
		}
		genre := strings.TrimSpace(strings.Repeat("Noise ", MaxValueBytes/6+1)[:MaxValueBytes])
		// ffmpeg 5.1 reads only the first of ID3v2.4's NUL-separated values.
		want := map[string]string{"title": "Evil \ufffd title[2Jgnp.exe", "artist": "First", "genre": genre,
			"disc": "2", "disc_total": "3", "musicbrainz_album_id": "1b2c3d4e-0000-4a4a-8b8b-0123456789ab"}
		if !maps.Equal(f.Tags, want) {
			t.Errorf("tags =\n %.300q\nwant\n %.300q", f.Tags, want)
		}
	})
	t.Run("vorbis comments", func(t *testing.T) {
		const uuid = "0f0e0d0c-0b0a-4909-8807-060504030201"
		path := fixture(t, "hostile.flac", slices.Concat(sineIn, []string{"-c:a", "flac",
			"-metadata", "TITLE=\xc0\xafok\x7f\x1f", "-metadata", "ALBUMARTIST=Album\tArtist",
			"-metadata", "TRACKNUMBER=0004", "-metadata", "TRACKTOTAL=99999", "-metadata", "DISCNUMBER=x",
			"-metadata", "MUSICBRAINZ_TRACKID=" + uuid, "-metadata", "MUSICBRAINZ_ARTISTID=junk",
			"-metadata", "ARTIST=" + strings.Repeat("\U0001F3B5", 60_000/4), "-f", "flac"})...)
		f, err := Probe(context.Background(), "ffprobe", path)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range f.Tags {
			if !utf8.ValidString(v) || len(v) > MaxValueBytes {
				t.Errorf("%s: %d bytes, valid UTF-8 %v", k, len(v), utf8.ValidString(v))
			}
		}
		if a := f.Tags["artist"]; a != strings.Repeat("\U0001F3B5", MaxValueBytes/4) {
			t.Errorf("artist: %d bytes, want %d notes", len(a), MaxValueBytes/4)
		}
		delete(f.Tags, "artist")
		want := map[string]string{"title": "\ufffdok", "album_artist": "Album Artist", "track": "4", "musicbrainz_track_id": uuid}
		if !maps.Equal(f.Tags, want) {
			t.Errorf("tags =\n %q\nwant\n %q", f.Tags, want)
		}
	})
}

func TestParseRejectsJunk(t *testing.T) {
	if _, err := Parse([]byte("not json")); err == nil {
		t.Error("Parse accepted junk")
	}
	if _, err := Probe(context.Background(), "ffprobe", filepath.Join(t.TempDir(), "missing.mp3")); err == nil {
		t.Error("Probe of a missing file succeeded")
	}
}

func TestCoverArgs(t *testing.T) {
	got := CoverArgs("/in.mp3", 1, []int{600, 300}, []string{"/o/a.jpg", "/o/b.jpg"})
	want := []string{"-v", "error", "-hide_banner", "-nostdin", "-y", "-i", "file:/in.mp3", "-filter_complex",
		"[0:1]split=2[s0][s1];[s0]scale=w='min(iw,600)':h='min(ih,600)':force_original_aspect_ratio=decrease,format=yuvj420p[o0];" +
			"[s1]scale=w='min(iw,300)':h='min(ih,300)':force_original_aspect_ratio=decrease,format=yuvj420p[o1]",
		"-map", "[o0]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "mjpeg", "file:/o/a.jpg",
		"-map", "[o1]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "mjpeg", "file:/o/b.jpg"}
	if !slices.Equal(got, want) {
		t.Errorf("CoverArgs =\n %q\nwant\n %q", got, want)
	}
}

func TestSidecar(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"song.flac", "Folder.JPG", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "cover.jpg"), 0o755); err != nil { // a folder, not a picture
		t.Fatal(err)
	}
	pic := fixture(t, "front.png", slices.Concat(picIn(1000, 500), []string{"-frames:v", "1", "-c:v", "png", "-f", "image2"})...)
	data, err := os.ReadFile(pic)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Front.png"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// folder.jpg ranks before front.png.
	if got, err := FindSidecar(dir); err != nil || got != filepath.Join(dir, "Folder.JPG") {
		t.Errorf("FindSidecar = %q, %v; want Folder.JPG", got, err)
	}
	if err := os.Remove(filepath.Join(dir, "Folder.JPG")); err != nil {
		t.Fatal(err)
	}
	side, err := FindSidecar(dir)
	if err != nil || side != filepath.Join(dir, "Front.png") {
		t.Fatalf("FindSidecar = %q, %v; want Front.png", side, err)
	}
	if !IsSidecar(side) || IsSidecar("song.flac") || IsSidecar("my cover.jpg") {
		t.Error("IsSidecar misjudges a name")
	}
	p, err := ProbeImage(context.Background(), "ffprobe", side)
	if err != nil || p.Width != 1000 || p.Height != 500 {
		t.Fatalf("ProbeImage = %+v, %v; want 1000x500", p, err)
	}
	out := t.TempDir()
	files, err := Cover(context.Background(), "ffmpeg", side, p, out, CoverSizes())
	if err != nil {
		t.Fatal(err)
	}
	if w, h, _ := size(t, files[0]); w != 600 || h != 300 {
		t.Errorf("%s is %dx%d, want 600x300", files[0], w, h)
	}
	if _, err := ProbeImage(context.Background(), "ffprobe", fixture(t, "vorbis.ogg")); err == nil {
		t.Error("ProbeImage of an audio file succeeded")
	}
}
