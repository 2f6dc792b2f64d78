package benchplay

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// Source returns the benchmarks' 1080p30 H.264/AAC test source of the given
// length in cacheDir, encoding it once with ffmpeg's lavfi sources
// (ultrafast keeps that short; the file is about 2 MB a second).
func Source(cacheDir string, minutes int) (string, error) {
	path := filepath.Join(cacheDir, fmt.Sprintf("source-1080p30-%dmin.mp4", minutes))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "making %s (once)\n", path)
	secs := fmt.Sprint(minutes * 60)
	tmp := path + ".part.mp4"
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration="+secs,
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration="+secs,
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-ac", "2", "-movflags", "+faststart", tmp)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("ffmpeg: %w", err)
	}
	return path, os.Rename(tmp, path)
}

// Median returns the median of v (v is not modified).
func Median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
