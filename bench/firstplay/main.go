// Command firstplay measures two figures of the media library on this
// machine, against a real `hlsd serve` on 127.0.0.1:
//
//   - time to first playable: from the moment a raw POST of a 10-minute
//     1080p30 source has been answered (upload finished) until hls.js in
//     headless Chromium is playing its playback URL (currentTime > 0). The
//     player starts trying at once and retries while the playlist is not
//     there yet, as a page would. The moment the multivariant playlist first
//     answers 200 is printed too, and what it lists first: an H.264/AAC MP4
//     plays at once from its source rendition (packaged on the fly), not
//     from the ladder's first segments.
//   - upload throughput: MB/s of a raw POST of a ~1 GB file (streamed from
//     disk, written to disk by hlsd), next to two references on the same
//     file: reading it (cat file > /dev/null) and copying it (cp).
//
// The source is made once with ffmpeg's lavfi test sources (x264
// ultrafast) and cached in bench/out/cache/. Run from the repository root:
//
//	go run ./bench/firstplay [-hlsd bin/hlsd] [-runs 3] [-upload-size 1GiB]
//
// It needs ffmpeg, Debian's chromium and web/node_modules (npm ci in web/).
package main

import (
	"github.com/hlsd/hlsd/bench/internal/benchplay"

	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	token = "firstplay-bench-token-0123456789"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "firstplay:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := flag.String("hlsd", "bin/hlsd", "hlsd binary (built with go build -o bin/hlsd ./cmd/hlsd when missing)")
	out := flag.String("out", "bench/out", "output folder (source cache in OUT/cache, data and summary in OUT/firstplay)")
	runs := flag.Int("runs", 3, "uploads of the 10-minute source to time (median printed)")
	minutes := flag.Int("minutes", 10, "length of the 1080p source")
	uploadMiB := flag.Int("upload-mib", 1024, "size of the throughput file in MiB")
	container := flag.String("container", "mp4", "container of the upload: mp4 (plays at once from the on-the-fly source rendition) or mkv (the same streams remuxed, which only the transcoded ladder can play)")
	flag.Parse()

	if _, err := os.Stat(*bin); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "building %s\n", *bin)
		if b, err := exec.Command("go", "build", "-o", *bin, "./cmd/hlsd").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, b)
		}
	}
	for _, need := range []string{benchplay.Chromium, benchplay.HLSJS} {
		if _, err := os.Stat(need); err != nil {
			return fmt.Errorf("%s missing (install chromium; npm ci in web/)", need)
		}
	}
	cache := filepath.Join(*out, "cache")
	work := filepath.Join(*out, "firstplay")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	os.RemoveAll(work)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Join(work, "data"))

	src, err := benchplay.Source(cache, *minutes)
	if err != nil {
		return err
	}
	switch *container {
	case "mp4":
	case "mkv":
		mkv := strings.TrimSuffix(src, ".mp4") + ".mkv"
		if _, err := os.Stat(mkv); err != nil {
			if b, err := exec.Command("ffmpeg", "-v", "error", "-y", "-i", src, "-c", "copy", mkv).CombinedOutput(); err != nil {
				return fmt.Errorf("remux to mkv: %v\n%s", err, b)
			}
		}
		src = mkv
	default:
		return fmt.Errorf("-container %q: want mp4 or mkv", *container)
	}

	srv, err := startHLSD(*bin, filepath.Join(work, "data"))
	if err != nil {
		return err
	}
	defer srv.Stop()

	player, err := benchplay.New()
	if err != nil {
		return err
	}
	defer player.Close()

	var lines []string
	say := func(format string, args ...any) {
		l := fmt.Sprintf(format, args...)
		fmt.Println(l)
		lines = append(lines, l)
	}
	fi, _ := os.Stat(src)
	say("time to first playable: %d-minute 1080p30 H.264/AAC source in %s (%.0f MB), raw POST on 127.0.0.1, --workers 1", *minutes, *container, mb(fi.Size()))
	var ttfp, ttm []float64
	for i := range *runs {
		r, err := firstPlayable(srv, player, src)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		say("  run %d: upload %.1f s; master playlist after %.2f s (first variant: %s); hls.js playing after %.2f s",
			i+1, r.upload.Seconds(), r.master.Seconds(), r.first, r.playing.Seconds())
		ttfp = append(ttfp, r.playing.Seconds())
		ttm = append(ttm, r.master.Seconds())
	}
	say("time to first playable (median of %d): %.2f s (master playlist %.2f s)", *runs, benchplay.Median(ttfp), benchplay.Median(ttm))

	// Throughput on a file of random bytes: hlsd accepts it (201) and the
	// job fails once probing finds no media, which costs nothing.
	big := filepath.Join(work, "upload.bin")
	if err := writeRandom(big, int64(*uploadMiB)<<20); err != nil {
		return err
	}
	defer os.Remove(big)
	// hlsd writes the upload and fsyncs it before answering 201, so the
	// fair disk reference is a copy that also ends with fsync (dd
	// conv=fsync); cat > /dev/null is the read side alone (page cache).
	n := float64(int64(*uploadMiB) << 20)
	var upRate, readRate, copyRate []float64
	for range 3 {
		up, id, err := srv.upload(big, "throughput.bin")
		if err != nil {
			return err
		}
		srv.delete(id)
		readRef, err := timeCmd("sh", "-c", "cat "+big+" > /dev/null")
		if err != nil {
			return err
		}
		copyRef, err := timeCmd("dd", "if="+big, "of="+big+".copy", "bs=1M", "conv=fsync", "status=none")
		os.Remove(big + ".copy")
		if err != nil {
			return err
		}
		upRate = append(upRate, n/1e6/up.Seconds())
		readRate = append(readRate, n/1e6/readRef.Seconds())
		copyRate = append(copyRate, n/1e6/copyRef.Seconds())
	}
	say("upload throughput (%d MiB raw POST to 127.0.0.1, written and fsynced by hlsd; median of 3): %.0f MB/s", *uploadMiB, benchplay.Median(upRate))
	say("  disk references on the same file: copy with fsync (dd conv=fsync) %.0f MB/s, read (cat > /dev/null) %.0f MB/s; upload = %.0f%% of the copy",
		benchplay.Median(copyRate), benchplay.Median(readRate), 100*benchplay.Median(upRate)/benchplay.Median(copyRate))
	say("  runs: upload %s MB/s; copy %s MB/s", joinRates(upRate), joinRates(copyRate))

	return os.WriteFile(filepath.Join(work, "summary.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func joinRates(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(s, ", ")
}

func mb(n int64) float64 { return float64(n) / 1e6 }

func writeRandom(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	rand.Read(buf)
	for n := int64(0); n < size; n += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func timeCmd(name string, args ...string) (time.Duration, error) {
	start := time.Now()
	if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s: %v: %s", name, err, b)
	}
	return time.Since(start), nil
}

// server is a running `hlsd serve` with the benchmark's API token.
type server struct{ *benchplay.Server }

func startHLSD(bin, data string) (*server, error) {
	s, err := benchplay.StartHLSD(bin, token, "--data", data)
	if err != nil {
		return nil, err
	}
	return &server{s}, nil
}

func (s *server) request(method, path string, body io.Reader, size int64) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, s.Base+path, body)
	if err != nil {
		return nil, nil, err
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// upload POSTs path raw and returns how long it took and the media id.
func (s *server) upload(path, name string) (time.Duration, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	fi, _ := f.Stat()
	start := time.Now()
	resp, body, err := s.request("POST", "/api/v1/media?filename="+name, f, fi.Size())
	d := time.Since(start)
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return 0, "", fmt.Errorf("upload: %d %s", resp.StatusCode, body)
	}
	var m struct{ ID string }
	if err := json.Unmarshal(body, &m); err != nil {
		return 0, "", err
	}
	return d, m.ID, nil
}

