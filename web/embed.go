// Package web holds hlsd's browser interface so that the binary carries it:
// the HTML templates, the stylesheet and JavaScript modules (used as they
// are, no build), and in dist/vendor the third-party player and upload
// libraries that `npm run build` copies from node_modules at the versions
// package-lock.json pins. internal/server serves them.
package web

import (
	"embed"
	"io/fs"
)

// files is everything the UI serves. dist/ holds only .keep until the web
// build ran, so a fresh clone still compiles; the server then reports the
// missing libraries.
//
//go:embed templates static all:dist
var files embed.FS

// FS returns the UI's files: templates/*.html (html/template sources),
// static/ (served under the asset prefix) and dist/vendor/ (third-party
// libraries, served under the asset prefix as vendor/).
func FS() fs.FS { return files }
