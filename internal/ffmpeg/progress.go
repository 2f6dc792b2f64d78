package ffmpeg

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// Progress is one report of ffmpeg's -progress output.
type Progress struct {
	// OutTime is how much of the output has been written (media time).
	OutTime time.Duration
	// Speed is the encoding speed as a multiple of realtime; 0 when unknown.
	Speed float64
	// End is true in ffmpeg's last report (progress=end).
	End bool
}

// ProgressParser reads ffmpeg's -progress key=value lines and yields one
// Progress per block (each block ends with a progress= line). Values ffmpeg
// cannot tell yet ("N/A") leave the previous value in place.
type ProgressParser struct {
	cur Progress
}

// Line consumes one line and returns a Progress and true when it closes a block.
func (p *ProgressParser) Line(line string) (Progress, bool) {
	key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
	if !ok {
		return Progress{}, false
	}
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	switch key {
	case "out_time_us", "out_time_ms":
		// ffmpeg's out_time_ms is in microseconds too (a historical misnomer).
		if n, err := strconv.ParseInt(val, 10, 64); err == nil && n >= 0 && n < maxMicros {
			p.cur.OutTime = time.Duration(n) * time.Microsecond
		}
	case "out_time":
		if d, ok := parseClock(val); ok {
			p.cur.OutTime = d
		}
	case "speed":
		if f, err := strconv.ParseFloat(strings.TrimSuffix(val, "x"), 64); err == nil && f >= 0 && f < 1e6 {
			p.cur.Speed = f
		}
	case "progress":
		p.cur.End = val == "end"
		return p.cur, true
	}
	return Progress{}, false
}

// maxMicros bounds out_time_us so the Duration cannot overflow (about 292 years).
const maxMicros = 1 << 62 / 1000

// ReadProgress parses r until EOF, calling fn for each block.
func ReadProgress(r io.Reader, fn func(Progress)) error {
	var p ProgressParser
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if pr, ok := p.Line(sc.Text()); ok {
			fn(pr)
		}
	}
	return sc.Err()
}

// parseClock parses ffmpeg's HH:MM:SS.micro form, possibly negative.
func parseClock(s string) (time.Duration, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || h < 0 || h > 1e6 || m < 0 || m > 59 || !(sec >= 0 && sec < 60) {
		return 0, false
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second))
	if neg {
		return 0, true // before the first frame
	}
	return d, true
}
