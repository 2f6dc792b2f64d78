// Package s3 is the hlsd.Store of an S3-compatible object store (AWS S3,
// MinIO, Ceph, Garage, versitygw...), through the AWS SDK v2 (the SDK tusd's
// S3 store uses too). Keys are object names under the URL's prefix; reads
// are ranged GETs pinned to the ETag seen at Open; writes are single PUTs
// or multipart uploads, which S3 makes visible whole or not at all.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/hlsd/hlsd"
)

// Config says where the objects are and how to sign requests.
type Config struct {
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is prepended to every key: "" or a folder ending in "/", so
	// several hlsd installations (or tests) can share one bucket.
	Prefix string
	// Endpoint is the server's base URL (http://HOST:PORT) for a
	// self-hosted store, addressed path-style; empty means AWS itself.
	Endpoint string
	// Region signs the requests; self-hosted servers mostly accept any.
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken are the credentials.
	AccessKeyID, SecretAccessKey, SessionToken string
	// PartSize is the size of one part of a multipart upload: objects up
	// to it are sent with one PUT. Zero means DefaultPartSize.
	PartSize int64
}

// DefaultPartSize is the multipart part size: S3's 5 MiB minimum rounded up,
// small enough to buffer one per upload in memory.
const DefaultPartSize = 8 << 20

// treeWorkers is how many objects PutTree uploads at once.
const treeWorkers = 8

// ParseURL reads a store URL, s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=R,
// taking the credentials from the standard AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN variables of getenv.
func ParseURL(raw string, getenv func(string) string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return Config{}, hlsd.Errorf(hlsd.EINVALID, "invalid S3 store URL %q: want s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=R", raw)
	}
	c := Config{
		Bucket:          u.Host,
		Prefix:          strings.TrimPrefix(u.Path, "/"),
		Endpoint:        u.Query().Get("endpoint"),
		Region:          u.Query().Get("region"),
		AccessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    getenv("AWS_SESSION_TOKEN"),
	}
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.Prefix != "" && !hlsd.ValidPrefix(c.Prefix) {
		return Config{}, hlsd.Errorf(hlsd.EINVALID, "invalid prefix %q in S3 store URL", c.Prefix)
	}
	if c.Endpoint != "" {
		if e, err := url.Parse(c.Endpoint); err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return Config{}, hlsd.Errorf(hlsd.EINVALID, "invalid endpoint %q in S3 store URL: want http://HOST:PORT", c.Endpoint)
		}
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Config{}, hlsd.Errorf(hlsd.EINVALID, "S3 store %s needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment", c.where())
	}
	return c, nil
}

func (c Config) where() string {
	if c.Endpoint != "" {
		return "bucket " + c.Bucket + " at " + c.Endpoint
	}
	return "bucket " + c.Bucket
}

// Store is the hlsd.Store of one bucket and prefix.
type Store struct {
	client *s3.Client
	cfg    Config
}

var _ hlsd.Store = (*Store)(nil)

// New connects to the store and checks that the bucket answers, so a wrong
// endpoint, bucket or key is one clear error at start (naming the endpoint)
// rather than a failure on the first request.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	opts := s3.Options{
		Region:      cfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken),
		// Self-hosted servers differ in their support of the SDK's newer
		// default checksums; S3 itself needs them only where required.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		// Three attempts, backing off at most 300 ms: a refused connection
		// becomes EUNAVAILABLE (a 503 at delivery) within about a second.
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.MaxBackoff = 300 * time.Millisecond
		}),
		HTTPClient: &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
		opts.UsePathStyle = true
	}
	s := &Store{client: s3.New(opts), cfg: cfg}
	check, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := s.client.HeadBucket(check, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		if status(err) == http.StatusNotFound {
			return nil, hlsd.Errorf(hlsd.EUNAVAILABLE, "S3 store: bucket %q not found at %s", cfg.Bucket, s.endpoint())
		}
		return nil, fmt.Errorf("%w: %w", hlsd.Errorf(hlsd.EUNAVAILABLE, "S3 store %s is unreachable: %s", cfg.where(), cause(err)), err)
	}
	return s, nil
}

func (s *Store) endpoint() string {
	if s.cfg.Endpoint != "" {
		return s.cfg.Endpoint
	}
	return "AWS region " + s.cfg.Region
}

// Object is an opened S3 object. Reads go through one streamed GET as long
// as they are sequential; a seek elsewhere starts a new ranged GET. Every
// GET is conditional on the ETag seen at Open, so an object replaced while
// open fails to read instead of mixing two versions. It reads with the
// context given to Open.
type Object struct {
	s    *Store
	ctx  context.Context
	info hlsd.ObjectInfo

	mu      sync.Mutex
	pos     int64
	body    io.ReadCloser
	bodyPos int64
}

