package storeurl_test

import (
	"context"
	"os"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/s3"
	"github.com/hlsd/hlsd/internal/s3test"
	"github.com/hlsd/hlsd/internal/storetest"
	"github.com/hlsd/hlsd/internal/storeurl"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

func TestParse(t *testing.T) {
	env := func(k string) string { return s3test.Env()[k] }
	for _, c := range []struct{ raw, dir string }{
		{"", "/data"},
		{"file:/srv/hlsd", "/srv/hlsd"},
		{"file:rel/data", "rel/data"},
		{"file:///srv/hlsd", "/srv/hlsd"},
	} {
		spec, err := storeurl.Parse(c.raw, "/data", env)
		if err != nil || spec.Dir != c.dir {
			t.Errorf("Parse(%q) = %+v, %v; want dir %q", c.raw, spec, err, c.dir)
		}
	}
	spec, err := storeurl.Parse("s3://bkt/p?endpoint=http://127.0.0.1:9000", "/data", env)
	if err != nil || spec.Dir != "" || spec.S3.Bucket != "bkt" || spec.S3.Prefix != "p/" {
		t.Errorf("Parse s3 = %+v, %v", spec, err)
	}
	for _, bad := range []string{"file:", "gs://bucket", "/plain/path", "file://host/x", "s3://"} {
		if _, err := storeurl.Parse(bad, "/data", env); hlsd.ErrorCode(err) != hlsd.EINVALID {
			t.Errorf("Parse(%q) = %v, want invalid", bad, err)
		}
	}
}

// TestOpen opens both kinds and writes through them.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	spec, _ := storeurl.Parse("file:"+dir, "", nil)
	st, err := storeurl.Open(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*disk.Store); !ok {
		t.Errorf("file: opened a %T", st)
	}
	storetest.Put(t, st, "media/x/a", []byte("a"))
	if _, err := os.Stat(disk.Layout{Root: dir}.MediaDir("x") + "/a"); err != nil {
		t.Errorf("file store did not write into the data dir: %v", err)
	}

	srv := s3test.Shared(t)
	spec, err = storeurl.Parse(srv.URL(srv.NewBucket(t), "pre"), "", func(k string) string { return s3test.Env()[k] })
	if err != nil {
		t.Fatal(err)
	}
	st, err = storeurl.Open(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*s3.Store); !ok {
		t.Errorf("s3: opened a %T", st)
	}
	storetest.Put(t, st, "media/x/a", []byte("a"))
	if b, _ := storetest.Read(t, st, "media/x/a"); string(b) != "a" {
		t.Errorf("read back %q", b)
	}
}
