package ffmpeg

import (
	"strings"
	"testing"
	"time"
)

// A block as ffmpeg 5.1 prints it with -progress, for a multi-output run.
const progressBlock = `frame=240
fps=47.98
stream_0_0_q=28.0
stream_1_0_q=28.0
bitrate=N/A
total_size=N/A
out_time_us=8000000
out_time_ms=8000000
out_time=00:00:08.000000
dup_frames=0
drop_frames=0
speed=1.6x
progress=continue
`

func TestProgressParser(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []Progress
	}{
		{"one block", progressBlock, []Progress{{OutTime: 8 * time.Second, Speed: 1.6}}},
		{"end block", "out_time_us=12500000\nspeed=2.25x\nprogress=end\n", []Progress{{OutTime: 12500 * time.Millisecond, Speed: 2.25, End: true}}},
		{"N/A before the first frame", "out_time_us=N/A\nout_time_ms=N/A\nout_time=N/A\nspeed=N/A\nprogress=continue\n", []Progress{{}}},
		{"N/A keeps the last value", "out_time_us=3000000\nspeed=1.5x\nprogress=continue\nout_time_us=N/A\nspeed=N/A\nprogress=continue\n",
			[]Progress{{OutTime: 3 * time.Second, Speed: 1.5}, {OutTime: 3 * time.Second, Speed: 1.5}}},
		{"only out_time", "out_time=01:02:03.500000\nprogress=continue\n", []Progress{{OutTime: time.Hour + 2*time.Minute + 3500*time.Millisecond}}},
		{"negative out_time before start", "out_time=-00:00:00.023220\nout_time_us=-23220\nprogress=continue\n", []Progress{{}}},
		{"out_time_ms is microseconds", "out_time_ms=1500000\nprogress=continue\n", []Progress{{OutTime: 1500 * time.Millisecond}}},
		{"spaces and CRLF", "out_time_us = 2000000\r\nspeed= 0.9x\r\nprogress=continue\r\n", []Progress{{OutTime: 2 * time.Second, Speed: 0.9}}},
		{"no block end", "out_time_us=2000000\nspeed=1x\n", nil},
		{"garbage", "hello\n\n=\nspeed=fast\nout_time=12:00\nprogress=continue\n", []Progress{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Progress
			if err := ReadProgress(strings.NewReader(tt.input), func(p Progress) { got = append(got, p) }); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("block %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func FuzzProgressParser(f *testing.F) {
	f.Add(progressBlock)
	f.Add("out_time=-00:00:00.1\nprogress=end\n")
	f.Fuzz(func(t *testing.T, s string) {
		ReadProgress(strings.NewReader(s), func(p Progress) {
			if p.OutTime < 0 || p.Speed < 0 {
				t.Errorf("negative progress %+v from %q", p, s)
			}
		})
	})
}
