// Package store benchmarks reading presentations through the storage
// contract (hlsd.Store) the way delivery serves them (Open, then
// http.ServeContent on a real 127.0.0.1 server): the local-disk store, S3
// (versitygw started by internal/s3test) behind a warm storecache, S3
// directly, and the first byte of a segment from S3 with a cold cache.
// bench/store.sh runs it and writes the ratios to bench/out/store/.
package store
