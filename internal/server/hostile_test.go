package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hlsd/hlsd"
)

// trap is what a hostile upload would touch if hlsd followed it: a TCP
// listener on 127.0.0.1 that counts connections, and a FIFO standing for a
// local file, whose writer side opens only if someone opens it to read.
type trap struct {
	ln     net.Listener
	conns  atomic.Int32
	fifo   string
	opened chan struct{}
}

func newTrap(t *testing.T) *trap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &trap{ln: ln, fifo: filepath.Join(t.TempDir(), "secret.ts"), opened: make(chan struct{}, 1)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.conns.Add(1)
			c.Close()
		}
	}()
	if err := syscall.Mkfifo(tr.fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		f, err := os.OpenFile(tr.fifo, os.O_WRONLY, 0) // blocks until a reader opens
		if err == nil {
			select {
			case <-done:
			default:
				tr.opened <- struct{}{}
			}
			f.Close()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		// Release the writer goroutine.
		if f, err := os.OpenFile(tr.fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	return tr
}

func (tr *trap) url() string { return "http://" + tr.ln.Addr().String() + "/seg.ts" }

// check fails t if anything reached the trap.
func (tr *trap) check(t *testing.T) {
	t.Helper()
	if n := tr.conns.Load(); n != 0 {
		t.Errorf("the listener saw %d connections", n)
	}
	select {
	case <-tr.opened:
		t.Errorf("the local file %s was opened", tr.fifo)
	default:
	}
}

// newWorkingEnv is a server whose library runs real transcodes.
func newWorkingEnv(t *testing.T) *apiEnv {
	t.Helper()
	e, _ := newSecEnv(t, nil)
	if err := e.lib.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestHostileUploads uploads playlists and scripts that would make ffmpeg
// read a local file or connect to a listener. Plain ones are refused at
// upload (415, nothing stored); ones with a NUL byte slip past the text
// sniff and reach ffprobe in the worker, where -format_whitelist refuses
// the demuxer: the media fails with a clear sentence. In every case the
// listener sees no connection and the local file is never opened.
func TestHostileUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffprobe")
	}
	e := newWorkingEnv(t)
	tr := newTrap(t)
	hls := func(uri string) string {
		return "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n" + uri + "\n#EXT-X-ENDLIST\n"
	}
	tests := []struct {
		name, body, filename string
		atUpload             bool // refused by the upload itself
		msg                  string
	}{
		{"hls pointing at a local file", hls("file://" + tr.fifo), "a.m3u8", true, "input is an HLS playlist"},
		{"hls pointing at /etc/passwd", hls("file:///etc/passwd"), "a.mp4", true, "input is an HLS playlist"},
		{"hls pointing at a listener", hls(tr.url()), "video.mp4", true, "input is an HLS playlist"},
		{"hls after a BOM and blank lines", "\ufeff\n\n" + hls(tr.url()), "x.mov", true, "input is an HLS playlist"},
		{"ffconcat with a local file", "ffconcat version 1.0\nfile " + tr.fifo + "\n", "a.txt", true, "ffconcat script"},
		{"concat list of a URL", "file '" + tr.url() + "'\n", "list.txt", true, "ffconcat script"},
		{"sdp", "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nm=video " + strings.Split(tr.ln.Addr().String(), ":")[1] + " RTP/AVP 96\n", "a.sdp", true, "SDP"},
		{"dash manifest", `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><BaseURL>` + tr.url() + `</BaseURL></MPD>`, "a.mpd", true, "DASH manifest"},
		{"binary-padded hls to a listener", hls(tr.url()) + "\x00", "clip.mp4", false, "input is an HLS playlist"},
		{"binary-padded hls to a local file", hls("file://"+tr.fifo) + "\x00", "clip.mp4", false, "input is an HLS playlist"},
		{"binary-padded ffconcat", "ffconcat version 1.0\nfile '" + tr.url() + "'\n\x00", "clip.mkv", false, "ffconcat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, apiReq{method: "POST", path: "/api/v1/media?filename=" + tt.filename, body: strings.NewReader(tt.body)})
			if tt.atUpload {
				r.wantError(t, 415, hlsd.EUNSUPPORTED, tt.msg)
				if strings.Contains(string(r.body), e.data) {
					t.Errorf("error body names a server path: %s", r.body)
				}
			} else {
				if r.status != 201 {
					t.Fatalf("upload: %d %s", r.status, r.body)
				}
				m := waitFailed(t, e, r)
				if !strings.Contains(m.Error, tt.msg) || strings.Contains(m.Error, e.data) || strings.Contains(m.Error, "source.") {
					t.Errorf("error %q, want one naming %q, without server paths", m.Error, tt.msg)
				}
			}
			tr.check(t)
		})
	}
	t.Run("tus upload of a playlist", func(t *testing.T) {
		body := hls(tr.url())
		r, path := e.tusCreate(t, len(body), map[string]string{"filename": "a.m3u8"})
		if r.status != 201 {
			t.Fatalf("tus create: %d", r.status)
		}
		e.tusPatch(t, path, 0, body).wantError(t, 415, hlsd.EUNSUPPORTED, "input is an HLS playlist")
		tr.check(t)
	})
}

