package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// These are stamped at link time by `make build`
// (-ldflags "-X main.version=... -X main.revision=... -X main.buildDate=..."),
// because these machines build with -buildvcs=false and so the build info
// carries no VCS revision. A plain `go build` leaves them empty and
// versionInfo falls back on what runtime/debug.ReadBuildInfo knows.
var (
	version   string
	revision  string
	buildDate string
)

// buildVersion is what `hlsd version` reports.
type buildVersion struct {
	Version, Revision, Date, Modified, Go string
}

// versionInfo merges the link-time stamps with the build info: the module
// version of a `go install ...@vX` build, or the vcs.* settings of a build
// made with -buildvcs=true. "devel" means neither said anything.
func versionInfo() buildVersion {
	v := buildVersion{Version: version, Revision: revision, Date: buildDate, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Revision == "" {
					v.Revision = s.Value
				}
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			case "vcs.modified":
				if s.Value == "true" && v.Modified == "" {
					v.Modified = "modified"
				}
			}
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	return v
}

// String is the one line `hlsd --version` prints:
// "hlsd v0.3.0 (rev 1a2b3c4d5e6f, 2026-11-29T06:00:00Z, go1.26.8)".
func (v buildVersion) String() string {
	rev := v.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		rev = "unknown"
	}
	if v.Modified != "" {
		rev += "+" + v.Modified
	}
	date := v.Date
	if date == "" {
		date = "date unknown"
	}
	return fmt.Sprintf("hlsd %s (rev %s, %s, %s)", v.Version, rev, date, v.Go)
}
