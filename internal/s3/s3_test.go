package s3_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/s3"
	"github.com/hlsd/hlsd/internal/s3test"
	"github.com/hlsd/hlsd/internal/storetest"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

func getenv(k string) string { return s3test.Env()[k] }

// newStore opens a store on a fresh bucket of srv, under a prefix so the
// prefix handling is exercised too.
func newStore(t *testing.T, srv *s3test.Server) *s3.Store {
	t.Helper()
	return s3test.NewStore(t, srv, "hlsd/")
}

func TestStoreConformance(t *testing.T) {
	srv := s3test.Shared(t)
	storetest.Run(t, func(t *testing.T) hlsd.Store { return newStore(t, srv) })
}

func TestParseURL(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}
	getenv := func(k string) string { return env[k] }
	cfg, err := s3.ParseURL("s3://media/hlsd/prod?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-3", getenv)
	if err != nil {
		t.Fatal(err)
	}
	want := s3.Config{Bucket: "media", Prefix: "hlsd/prod/", Endpoint: "http://127.0.0.1:9000", Region: "eu-west-3", AccessKeyID: "AK", SecretAccessKey: "SK"}
	if cfg != want {
		t.Errorf("ParseURL = %+v, want %+v", cfg, want)
	}
	cfg, err = s3.ParseURL("s3://media?endpoint=http://minio:9000", getenv)
	if err != nil || cfg.Prefix != "" || cfg.Region != "us-east-1" || cfg.Endpoint != "http://minio:9000" {
		t.Errorf("ParseURL without prefix and region = %+v, %v", cfg, err)
	}
	for _, bad := range []string{"s3:///prefix", "http://bucket/x", "s3://b/a/../c", "s3://b?endpoint=ftp://x", "s3://b?endpoint=nohost"} {
		if _, err := s3.ParseURL(bad, getenv); hlsd.ErrorCode(err) != hlsd.EINVALID {
			t.Errorf("ParseURL(%q) = %v, want invalid", bad, err)
		}
	}
	_, err = s3.ParseURL("s3://media", func(string) string { return "" })
	if hlsd.ErrorCode(err) != hlsd.EINVALID || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("ParseURL without credentials = %v, want a message naming AWS_ACCESS_KEY_ID", err)
	}
}

// TestUnreachableAtStart checks that a store nobody answers for is one
// clear line naming the endpoint, classified unavailable.
func TestUnreachableAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	cfg, err := s3.ParseURL("s3://media/x?endpoint="+endpoint, getenv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s3.New(context.Background(), cfg)
	if hlsd.ErrorCode(err) != hlsd.EUNAVAILABLE {
		t.Fatalf("New on a closed port = %v, want unavailable", err)
	}
	msg := hlsd.ErrorMessage(err)
	if !strings.Contains(msg, endpoint) || strings.Contains(msg, "\n") {
		t.Errorf("message %q: want one line naming %s", msg, endpoint)
	}
}

// TestMissingBucket checks that a wrong bucket name is named at start.
func TestMissingBucket(t *testing.T) {
	srv := s3test.Shared(t)
	cfg, err := s3.ParseURL(srv.URL("no-such-bucket", ""), getenv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s3.New(context.Background(), cfg)
	if hlsd.ErrorCode(err) != hlsd.EUNAVAILABLE || !strings.Contains(hlsd.ErrorMessage(err), `"no-such-bucket"`) {
		t.Errorf("New with a missing bucket = %v, want unavailable naming the bucket", err)
	}
}

// TestWrongCredentials checks that refused credentials fail at start.
func TestWrongCredentials(t *testing.T) {
	srv := s3test.Shared(t)
	cfg, err := s3.ParseURL(srv.URL(srv.NewBucket(t), ""), func(k string) string { return "wrong" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3.New(context.Background(), cfg); hlsd.ErrorCode(err) != hlsd.EUNAVAILABLE {
		t.Errorf("New with wrong credentials = %v, want unavailable", err)
	}
}

// TestDownWhileServing stops the server under an open store: reads are
// unavailable (not "not found", so delivery answers 503, not 404), and
// work again once the server is back.
func TestDownWhileServing(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, srv)
	storetest.Put(t, s, "media/a/seg.m4s", []byte("segment"))
	srv.Stop()
	_, err := s.Open(context.Background(), "media/a/seg.m4s")
	storetest.WantCode(t, err, hlsd.EUNAVAILABLE, "Open while the server is down")
	if !strings.Contains(hlsd.ErrorMessage(err), srv.Endpoint) {
		t.Errorf("message %q does not name the endpoint %s", hlsd.ErrorMessage(err), srv.Endpoint)
	}
	_, err = s.Stat(context.Background(), "media/a/missing")
	storetest.WantCode(t, err, hlsd.EUNAVAILABLE, "Stat while the server is down")
	err = s.Put(context.Background(), "media/a/new", strings.NewReader("x"))
	storetest.WantCode(t, err, hlsd.EUNAVAILABLE, "Put while the server is down")
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if got, _ := storetest.Read(t, s, "media/a/seg.m4s"); string(got) != "segment" {
		t.Errorf("after restart read %q", got)
	}
}

// TestObjectChangedWhileOpen checks that a ranged read of an object
// replaced since Open fails rather than mixing versions.
func TestObjectChangedWhileOpen(t *testing.T) {
	s := newStore(t, s3test.Shared(t))
	storetest.Put(t, s, "o", []byte("first version"))
	obj, err := s.Open(context.Background(), "o")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	storetest.Put(t, s, "o", []byte("second version"))
	buf := make([]byte, 5)
	if _, err := obj.ReadAt(buf, 6); hlsd.ErrorCode(err) != hlsd.ECONFLICT {
		t.Errorf("ReadAt after the object changed = %q, %v; want a conflict", buf, err)
	}
}

// FuzzParseURL checks that ParseURL never panics and that what it accepts
// has a bucket, a usable prefix and an http(s) endpoint or none.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"s3://b/p?endpoint=http://127.0.0.1:9000&region=r", "s3://b", "s3://b/../x", "s3://b/a//c?endpoint=x", "s3://%zz"} {
		f.Add(s)
	}
	env := func(string) string { return "k" }
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, err := s3.ParseURL(raw, env)
		if err != nil {
			if hlsd.ErrorCode(err) != hlsd.EINVALID {
				t.Errorf("ParseURL(%q) = %v, want invalid", raw, err)
			}
			return
		}
		if cfg.Bucket == "" || !hlsd.ValidPrefix(cfg.Prefix) || cfg.Region == "" {
			t.Errorf("ParseURL(%q) accepted %+v", raw, cfg)
		}
		if cfg.Endpoint != "" && !strings.HasPrefix(cfg.Endpoint, "http://") && !strings.HasPrefix(cfg.Endpoint, "https://") {
			t.Errorf("ParseURL(%q) accepted endpoint %q", raw, cfg.Endpoint)
		}
	})
}