func (s *server) delete(id string) {
	s.request("DELETE", "/api/v1/media/"+id, nil, 0)
}

type result struct {
	upload, master, playing time.Duration
	// first is the first variant of the master playlist as first served:
	// "source" for the source rendition, else the ladder rung's folder.
	first string
}

// firstPlayable uploads src, then at once has the player try the playback
// URL until it plays, while another goroutine notes when the multivariant
// playlist first answers 200.
func firstPlayable(s *server, p *benchplay.Player, src string) (result, error) {
	var r result
	up, id, err := s.upload(src, "firstplay.mp4")
	if err != nil {
		return r, err
	}
	defer s.delete(id)
	r.upload = up
	start := time.Now()
	playURL := s.Base + "/hls/" + id + "/master.m3u8"

	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wg.Go(func() {
		for ctx.Err() == nil {
			resp, err := http.Get(playURL)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					r.master = time.Since(start)
					r.first = firstVariant(string(body))
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	err = p.PlayUntilPlaying(ctx, playURL)
	r.playing = time.Since(start)
	wg.Wait()
	return r, err
}

// firstVariant is the first folder of the first variant URI of a
// multivariant playlist ("source" for source/video/index.m3u8).
func firstVariant(master string) string {
	for _, l := range strings.Split(master, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			first, _, _ := strings.Cut(l, "/")
			return first
		}
	}
	return "?"
}
