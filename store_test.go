package hlsd_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hlsd/hlsd"
)

func TestValidKey(t *testing.T) {
	for key, want := range map[string]bool{
		"media/abc/master.m3u8": true, "a": true, "a.b/c-d_e": true,
		"": false, ".": false, "..": false, "/a": false, "a/": false, "a//b": false,
		"a/./b": false, "a/../b": false, "a\\b": false, "a\x00b": false,
	} {
		if got := hlsd.ValidKey(key); got != want {
			t.Errorf("ValidKey(%q) = %v, want %v", key, got, want)
		}
	}
	for prefix, want := range map[string]bool{"": true, "media/": true, "media/abc/": true, "media": false, "/": false, "a//": false} {
		if got := hlsd.ValidPrefix(prefix); got != want {
			t.Errorf("ValidPrefix(%q) = %v, want %v", prefix, got, want)
		}
	}
}

// FuzzValidKey checks that a valid key, used as a path under a data
// directory, never leaves it.
func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"media/a/b.m4s", "../x", "a/../../b", "a\\..\\b", "./a", "a/.", "...", "a/..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if !hlsd.ValidKey(key) {
			return
		}
		p := filepath.Join("/data", filepath.FromSlash(key))
		if !strings.HasPrefix(p, "/data/") || p != "/data/"+key {
			t.Errorf("valid key %q is the path %q", key, p)
		}
	})
}

func TestPublishOrder(t *testing.T) {
	tree := fstest.MapFS{
		"master.m3u8":            {},
		"poster.jpg":             {},
		"720p/index.m3u8":        {},
		"720p/init.mp4":          {},
		"720p/seg_00001.m4s":     {},
		"audio/aac/index.m3u8":   {},
		"audio/aac/seg_00001.ts": {},
	}
	got, err := hlsd.PublishOrder(tree)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"720p/init.mp4", "720p/seg_00001.m4s", "audio/aac/seg_00001.ts", "poster.jpg",
		"audio/aac/index.m3u8", "720p/index.m3u8", "master.m3u8",
	}
	if !slices.Equal(got, want) {
		t.Errorf("PublishOrder = %q, want %q", got, want)
	}
}