// Open starts a GET of the whole object: most readers (a full segment GET)
// need nothing else, and the response carries the size and ETag.
func (s *Store) Open(ctx context.Context, key string) (hlsd.Object, error) {
	if err := hlsd.CheckKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: s.name(key)})
	if err != nil {
		return nil, s.fail(ctx, key, err)
	}
	info := hlsd.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified), ETag: etag(out.ETag)}
	return &Object{s: s, ctx: ctx, info: info, body: out.Body}, nil
}

// Info returns what the object was when opened.
func (o *Object) Info() hlsd.ObjectInfo { return o.info }

// Read reads from the current position.
func (o *Object) Read(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pos >= o.info.Size {
		return 0, io.EOF
	}
	if o.body != nil && o.bodyPos != o.pos {
		o.body.Close()
		o.body = nil
	}
	if o.body == nil {
		body, err := o.get(o.pos, o.info.Size-o.pos)
		if err != nil {
			return 0, err
		}
		o.body, o.bodyPos = body, o.pos
	}
	n, err := o.body.Read(p)
	o.pos += int64(n)
	o.bodyPos += int64(n)
	if err == io.EOF {
		o.body.Close()
		o.body = nil
		if o.pos < o.info.Size {
			return n, fmt.Errorf("read %s: %w", o.info.Key, io.ErrUnexpectedEOF)
		}
		if n > 0 {
			err = nil
		}
	} else if err != nil {
		err = o.s.fail(o.ctx, o.info.Key, err)
	}
	return n, err
}

// Seek moves the position; the next Read fetches from there.
func (o *Object) Seek(offset int64, whence int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	pos, err := hlsd.SeekOffset(o.pos, o.info.Size, offset, whence)
	if err != nil {
		return 0, err
	}
	o.pos = pos
	return pos, nil
}

// ReadAt reads len(p) bytes at off with one ranged GET.
func (o *Object) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.info.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.info.Size-off)
	body, err := o.get(off, want)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.ReadFull(body, p[:want])
	if err != nil {
		return n, o.s.fail(o.ctx, o.info.Key, err)
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// Close ends the GET in progress, if any.
func (o *Object) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
	return nil
}

func (o *Object) get(off, n int64) (io.ReadCloser, error) {
	out, err := o.s.client.GetObject(o.ctx, &s3.GetObjectInput{
		Bucket:  &o.s.cfg.Bucket,
		Key:     o.s.name(o.info.Key),
		Range:   aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1)),
		IfMatch: aws.String(o.info.ETag),
	})
	if err != nil {
		if status(err) == http.StatusPreconditionFailed {
			return nil, hlsd.Errorf(hlsd.ECONFLICT, "object %q changed while it was read", o.info.Key)
		}
		return nil, o.s.fail(o.ctx, o.info.Key, err)
	}
	return out.Body, nil
}

// Stat is a HEAD request.
func (s *Store) Stat(ctx context.Context, key string) (hlsd.ObjectInfo, error) {
	if err := hlsd.CheckKey(key); err != nil {
		return hlsd.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: s.name(key)})
	if err != nil {
		return hlsd.ObjectInfo{}, s.fail(ctx, key, err)
	}
	return hlsd.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified), ETag: etag(out.ETag)}, nil
}

// Put sends r with one PUT when it fits in a part, else as a multipart
// upload (aborted on failure). Either way S3 shows the object only once
// complete.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	if err := hlsd.CheckKey(key); err != nil {
		return err
	}
	buf := make([]byte, s.cfg.PartSize)
	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return s.putSmall(ctx, key, buf[:n])
	} else if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return s.putMultipart(ctx, key, buf, r)
}

func (s *Store) putSmall(ctx context.Context, key string, b []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.cfg.Bucket, Key: s.name(key), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
	})
	if err != nil {
		return s.fail(ctx, key, err)
	}
	return nil
}