// waitFailed waits for the media created by r to fail, and returns it.
func waitFailed(t *testing.T, e *apiEnv, r apiResp) *hlsd.Media {
	t.Helper()
	id := strings.TrimPrefix(r.header.Get("Location"), APIPrefix+"/media/")
	var m *hlsd.Media
	waitFor(t, "media "+id+" to fail", func() bool {
		var err error
		m, err = e.lib.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == hlsd.StatusReady {
			t.Fatalf("media %s became ready", id)
		}
		return m.Status == hlsd.StatusFailed
	})
	return m
}

// TestAbsurdMedia uploads files whose headers declare absurd dimensions,
// durations or stream counts: the probe refuses them with the figure and
// the limit, at the first attempt (no retries of a file that cannot pass).
func TestAbsurdMedia(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffmpeg")
	}
	e := newWorkingEnv(t)
	dir := t.TempDir()
	ffmpeg := func(args ...string) {
		t.Helper()
		out, err := exec.Command("ffmpeg", append([]string{"-nostdin", "-v", "error"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	// A tiny raw-video Matroska file, then patched copies of it: the
	// declared size (PixelWidth 0xB0, PixelHeight 0xBA, two bytes each for
	// 320) and the declared duration (0x4489, an 8-byte float in ms).
	raw := filepath.Join(dir, "raw.mkv")
	ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x320:rate=1:duration=1", "-c:v", "rawvideo", "-pix_fmt", "yuv420p", "-f", "matroska", raw)
	src, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	// patch returns b with the bytes after the element header hdr replaced
	// by value (same size, so no parent size changes).
	patch := func(b, hdr, value []byte) []byte {
		t.Helper()
		i := bytes.Index(b, hdr)
		if i < 0 {
			t.Fatalf("element %x not in ffmpeg's Matroska output: the fixture recipe needs updating", hdr)
		}
		b = bytes.Clone(b)
		copy(b[i+len(hdr):], value)
		return b
	}
	w12000 := []byte{0x2E, 0xE0}
	huge := patch(patch(src, []byte{0xB0, 0x82}, w12000), []byte{0xBA, 0x82}, w12000)
	var dur [8]byte
	binary.BigEndian.PutUint64(dur[:], math.Float64bits(2*24*3600*1000))
	long := patch(src, []byte{0x44, 0x89, 0x88}, dur[:])
	many := filepath.Join(dir, "many.mkv")
	args := []string{"-f", "lavfi", "-i", "sine=duration=1"}
	for range 40 {
		args = append(args, "-map", "0:a")
	}
	ffmpeg(append(args, "-c:a", "pcm_s16le", "-f", "matroska", many)...)
	manyBytes, err := os.ReadFile(many)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		body []byte
		msg  string
	}{
		{"12000x12000 frames", huge, "video is 12000x12000; the limit is 8192x8192"},
		{"two days long", long, "lasts 48h0m0s; the limit is 24h0m0s"},
		{"40 streams", manyBytes, "has 40 streams; the limit is 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, apiReq{method: "POST", path: "/api/v1/media?filename=absurd.mkv", body: bytes.NewReader(tt.body)})
			if r.status != 201 {
				t.Fatalf("upload: %d %s", r.status, r.body)
			}
			m := waitFailed(t, e, r)
			if !strings.Contains(m.Error, tt.msg) || strings.Contains(m.Error, "attempts") {
				t.Errorf("error %q, want %q at the first attempt", m.Error, tt.msg)
			}
			if _, err := os.Stat(filepath.Join(e.data, "media", m.ID)); !os.IsNotExist(err) {
				t.Errorf("presentation folder left: %v", err)
			}
		})
	}
}

// TestTrapDetects shows the trap works, so TestHostileUploads can fail: an
// ffprobe allowed to follow the same playlists does connect to the
// listener and does open the local file.
func TestTrapDetects(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffprobe")
	}
	tr := newTrap(t)
	dir := t.TempDir()
	for name, uri := range map[string]string{"net.m3u8": tr.url(), "file.m3u8": "file://" + tr.fifo} {
		p := filepath.Join(dir, name)
		body := "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n" + uri + "\n#EXT-X-ENDLIST\n"
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		// Unsafe on purpose: every protocol and demuxer allowed.
		exec.Command("ffprobe", "-v", "quiet", "-protocol_whitelist", "file,http,tcp", "-allowed_extensions", "ALL", p).Run()
	}
	waitFor(t, "the listener to see ffprobe", func() bool { return tr.conns.Load() > 0 })
	select {
	case <-tr.opened:
	default:
		waitFor(t, "ffprobe to open the local file", func() bool { return len(tr.opened) > 0 })
	}
}
