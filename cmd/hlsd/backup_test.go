package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// listIDs returns the ids of every media the API lists, sorted.
func (c apiClient) listIDs(t *testing.T) []string {
	t.Helper()
	status, _, body := c.call(t, "GET", "/api/v1/media?limit=100", nil, nil)
	if status != 200 {
		t.Fatalf("list media: status %d: %s", status, body)
	}
	var page struct {
		Data []server.MediaObject `json:"data"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("list media: %v in %s", err, body)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		t.Fatalf("list media: none in %s", body)
	}
	return ids
}

// playAll fetches a media's multivariant playlist, every media playlist it
// names and every segment and init section of those, as a player would,
// and fails on anything but 200 or a playlist that does not parse.
func playAll(t *testing.T, base, id string) {
	t.Helper()
	master := base + "/hls/" + id + "/master.m3u8"
	mv, ok := masterOf(t, master)
	if !ok {
		t.Fatalf("%s: not 200", master)
	}
	var lists []string
	for _, v := range mv.Variants {
		lists = append(lists, v.URI)
	}
	for _, a := range mv.Alternatives {
		if a.URI != "" {
			lists = append(lists, a.URI)
		}
	}
	if len(lists) == 0 {
		t.Fatalf("%s lists no playlist", master)
	}
	resolve := func(ref, rel string) string {
		b, _ := url.Parse(ref)
		r, _ := url.Parse(rel)
		return b.ResolveReference(r).String()
	}
	segments := 0
	for _, l := range lists {
		u := resolve(master, l)
		resp, body := get(t, u, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", u, resp.StatusCode)
		}
		mp, err := hls.ParseMedia(body)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if !mp.EndList {
			t.Errorf("%s has no EXT-X-ENDLIST", u)
		}
		var uris []string
		if mp.Map != nil {
			uris = append(uris, mp.Map.URI)
		}
		for _, s := range mp.Segments {
			uris = append(uris, s.URI)
		}
		for _, s := range uris {
			su := resolve(u, s)
			if resp, body := get(t, su, nil); resp.StatusCode != http.StatusOK || len(body) == 0 {
				t.Fatalf("%s: status %d, %d bytes", su, resp.StatusCode, len(body))
			}
			segments++
		}
	}
	t.Logf("%s: %d playlists, %d segments fetched", id, len(lists), segments)
}

// TestBackupWhileServingAndRestore backs up a data dir while the server
// uploads and serves, restores it into a new dir, serves that, and checks
// that the API lists the same media and every one plays to the last
// segment; the upload in flight during the backup finishes in the restored
// server.
func TestBackupWhileServingAndRestore(t *testing.T) {
	skipShortIngest(t)
	data := filepath.Join(t.TempDir(), "data")
	r := startServe(t, nil, "--data", data, "--ladder", "240p,144p")
	raw, err := os.ReadFile(filepath.Join(data, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{base: r.base, token: strings.TrimSpace(string(raw))}
	video := c.uploadRaw(t, testmedia.Path(t, "short.mp4"), "video")
	audio := c.uploadRaw(t, testmedia.Path(t, "tone.flac"), "audio")
	for _, id := range []string{video.ID, audio.ID} {
		if m := c.waitDone(t, id); m.Status != hlsd.StatusReady {
			t.Fatalf("media %s: %s (%v)", id, m.Status, deref(m.Error))
		}
	}

	// The backup runs while an upload arrives and players fetch segments.
	dest := filepath.Join(t.TempDir(), "backup")
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := runCLI(t, nil, "backup", dest, "--data", data)
		done <- result{code, stdout, stderr}
	}()
	inflight := c.uploadRaw(t, testmedia.Path(t, "short.mp4"), "in flight")
	playAll(t, r.base, video.ID)
	res := <-done
	if res.code != 0 || !strings.HasPrefix(res.stdout, "backed up "+data+" to "+dest+": database and ") {
		t.Fatalf("backup: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	before := c.listIDs(t)
	c.waitDone(t, inflight.ID)
	r.shutdown(t) // the backup must not need the original any more

	t.Run("refuses an existing destination", func(t *testing.T) {
		code, _, stderr := runCLI(t, nil, "backup", "--data", data, dest)
		if code != 1 || stderr != "hlsd: "+dest+" exists: back up into a new folder\n" {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})

	restored := filepath.Join(t.TempDir(), "restored")
	code, stdout, stderr := runCLI(t, nil, "restore", dest, "--data", restored)
	if code != 0 || !strings.HasPrefix(stdout, "restored "+dest+" into "+restored) {
		t.Fatalf("restore: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	r2 := startServe(t, nil, "--data", restored, "--ladder", "240p,144p")
	c2 := apiClient{base: r2.base, token: c.token} // the token came back too
	after := c2.listIDs(t)
	// The upload in flight is in the backup when its row was committed
	// before the database copy; either way nothing else differs.
	want := []string{video.ID, audio.ID}
	if slices.Contains(after, inflight.ID) {
		want = append(want, inflight.ID)
	}
	slices.Sort(want)
	if !slices.Equal(after, want) || len(before) != 3 {
		t.Errorf("restored server lists %v, want %v (the original listed %v)", after, want, before)
	}
	for _, id := range after {
		m := c2.waitDone(t, id)
		if m.Status != hlsd.StatusReady {
			t.Errorf("restored media %s (%s): %s %v", id, m.Title, m.Status, deref(m.Error))
			continue
		}
		playAll(t, r2.base, id)
	}

	t.Run("restore refuses a non-empty data dir and a non-backup", func(t *testing.T) {
		code, _, stderr := runCLI(t, nil, "restore", dest, "--data", restored)
		if code != 1 || stderr != "hlsd: "+restored+" is not empty: restore into a new data dir\n" {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		code, _, stderr = runCLI(t, nil, "restore", data, "--data", filepath.Join(t.TempDir(), "x"))
		if code != 1 || stderr != "hlsd: "+data+" is not an hlsd backup (no hlsd-backup.json)\n" {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

// TestServeLadderSkipsTallerRungs: serve's --ladder meets every upload, so
// a rung taller than the source is skipped and listed in skipped_rungs,
// and the source's own height becomes the top rung (never upscaled).
func TestServeLadderSkipsTallerRungs(t *testing.T) {
	skipShortIngest(t)
	r := startServe(t, map[string]string{"HLSD_API_TOKEN": "test-token-0123456789"}, "--data", t.TempDir(),
		"--ladder", "480p,144p", "--format", "ts", "--preset", "ultrafast")
	c := apiClient{base: r.base, token: "test-token-0123456789"}
	m := c.waitDone(t, c.uploadRaw(t, testmedia.Path(t, "short.mp4"), "small").ID) // 320x240
	if m.Status != hlsd.StatusReady {
		t.Fatalf("status %s (%v)", m.Status, deref(m.Error))
	}
	var names []string
	for _, x := range m.Renditions {
		names = append(names, x.Name)
	}
	if !slices.Equal(m.SkippedRungs, []int{480}) || !slices.Contains(names, "240p") || !slices.Contains(names, "144p") {
		t.Errorf("skipped_rungs %v, renditions %v; want [480] and 240p, 144p", m.SkippedRungs, names)
	}
	// --format ts reached the transcode.
	resp, body := get(t, r.base+"/hls/"+m.ID+"/144p/index.m3u8", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "seg_00001.ts") {
		t.Errorf("144p playlist (status %d):\n%s\nwant .ts segments", resp.StatusCode, body)
	}
}

// TestBackupOnPostgres: with the catalog on Postgres, backup copies the
// data dir's files and says what the operator's own dump must cover (with
// the password masked); restore refuses a database-less backup unless told
// where the database is.
func TestBackupOnPostgres(t *testing.T) {
	data := t.TempDir()
	for name, body := range map[string]string{
		"api-token":              "token\n",
		"media/abc/master.m3u8":  "#EXTM3U\n",
		"sources/abc/source.mp4": "not really\n",
	} {
		p := filepath.Join(data, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db := "postgres://hlsd:s3cret@127.0.0.1:5432/hlsd"
	dest := filepath.Join(t.TempDir(), "b")
	code, stdout, stderr := runCLI(t, nil, "backup", "--data", data, "--db", db, dest)
	if code != 0 || !strings.Contains(stdout, "pg_dump") || strings.Contains(stdout+stderr, "s3cret") {
		t.Fatalf("backup: exit %d, stdout %q, stderr %q; want success naming pg_dump, password masked", code, stdout, stderr)
	}
	for _, name := range []string{"api-token", "media/abc/master.m3u8", "sources/abc/source.mp4"} {
		if _, err := os.Stat(filepath.Join(dest, name)); err != nil {
			t.Errorf("backup lacks %s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, dbFile)); err == nil {
		t.Errorf("backup has an %s though the catalog is on Postgres", dbFile)
	}

	code, _, stderr = runCLI(t, nil, "restore", "--data", filepath.Join(t.TempDir(), "r1"), dest)
	if code != 1 || !strings.Contains(stderr, "Postgres") {
		t.Errorf("restore without --db: exit %d, stderr %q; want a clear refusal naming Postgres", code, stderr)
	}
	target := filepath.Join(t.TempDir(), "r2")
	code, stdout, stderr = runCLI(t, nil, "restore", "--data", target, "--db", db, dest)
	if code != 0 || !strings.Contains(stdout, "Postgres dump") {
		t.Fatalf("restore: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(target, "media/abc/master.m3u8")); err != nil || string(b) != "#EXTM3U\n" {
		t.Errorf("restored playlist: %q, %v", b, err)
	}
}
