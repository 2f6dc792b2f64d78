// Package storeurl turns the --store flag into an hlsd.Store: "file:DATA"
// (the data directory, today's DATA/media and DATA/sources; the default) or
// "s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=R" with credentials
// from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. It is the one place that
// knows every backend, so main stays a list of calls.
package storeurl

import (
	"context"
	"net/url"
	"strings"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/s3"
)

// Spec is a parsed --store value.
type Spec struct {
	// Dir is the data directory of a file store; empty for S3.
	Dir string
	// S3 is the configuration of an S3 store (when Dir is empty).
	S3 s3.Config
}

// Parse reads a --store value; an empty one is the file store of dataDir.
// getenv supplies the S3 credentials (os.Getenv in main).
func Parse(raw, dataDir string, getenv func(string) string) (Spec, error) {
	switch {
	case raw == "":
		return Spec{Dir: dataDir}, nil
	case strings.HasPrefix(raw, "s3://"):
		cfg, err := s3.ParseURL(raw, getenv)
		return Spec{S3: cfg}, err
	case strings.HasPrefix(raw, "file:"):
		dir := strings.TrimPrefix(raw, "file:")
		if strings.HasPrefix(dir, "//") { // file:///abs/path
			u, err := url.Parse(raw)
			if err != nil || (u.Host != "" && u.Host != "localhost") {
				return Spec{}, hlsd.Errorf(hlsd.EINVALID, "invalid store URL %q: want file:DIR or file:///DIR", raw)
			}
			dir = u.Path
		}
		if dir == "" {
			return Spec{}, hlsd.Errorf(hlsd.EINVALID, "invalid store URL %q: file: needs a directory", raw)
		}
		return Spec{Dir: dir}, nil
	}
	return Spec{}, hlsd.Errorf(hlsd.EINVALID, "invalid store URL %q: want file:DIR or s3://BUCKET/PREFIX?endpoint=...", raw)
}

// Open opens the store of spec. For S3 it checks that the bucket answers,
// so an unreachable store is one error at start naming the endpoint.
func Open(ctx context.Context, spec Spec) (hlsd.Store, error) {
	if spec.Dir != "" {
		return disk.NewStore(spec.Dir)
	}
	return s3.New(ctx, spec.S3)
}
