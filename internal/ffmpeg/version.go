package ffmpeg

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/hlsd/hlsd"
)

// MinVersion is the oldest ffmpeg/ffprobe release hlsd is tested with
// (Debian 12's 5.1): older ones lack options the arguments use.
var MinVersion = [2]int{5, 1}

// versionRE finds the release in the first line of `ffmpeg -version`:
// "ffmpeg version 5.1.6-0+deb12u1 Copyright ..." or "... version n6.1.1".
var versionRE = regexp.MustCompile(`^\S+ version n?(\d+)\.(\d+)(\S*)`)

// ParseVersion returns the release number in the output of `ffmpeg
// -version` (or ffprobe's), and false for a build that names none (a git
// snapshot such as "N-113245-g1234abcd"), which is taken as recent.
func ParseVersion(out string) (major, minor int, ok bool) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, false
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor, true
}

// CheckTool runs `bin -version` for the tool name ("ffmpeg" or "ffprobe";
// bin "" means name from PATH) and returns its version line's release, or
// a one-line *hlsd.Error (EUNAVAILABLE) when the tool is missing, does not
// run, or is older than MinVersion.
func CheckTool(ctx context.Context, name, bin string) (string, error) {
	path := bin
	if path == "" {
		path = name
	}
	abs, err := exec.LookPath(path)
	if err != nil {
		if bin != "" {
			return "", hlsd.Errorf(hlsd.EUNAVAILABLE, "%s not found at %s: install the Debian package ffmpeg", name, bin)
		}
		return "", hlsd.Errorf(hlsd.EUNAVAILABLE, "%s not found: install the Debian package ffmpeg", name)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := command(ctx, abs, "-hide_banner", "-version").Output()
	if err != nil {
		return "", hlsd.Errorf(hlsd.EUNAVAILABLE, "%s at %s does not run (%v): install the Debian package ffmpeg", name, abs, err)
	}
	major, minor, ok := ParseVersion(string(out))
	if !ok {
		return "unknown", nil
	}
	v := fmt.Sprintf("%d.%d", major, minor)
	if major < MinVersion[0] || (major == MinVersion[0] && minor < MinVersion[1]) {
		return v, hlsd.Errorf(hlsd.EUNAVAILABLE, "%s %s at %s is older than %d.%d, the oldest version hlsd is tested with: install a newer ffmpeg",
			name, v, abs, MinVersion[0], MinVersion[1])
	}
	return v, nil
}
