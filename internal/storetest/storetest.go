// Package storetest is the conformance suite every hlsd.Store backend must
// pass, in the spirit of testing/fstest: the data directory (internal/disk),
// S3 (internal/s3) and the delivery cache over S3 (internal/storecache) run
// the same cases, so delivery, library and worker never see a difference.
package storetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hlsd/hlsd"
)

// Run runs the suite. newStore must return an empty store that lives until
// the test ends (register its cleanup with t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) hlsd.Store) {
	t.Run("PutOpen", func(t *testing.T) { testPutOpen(t, newStore(t)) })
	t.Run("Ranges", func(t *testing.T) { testRanges(t, newStore(t)) })
	t.Run("ServeContent", func(t *testing.T) { testServeContent(t, newStore(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("LargeStream", func(t *testing.T) { testLargeStream(t, newStore(t)) })
	t.Run("PutCancelled", func(t *testing.T) { testPutCancelled(t, newStore(t)) })
	t.Run("PutTree", func(t *testing.T) { testPutTree(t, newStore(t)) })
	t.Run("PutTreeFails", func(t *testing.T) { testPutTreeFails(t, newStore(t)) })
}

// Helpers shared with backend tests.

// Put writes content at key or fails the test.
func Put(tb testing.TB, s hlsd.Store, key string, content []byte) {
	tb.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(content)); err != nil {
		tb.Fatalf("Put %s: %v", key, err)
	}
}

// Read returns the whole object at key and its info, or fails the test.
func Read(tb testing.TB, s hlsd.Store, key string) ([]byte, hlsd.ObjectInfo) {
	tb.Helper()
	obj, err := s.Open(context.Background(), key)
	if err != nil {
		tb.Fatalf("Open %s: %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		tb.Fatalf("read %s: %v", key, err)
	}
	return b, obj.Info()
}

// WantCode fails the test unless err carries the hlsd error code.
func WantCode(tb testing.TB, err error, code, what string) {
	tb.Helper()
	if got := hlsd.ErrorCode(err); got != code {
		tb.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// Keys returns the keys of infos.
func Keys(infos []hlsd.ObjectInfo) []string {
	keys := make([]string, len(infos))
	for i, o := range infos {
		keys[i] = o.Key
	}
	return keys
}

// Handler serves the object named by the request path (without its leading
// slash) the way delivery does: Open, the ETag header, http.ServeContent
// (ranges, HEAD, 304). Errors are 500 with the message: tests and the
// store benchmark only ask for objects that exist.
func Handler(s hlsd.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obj, err := s.Open(r.Context(), strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer obj.Close()
		info := obj.Info()
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("ETag", info.ETag)
		http.ServeContent(w, r, "", info.ModTime, obj)
	})
}

func ctx() context.Context { return context.Background() }

// pattern returns n bytes that differ at every offset mod 251, so a read
// from a wrong offset shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%251) + seed
	}
	return b
}

func testPutOpen(t *testing.T, s hlsd.Store) {
	content := pattern(1000, 0)
	before := time.Now().Add(-time.Minute)
	Put(t, s, "media/abc/720p/seg_00001.m4s", content)
	got, info := Read(t, s, "media/abc/720p/seg_00001.m4s")
	if !bytes.Equal(got, content) {
		t.Errorf("read back %d bytes, want the %d written", len(got), len(content))
	}
	if info.Key != "media/abc/720p/seg_00001.m4s" || info.Size != 1000 {
		t.Errorf("Info = %+v, want key and size 1000", info)
	}
	if !strings.HasPrefix(info.ETag, `"`) || !strings.HasSuffix(info.ETag, `"`) || len(info.ETag) < 3 {
		t.Errorf("ETag = %q, want a quoted entity tag", info.ETag)
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("ModTime = %v, want about now", info.ModTime)
	}
	st, err := s.Stat(ctx(), "media/abc/720p/seg_00001.m4s")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Size != info.Size || st.ETag != info.ETag || !st.ModTime.Equal(info.ModTime) {
		t.Errorf("Stat = %+v, want what Open said: %+v", st, info)
	}
	Put(t, s, "empty", nil)
	if got, info := Read(t, s, "empty"); len(got) != 0 || info.Size != 0 {
		t.Errorf("empty object = %d bytes, size %d", len(got), info.Size)
	}
}

func testRanges(t *testing.T, s hlsd.Store) {
	content := pattern(100_000, 7)
	Put(t, s, "r/obj", content)
	obj, err := s.Open(ctx(), "r/obj")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if n, err := obj.Seek(0, io.SeekEnd); err != nil || n != int64(len(content)) {
		t.Errorf("Seek(0, End) = %d, %v; want %d", n, err, len(content))
	}
	for _, c := range []struct{ off, n int }{{50_000, 1000}, {10, 20}, {99_990, 10}, {0, 5}, {60_000, 30_000}} {
		if _, err := obj.Seek(int64(c.off), io.SeekStart); err != nil {
			t.Fatalf("Seek %d: %v", c.off, err)
		}
		got := make([]byte, c.n)
		if _, err := io.ReadFull(obj, got); err != nil {
			t.Fatalf("read %d at %d: %v", c.n, c.off, err)
		}
		if !bytes.Equal(got, content[c.off:c.off+c.n]) {
			t.Errorf("read %d at %d: wrong bytes", c.n, c.off)
		}
		at := make([]byte, c.n)
		if n, err := obj.ReadAt(at, int64(c.off)); n != c.n || (err != nil && err != io.EOF) {
			t.Errorf("ReadAt %d at %d = %d, %v", c.n, c.off, n, err)
		} else if !bytes.Equal(at, content[c.off:c.off+c.n]) {
			t.Errorf("ReadAt %d at %d: wrong bytes", c.n, c.off)
		}
	}
	// A relative seek continues from the current position.
	obj.Seek(1000, io.SeekStart)
	if pos, err := obj.Seek(500, io.SeekCurrent); err != nil || pos != 1500 {
		t.Errorf("Seek(500, Current) = %d, %v; want 1500", pos, err)
	}
	one := make([]byte, 1)
	io.ReadFull(obj, one)
	if one[0] != content[1500] {
		t.Errorf("byte at 1500 = %d, want %d", one[0], content[1500])
	}
	// Past the end: ReadAt says io.EOF with what there was.
	tail := make([]byte, 100)
	if n, err := obj.ReadAt(tail, 99_950); n != 50 || err != io.EOF {
		t.Errorf("ReadAt over the end = %d, %v; want 50, EOF", n, err)
	}
	obj.Seek(0, io.SeekEnd)
	if n, err := obj.Read(tail); n != 0 || err != io.EOF {
		t.Errorf("Read at the end = %d, %v; want 0, EOF", n, err)
	}
}

// testServeContent checks what delivery relies on: http.ServeContent over an
// opened object answers ranges, HEAD and If-None-Match with the store's ETag.
func testServeContent(t *testing.T, s hlsd.Store) {
	content := pattern(300_000, 3)
	Put(t, s, "media/x/720p/seg.m4s", content)
	srv := httptest.NewServer(Handler(s))
	defer srv.Close()
	get := func(method string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/media/x/720p/seg.m4s", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("GET")
	if resp.StatusCode != 200 || !bytes.Equal(body, content) {
		t.Errorf("GET = %d with %d bytes, want 200 with %d", resp.StatusCode, len(body), len(content))
	}
	etag := resp.Header.Get("ETag")
	resp, body = get("GET", "Range", "bytes=1000-1999")
	if resp.StatusCode != 206 || !bytes.Equal(body, content[1000:2000]) {
		t.Errorf("GET bytes=1000-1999 = %d with %d bytes, want 206 with the 1000 bytes", resp.StatusCode, len(body))
	}
	resp, body = get("GET", "Range", "bytes=-100")
	if resp.StatusCode != 206 || !bytes.Equal(body, content[len(content)-100:]) {
		t.Errorf("GET bytes=-100 = %d with %d bytes, want the last 100", resp.StatusCode, len(body))
	}
	resp, _ = get("GET", "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET If-None-Match %s = %d, want 304", etag, resp.StatusCode)
	}
	resp, body = get("HEAD")
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(content)) {
		t.Errorf("HEAD = %d, %d body bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
}

func testOverwrite(t *testing.T, s hlsd.Store) {
	Put(t, s, "o/playlist.m3u8", []byte("#EXTM3U\nfirst\n"))
	_, first := Read(t, s, "o/playlist.m3u8")
	Put(t, s, "o/playlist.m3u8", []byte("#EXTM3U\nsecond\n"))
	got, second := Read(t, s, "o/playlist.m3u8")
	if string(got) != "#EXTM3U\nsecond\n" {
		t.Errorf("after overwrite read %q", got)
	}
	if first.ETag == second.ETag {
		t.Errorf("ETag %s did not change with the content", first.ETag)
	}
	// An object opened before an overwrite keeps reading what it opened
	// or fails; it never mixes the two.
	Put(t, s, "o/big", pattern(200_000, 1))
	obj, err := s.Open(ctx(), "o/big")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	head := make([]byte, 10)
	io.ReadFull(obj, head)
	Put(t, s, "o/big", pattern(200_000, 2))
	rest, err := io.ReadAll(obj)
	if err == nil && !bytes.Equal(append(head, rest...), pattern(200_000, 1)) {
		t.Errorf("an object opened before an overwrite read a mix of old and new content")
	}
}

func testNotFound(t *testing.T, s hlsd.Store) {
	_, err := s.Open(ctx(), "missing/obj")
	WantCode(t, err, hlsd.ENOTFOUND, "Open missing")
	_, err = s.Stat(ctx(), "missing/obj")
	WantCode(t, err, hlsd.ENOTFOUND, "Stat missing")
	if err := s.Delete(ctx(), "missing/obj"); err != nil {
		t.Errorf("Delete missing = %v, want nil", err)
	}
	if err := s.DeletePrefix(ctx(), "missing/"); err != nil {
		t.Errorf("DeletePrefix missing = %v, want nil", err)
	}
	if got, err := s.List(ctx(), "missing/"); err != nil || len(got) != 0 {
		t.Errorf("List missing = %v, %v; want nothing", Keys(got), err)
	}
	// A folder of keys is not an object.
	Put(t, s, "dir/obj", []byte("x"))
	_, err = s.Open(ctx(), "dir")
	WantCode(t, err, hlsd.ENOTFOUND, "Open of a key prefix")
	_, err = s.Stat(ctx(), "dir")
	WantCode(t, err, hlsd.ENOTFOUND, "Stat of a key prefix")
	// Nor is anything "under" an object.
	_, err = s.Open(ctx(), "dir/obj/x")
	WantCode(t, err, hlsd.ENOTFOUND, "Open under an object")
	_, err = s.Stat(ctx(), "dir/obj/x")
	WantCode(t, err, hlsd.ENOTFOUND, "Stat under an object")
	if err := s.Delete(ctx(), "dir/obj/x"); err != nil {
		t.Errorf("Delete under an object = %v, want nil", err)
	}
	if got, err := s.List(ctx(), "dir/obj/"); err != nil || len(got) != 0 {
		t.Errorf("List under an object = %q, %v; want nothing", Keys(got), err)
	}
}

func testInvalidKeys(t *testing.T, s hlsd.Store) {
	for _, key := range []string{"", ".", "/a", "a/", "a//b", "a/../b", "../a", "a/./b", "a\\b", "a\x00b"} {
		_, err := s.Open(ctx(), key)
		WantCode(t, err, hlsd.EINVALID, fmt.Sprintf("Open %q", key))
		_, err = s.Stat(ctx(), key)
		WantCode(t, err, hlsd.EINVALID, fmt.Sprintf("Stat %q", key))
		err = s.Put(ctx(), key, strings.NewReader("x"))
		WantCode(t, err, hlsd.EINVALID, fmt.Sprintf("Put %q", key))
		err = s.Delete(ctx(), key)
		WantCode(t, err, hlsd.EINVALID, fmt.Sprintf("Delete %q", key))
	}
	for _, prefix := range []string{"a", "/a/", "a//", "../", "a/../b/"} {
		_, err := s.List(ctx(), prefix)
		WantCode(t, err, hlsd.EINVALID, fmt.Sprintf("List %q", prefix))
		WantCode(t, s.DeletePrefix(ctx(), prefix), hlsd.EINVALID, fmt.Sprintf("DeletePrefix %q", prefix))
		WantCode(t, s.PutTree(ctx(), prefix, fstest.MapFS{}), hlsd.EINVALID, fmt.Sprintf("PutTree %q", prefix))
	}
	WantCode(t, s.DeletePrefix(ctx(), ""), hlsd.EINVALID, `DeletePrefix ""`)
}

func testList(t *testing.T, s hlsd.Store) {
	for _, k := range []string{"a/2", "a/1", "a/b/3", "ab/4", "a.txt"} {
		Put(t, s, k, []byte(k))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"a/", []string{"a/1", "a/2", "a/b/3"}},
		{"a/b/", []string{"a/b/3"}},
		{"", []string{"a.txt", "a/1", "a/2", "a/b/3", "ab/4"}},
		{"b/", nil},
	}
	for _, c := range cases {
		got, err := s.List(ctx(), c.prefix)
		if err != nil {
			t.Fatalf("List %q: %v", c.prefix, err)
		}
		if !slices.Equal(Keys(got), c.want) {
			t.Errorf("List %q = %q, want %q", c.prefix, Keys(got), c.want)
		}
		for _, o := range got {
			if o.Size != int64(len(o.Key)) || o.ETag == "" {
				t.Errorf("List %q: %+v, want size %d and an ETag", c.prefix, o, len(o.Key))
			}
		}
	}
}

func testDelete(t *testing.T, s hlsd.Store) {
	for _, k := range []string{"m/1/a", "m/1/b/c", "m/12/a", "m/2"} {
		Put(t, s, k, []byte(k))
	}
	if err := s.Delete(ctx(), "m/2"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Stat(ctx(), "m/2")
	WantCode(t, err, hlsd.ENOTFOUND, "Stat after Delete")
	if err := s.DeletePrefix(ctx(), "m/1/"); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	got, err := s.List(ctx(), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"m/12/a"}; !slices.Equal(Keys(got), want) {
		t.Errorf("after deletes List = %q, want %q", Keys(got), want)
	}
	_, err = s.Open(ctx(), "m/1/b/c")
	WantCode(t, err, hlsd.ENOTFOUND, "Open after DeletePrefix")
}

// testLargeStream writes an object larger than one S3 multipart part from a
// reader that cannot seek, as an upload body is.
func testLargeStream(t *testing.T, s hlsd.Store) {
	const size = 13<<20 + 12345
	want := sha256.New()
	pr, pw := io.Pipe()
	go func() {
		w := io.MultiWriter(pw, want)
		for i := 0; i < size; i += 1 << 16 {
			n := min(1<<16, size-i)
			if _, err := w.Write(pattern(n, byte(i>>16))); err != nil {
				return
			}
		}
		pw.Close()
	}()
	if err := s.Put(ctx(), "sources/big/source.mp4", pr); err != nil {
		t.Fatalf("Put large: %v", err)
	}
	obj, err := s.Open(ctx(), "sources/big/source.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	got := sha256.New()
	n, err := io.Copy(got, obj)
	if err != nil || n != size {
		t.Fatalf("read back %d bytes, %v; want %d", n, err, size)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("large object read back with different content")
	}
}

// testPutCancelled checks that a write that fails half-way leaves nothing:
// the previous object stays whole.
func testPutCancelled(t *testing.T, s hlsd.Store) {
	Put(t, s, "c/obj", []byte("previous"))
	c, cancel := context.WithCancel(ctx())
	r := &failingReader{r: bytes.NewReader(pattern(1<<20, 0)), after: 300_000, cancel: cancel}
	if err := s.Put(c, "c/obj", r); err == nil {
		t.Fatal("Put whose reader failed returned nil")
	}
	if got, _ := Read(t, s, "c/obj"); string(got) != "previous" {
		t.Errorf("after a failed Put the object holds %d bytes, want the previous 8", len(got))
	}
	err := s.Put(ctx(), "c/new", &failingReader{r: bytes.NewReader(pattern(1<<20, 0)), after: 300_000})
	if err == nil {
		t.Fatal("Put whose reader failed returned nil")
	}
	_, err = s.Stat(ctx(), "c/new")
	WantCode(t, err, hlsd.ENOTFOUND, "Stat of a failed Put")
}

var errReader = errors.New("storetest: reader failed")

// failingReader fails after some bytes (cancelling a context first when set),
// as a client that goes away mid-upload does.
type failingReader struct {
	r      io.Reader
	after  int
	cancel func()
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		if f.cancel != nil {
			f.cancel()
		}
		return 0, errReader
	}
	if len(p) > f.after {
		p = p[:f.after]
	}
	n, err := f.r.Read(p)
	f.after -= n
	return n, err
}

// presentation returns an HLS-like tree whose every file starts with
// version, and whose playlists list the files they reference.
func presentation(version string, renditions ...string) fstest.MapFS {
	tree := fstest.MapFS{}
	var master strings.Builder
	master.WriteString("#EXTM3U\n#" + version + "\n")
	for _, r := range renditions {
		var index strings.Builder
		index.WriteString("#EXTM3U\n#" + version + "\n")
		for _, seg := range []string{"init.mp4", "seg_00001.m4s", "seg_00002.m4s"} {
			tree[r+"/"+seg] = &fstest.MapFile{Data: []byte(version + " " + r + "/" + seg)}
			index.WriteString(seg + "\n")
		}
		tree[r+"/index.m3u8"] = &fstest.MapFile{Data: []byte(index.String())}
		master.WriteString(r + "/index.m3u8\n")
	}
	tree["poster.jpg"] = &fstest.MapFile{Data: []byte(version + " poster")}
	tree["master.m3u8"] = &fstest.MapFile{Data: []byte(master.String())}
	return tree
}

func treeKeys(prefix string, tree fstest.MapFS) []string {
	var keys []string
	for name := range tree {
		keys = append(keys, prefix+name)
	}
	slices.Sort(keys)
	return keys
}

func testPutTree(t *testing.T, s hlsd.Store) {
	const prefix = "media/m1/"
	v1 := presentation("v1", "720p", "360p")
	if err := s.PutTree(ctx(), prefix, v1); err != nil {
		t.Fatalf("PutTree: %v", err)
	}
	got, err := s.List(ctx(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if want := treeKeys(prefix, v1); !slices.Equal(Keys(got), want) {
		t.Errorf("after PutTree List = %q, want %q", Keys(got), want)
	}
	for name, f := range v1 {
		if b, _ := Read(t, s, prefix+name); !bytes.Equal(b, f.Data) {
			t.Errorf("%s = %q, want %q", name, b, f.Data)
		}
	}
	// Republishing replaces the tree: new content, and what the new tree
	// lacks is gone.
	v2 := presentation("v2", "480p")
	if err := s.PutTree(ctx(), prefix, v2); err != nil {
		t.Fatalf("second PutTree: %v", err)
	}
	got, err = s.List(ctx(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if want := treeKeys(prefix, v2); !slices.Equal(Keys(got), want) {
		t.Errorf("after second PutTree List = %q, want %q", Keys(got), want)
	}
	checkConsistent(t, s, prefix)
	// A tree with a symlink or other non-regular file is refused.
	bad := fstest.MapFS{"link": &fstest.MapFile{Mode: fs.ModeSymlink, Data: []byte("/etc/passwd")}}
	WantCode(t, s.PutTree(ctx(), "media/m2/", bad), hlsd.EINVALID, "PutTree with a symlink")
}

// testPutTreeFails publishes a tree whose reading fails at each file in
// turn, over nothing and over a previous version: no playlist of the failed
// tree may be visible with a reference to something missing or of another
// version, and over nothing, no master playlist at all.
func testPutTreeFails(t *testing.T, s hlsd.Store) {
	v2 := presentation("v2", "720p")
	order, err := hlsd.PublishOrder(v2)
	if err != nil {
		t.Fatal(err)
	}
	for i, failing := range order {
		fresh := fmt.Sprintf("media/fresh%d/", i)
		if err := s.PutTree(ctx(), fresh, failFS{v2, failing}); err == nil {
			t.Fatalf("PutTree failing at %s returned nil", failing)
		}
		if _, err := s.Stat(ctx(), fresh+"master.m3u8"); hlsd.ErrorCode(err) != hlsd.ENOTFOUND {
			t.Errorf("PutTree failing at %s: master.m3u8 visible (%v)", failing, err)
		}
		checkConsistent(t, s, fresh)

		over := fmt.Sprintf("media/over%d/", i)
		if err := s.PutTree(ctx(), over, presentation("v1", "720p", "360p")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutTree(ctx(), over, failFS{v2, failing}); err == nil {
			t.Fatalf("PutTree failing at %s returned nil", failing)
		}
		checkConsistent(t, s, over)
	}
}

// checkConsistent fails the test when a playlist under prefix references
// an object that is missing or of another version than the playlist.
func checkConsistent(t *testing.T, s hlsd.Store, prefix string) {
	t.Helper()
	objs, err := s.List(ctx(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !hlsd.IsPlaylist(o.Key) {
			continue
		}
		b, _ := Read(t, s, o.Key)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan()
		sc.Scan()
		version := strings.TrimPrefix(sc.Text(), "#")
		for sc.Scan() {
			ref := path.Join(path.Dir(o.Key), sc.Text())
			obj, err := s.Open(ctx(), ref)
			if err != nil {
				t.Errorf("%s (%s) references %s: %v", o.Key, version, ref, err)
				continue
			}
			head := make([]byte, 2)
			n, _ := io.ReadFull(obj, head)
			obj.Close()
			if string(head[:n]) != version && string(head[:n]) != "#E" {
				t.Errorf("%s (%s) references %s of version %q", o.Key, version, ref, head[:n])
			}
			if hlsd.IsPlaylist(ref) {
				c, _ := Read(t, s, ref)
				if !bytes.Contains(c, []byte("#"+version+"\n")) {
					t.Errorf("%s (%s) references %s of another version", o.Key, version, ref)
				}
			}
		}
	}
}

// failFS is a tree whose file named fail cannot be read.
type failFS struct {
	fstest.MapFS
	fail string
}

func (f failFS) Open(name string) (fs.File, error) {
	file, err := f.MapFS.Open(name)
	if err != nil || name != f.fail {
		return file, err
	}
	return failFile{file}, nil
}

type failFile struct{ fs.File }

func (failFile) Read([]byte) (int, error) { return 0, errReader }
