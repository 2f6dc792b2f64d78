package main

import (
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	in := []string{"-nostdin", "-progress", "pipe:1", "-nostats", "-i", "file:/src.mp4"}
	hls := func(dir, name string) []string {
		return []string{"-f", "hls", "-hls_segment_filename", dir + "/" + name + "/seg_%05d.m4s", dir + "/" + name + "/index.m3u8"}
	}
	tests := []struct {
		name  string
		args  []string
		names []string
		want  []string // each command joined by spaces
	}{
		{
			name: "split with fps and audio",
			args: slices.Concat(in,
				[]string{"-filter_complex", "[0:0]fps=30,split=2[s0][s1];[s0]scale=1280:720,format=yuv420p[v0];[s1]scale=640:360,format=yuv420p[v1]"},
				[]string{"-map", "[v0]", "-c:v", "libx264"}, hls("/w/.tmp", "720p"),
				[]string{"-map", "[v1]", "-c:v", "libx264"}, hls("/w/.tmp", "360p"),
				[]string{"-map", "0:1", "-c:a", "aac"}, hls("/w/.tmp", "audio")),
			names: []string{"720p", "360p", "audio"},
			want: []string{
				"-nostdin -nostats -i file:/src.mp4 -filter_complex [0:0]fps=30,scale=1280:720,format=yuv420p[v0] -map [v0] -c:v libx264 -f hls -hls_segment_filename /ref/720p/seg_%05d.m4s /ref/720p/index.m3u8",
				"-nostdin -nostats -i file:/src.mp4 -filter_complex [0:0]fps=30,scale=640:360,format=yuv420p[v1] -map [v1] -c:v libx264 -f hls -hls_segment_filename /ref/360p/seg_%05d.m4s /ref/360p/index.m3u8",
				"-nostdin -nostats -i file:/src.mp4 -map 0:1 -c:a aac -f hls -hls_segment_filename /ref/audio/seg_%05d.m4s /ref/audio/index.m3u8",
			},
		},
		{
			name: "split without pre-filters",
			args: slices.Concat(in,
				[]string{"-filter_complex", "[0:0]split=2[s0][s1];[s0]scale=1280:720[v0];[s1]scale=640:360[v1]"},
				[]string{"-map", "[v1]"}, hls("/w", "360p")),
			names: []string{"360p"},
			want: []string{
				"-nostdin -nostats -i file:/src.mp4 -filter_complex [0:0]scale=640:360[v1] -map [v1] -f hls -hls_segment_filename /ref/360p/seg_%05d.m4s /ref/360p/index.m3u8",
			},
		},
		{
			name: "one rung, no split",
			args: slices.Concat(in,
				[]string{"-filter_complex", "[0:0]scale=640:360,format=yuv420p[v0]"},
				[]string{"-map", "[v0]"}, hls("/w", "360p")),
			names: []string{"360p"},
			want: []string{
				"-nostdin -nostats -i file:/src.mp4 -filter_complex [0:0]scale=640:360,format=yuv420p[v0] -map [v0] -f hls -hls_segment_filename /ref/360p/seg_%05d.m4s /ref/360p/index.m3u8",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs, err := split(tt.args, "/ref")
			if err != nil {
				t.Fatal(err)
			}
			if len(refs) != len(tt.want) {
				t.Fatalf("got %d commands, want %d", len(refs), len(tt.want))
			}
			for i, r := range refs {
				if r.name != tt.names[i] {
					t.Errorf("command %d: name %q, want %q", i, r.name, tt.names[i])
				}
				if got := strings.Join(r.args, " "); got != tt.want[i] {
					t.Errorf("command %d:\n got %s\nwant %s", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no output", []string{"-i", "file:/a"}},
		{"unknown label", []string{"-i", "file:/a", "-filter_complex", "[0:0]scale=2:2[v0]", "-map", "[v9]", "/w/x/index.m3u8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := split(tt.args, "/ref"); err == nil {
				t.Error("got no error")
			}
		})
	}
}
