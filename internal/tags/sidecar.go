package tags

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SidecarNames returns the names of the picture files beside a music file
// that serve as its album's cover when the file embeds none, most preferred
// first; they match without regard to case ("Folder.JPG"). A watched folder
// must not import them as media of their own.
func SidecarNames() []string { return slices.Clone(sidecarNames) }

// sidecarNames is the list SidecarNames returns.
var sidecarNames = []string{"cover.jpg", "cover.jpeg", "cover.png", "folder.jpg", "folder.jpeg", "folder.png",
	"front.jpg", "front.jpeg", "front.png", "album.jpg", "album.png"}

// IsSidecar reports whether name (a base name or path) is a cover sidecar
// by its name, so a watcher can skip it.
func IsSidecar(name string) bool {
	return slices.Contains(sidecarNames, strings.ToLower(filepath.Base(name)))
}

// FindSidecar returns the path of the most preferred cover sidecar in dir,
// or "" when there is none. Only regular files count.
func FindSidecar(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("sidecar: %w", err)
	}
	best, rank := "", len(sidecarNames)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if i := slices.Index(sidecarNames, strings.ToLower(e.Name())); i >= 0 && i < rank {
			best, rank = e.Name(), i
		}
	}
	if best == "" {
		return "", nil
	}
	return filepath.Join(dir, best), nil
}

// ProbeImage runs ffprobe on a picture file (a sidecar) and returns it as
// the Picture that Cover takes with that file as its source. It fails when
// the file holds no picture.
func ProbeImage(ctx context.Context, ffprobe, path string) (Picture, error) {
	out, err := runProbe(ctx, ffprobe, path)
	if err != nil {
		return Picture{}, err
	}
	p, err := decode(out)
	if err != nil {
		return Picture{}, err
	}
	for _, s := range p.Streams {
		if s.CodecType == "video" && s.Width > 0 && s.Height > 0 {
			return Picture{Index: s.Index, Codec: s.CodecName, Width: s.Width, Height: s.Height}, nil
		}
	}
	return Picture{}, fmt.Errorf("sidecar %s: no picture", filepath.Base(path))
}