func (s *Store) putMultipart(ctx context.Context, key string, first []byte, r io.Reader) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: s.name(key)})
	if err != nil {
		return s.fail(ctx, key, err)
	}
	defer func() {
		if err != nil {
			// The caller's context may be what ended; the abort must still go.
			abort, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			s.client.AbortMultipartUpload(abort, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: s.name(key), UploadId: up.UploadId})
		}
	}()
	var parts []types.CompletedPart
	buf, n := first, len(first)
	for num := int32(1); n > 0; num++ {
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.cfg.Bucket, Key: s.name(key), UploadId: up.UploadId, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return s.fail(ctx, key, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		n, err = io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.cfg.Bucket, Key: s.name(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return s.fail(ctx, key, err)
	}
	return nil
}

// PutTree publishes tree under prefix without rename, in the order that
// keeps every visible playlist whole (hlsd.PublishOrder): the old
// playlists go first, then the new files, then the new playlists deepest
// first, then the objects the new tree lacks.
func (s *Store) PutTree(ctx context.Context, prefix string, tree fs.FS) error {
	if err := hlsd.CheckFolder(prefix); err != nil {
		return err
	}
	files, err := hlsd.PublishOrder(tree)
	if err != nil {
		return err
	}
	old, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	var oldPlaylists, stale []string
	keep := make(map[string]bool, len(files))
	for _, f := range files {
		keep[prefix+f] = true
	}
	for _, o := range old {
		if hlsd.IsPlaylist(o.Key) {
			oldPlaylists = append(oldPlaylists, o.Key)
		} else if !keep[o.Key] {
			stale = append(stale, o.Key)
		}
	}
	if err := s.deleteKeys(ctx, oldPlaylists); err != nil {
		return err
	}
	first := slices.IndexFunc(files, hlsd.IsPlaylist)
	if first < 0 {
		first = len(files)
	}
	if err := s.putFiles(ctx, prefix, tree, files[:first], treeWorkers); err != nil {
		return err
	}
	if err := s.putFiles(ctx, prefix, tree, files[first:], 1); err != nil {
		return err
	}
	return s.deleteKeys(ctx, stale)
}

// putFiles uploads files of tree with up to workers at once, stopping at
// the first error.
func (s *Store) putFiles(ctx context.Context, prefix string, tree fs.FS, files []string, workers int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for name := range next {
				if err := s.putFile(ctx, prefix+name, tree, name); err != nil {
					cancel(err)
				}
			}
		})
	}
	for _, name := range files {
		select {
		case next <- name:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

func (s *Store) putFile(ctx context.Context, key string, tree fs.FS, name string) error {
	f, err := tree.Open(name)
	if err != nil {
		return fmt.Errorf("put tree: %w", err)
	}
	defer f.Close()
	return s.Put(ctx, key, f)
}

// List pages through ListObjectsV2.
func (s *Store) List(ctx context.Context, prefix string) ([]hlsd.ObjectInfo, error) {
	if err := hlsd.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	var out []hlsd.ObjectInfo
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: aws.String(s.cfg.Prefix + prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, s.fail(ctx, prefix, err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.cfg.Prefix)
			if !hlsd.ValidKey(key) {
				continue // not written by hlsd (a folder marker, say)
			}
			out = append(out, hlsd.ObjectInfo{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified), ETag: etag(o.ETag)})
		}
	}
	slices.SortFunc(out, func(a, b hlsd.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete is a DELETE request (which S3 answers the same for a missing key).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := hlsd.CheckKey(key); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: s.name(key)}); err != nil {
		if status(err) == http.StatusNotFound {
			return nil
		}
		return s.fail(ctx, key, err)
	}
	return nil
}

// DeletePrefix lists prefix and deletes what it found in batches.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if err := hlsd.CheckFolder(prefix); err != nil {
		return err
	}
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return s.deleteKeys(ctx, keys)
}

// deleteKeys deletes keys with DeleteObjects, 1000 (S3's limit) at a time.
func (s *Store) deleteKeys(ctx context.Context, keys []string) error {
	for batch := range slices.Chunk(keys, 1000) {
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			ids[i] = types.ObjectIdentifier{Key: s.name(k)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.cfg.Bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return s.fail(ctx, batch[0], err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				return hlsd.Errorf(hlsd.EUNAVAILABLE, "S3 store %s: delete %s: %s", s.cfg.where(), aws.ToString(e.Key), aws.ToString(e.Message))
			}
		}
	}
	return nil
}

func (s *Store) name(key string) *string { return aws.String(s.cfg.Prefix + key) }

// fail classifies an SDK error: 404 is ENOTFOUND; the caller's own
// cancellation stays what it is; anything else (refused connection,
// timeout, 5xx, refused credentials) is EUNAVAILABLE naming the store, with
// the SDK's error kept in the chain for the log.
func (s *Store) fail(ctx context.Context, key string, err error) error {
	if status(err) == http.StatusNotFound {
		return hlsd.Errorf(hlsd.ENOTFOUND, "object %q not found", key)
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", hlsd.Errorf(hlsd.EUNAVAILABLE, "S3 store %s is unavailable: %s", s.cfg.where(), cause(err)), err)
}

// status is the HTTP status of an S3 answer, 0 when there was none.
func status(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// cause is a short reason for an error: the S3 error code, or the
// innermost network error.
func cause(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err.Error()
	}
	return err.Error()
}

// etag returns the ETag as an HTTP entity tag (quoted), as S3 mostly
// already sends it.
func etag(p *string) string {
	e := aws.ToString(p)
	if e == "" || strings.HasPrefix(e, `"`) || strings.HasPrefix(e, `W/"`) {
		return e
	}
	return `"` + e + `"`
}
