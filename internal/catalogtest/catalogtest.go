// Package catalogtest is the conformance suite every hlsd.Catalog backend
// must pass, in the spirit of testing/fstest: internal/sqlite and
// internal/postgres run the same cases, so the service above never sees a
// difference between backends.
package catalogtest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
)

// Run runs the suite. newCatalog must return an empty catalog that lives
// until the test ends (register its cleanup with t.Cleanup).
func Run(t *testing.T, newCatalog func(t *testing.T) hlsd.Catalog) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, newCatalog(t)) })
	t.Run("CreateDefaults", func(t *testing.T) { testCreateDefaults(t, newCatalog(t)) })
	t.Run("CreateDuplicate", func(t *testing.T) { testCreateDuplicate(t, newCatalog(t)) })
	t.Run("GetNotFound", func(t *testing.T) { testGetNotFound(t, newCatalog(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, newCatalog(t)) })
	t.Run("UpdateIfStatus", func(t *testing.T) { testUpdateIfStatus(t, newCatalog(t)) })
	t.Run("UpdateNotFound", func(t *testing.T) { testUpdateNotFound(t, newCatalog(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newCatalog(t)) })
	t.Run("Visibility", func(t *testing.T) { testVisibility(t, newCatalog(t)) })
	t.Run("SkippedRungs", func(t *testing.T) { testSkippedRungs(t, newCatalog(t)) })
	t.Run("ListPages", func(t *testing.T) { testListPages(t, newCatalog(t)) })
	t.Run("ListFilters", func(t *testing.T) { testListFilters(t, newCatalog(t)) })
	t.Run("ListBadArguments", func(t *testing.T) { testListBadArguments(t, newCatalog(t)) })
}

// RunDatabase runs Run and the cases of hlsd.Database's transactions.
// newDatabase must return an empty database that lives until the test ends.
func RunDatabase(t *testing.T, newDatabase func(t *testing.T) hlsd.Database) {
	Run(t, func(t *testing.T) hlsd.Catalog { return newDatabase(t) })
	t.Run("TxCommit", func(t *testing.T) { testTxCommit(t, newDatabase(t)) })
	t.Run("TxRollback", func(t *testing.T) { testTxRollback(t, newDatabase(t)) })
}

// testTxCommit checks that changes made through tx are visible after
// Tx returns nil, and that tx sees its own writes.
func testTxCommit(t *testing.T, db hlsd.Database) {
	ctx := context.Background()
	m := &hlsd.Media{Title: "committed"}
	err := db.Tx(ctx, func(tx hlsd.Catalog) error {
		if err := tx.CreateMedia(ctx, m); err != nil {
			return err
		}
		_, err := tx.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Status: hlsd.Ptr(hlsd.StatusProcessing)})
		return err
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	got, err := db.GetMedia(ctx, m.ID)
	if err != nil || got.Status != hlsd.StatusProcessing {
		t.Fatalf("GetMedia after commit = %+v, %v; want processing", got, err)
	}
}

// testTxRollback checks that a function's error rolls back everything it
// did and comes back from Tx unchanged.
func testTxRollback(t *testing.T, db hlsd.Database) {
	ctx := context.Background()
	kept := &hlsd.Media{Title: "kept"}
	if err := db.CreateMedia(ctx, kept); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	var id string
	err := db.Tx(ctx, func(tx hlsd.Catalog) error {
		m := &hlsd.Media{Title: "rolled back"}
		if err := tx.CreateMedia(ctx, m); err != nil {
			return err
		}
		id = m.ID
		if err := tx.DeleteMedia(ctx, kept.ID); err != nil {
			return err
		}
		return hlsd.Errorf(hlsd.EINVALID, "abort")
	})
	if hlsd.ErrorCode(err) != hlsd.EINVALID {
		t.Fatalf("Tx = %v, want the function's error", err)
	}
	if _, err := db.GetMedia(ctx, id); hlsd.ErrorCode(err) != hlsd.ENOTFOUND {
		t.Errorf("GetMedia of the media created in the rolled back Tx = %v, want not found", err)
	}
	if _, err := db.GetMedia(ctx, kept.ID); err != nil {
		t.Errorf("GetMedia of the media deleted in the rolled back Tx = %v, want it kept", err)
	}
}

// base is a fixed instant with sub-microsecond digits, to check that the
// catalog keeps microseconds and drops the rest.
var base = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func sampleMedia() *hlsd.Media {
	return &hlsd.Media{
		Title:    "Holiday",
		Kind:     hlsd.KindVideo,
		Status:   hlsd.StatusReady,
		Progress: 1,
		Duration: 12.5,
		Renditions: []hlsd.Rendition{
			{Name: "720p", Kind: hlsd.KindVideo, Width: 1280, Height: 720, FrameRate: 30, Bandwidth: 3_000_000,
				AverageBandwidth: 2_500_000, Codecs: "avc1.64001f,mp4a.40.2", Duration: 12.5, Bytes: 4_000_000, Segments: 3},
			{Name: "audio_128k", Kind: hlsd.KindAudio, Bandwidth: 140_000, AverageBandwidth: 130_000, Codecs: "mp4a.40.2",
				Duration: 12.5, Bytes: 200_000, Segments: 3},
		},
		SourceName: "holiday.mov",
		SourceSize: 123456,
		CreatedAt:  base,
		Visibility: hlsd.VisibilitySigned,
		Encrypted:  true,
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := hlsd.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func testCreateGet(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	m := sampleMedia()
	if err := c.CreateMedia(ctx, m); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	if !hlsd.ValidMediaID(m.ID) {
		t.Fatalf("CreateMedia gave id %q, want one made by NewMediaID", m.ID)
	}
	got, err := c.GetMedia(ctx, m.ID)
	if err != nil {
		t.Fatalf("GetMedia: %v", err)
	}
	want := sampleMedia()
	want.ID = m.ID
	want.CreatedAt = base.Truncate(time.Microsecond)
	want.UpdatedAt = want.CreatedAt
	if diff := mediaDiff(got, want); diff != "" {
		t.Errorf("GetMedia after CreateMedia: %s", diff)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
}

func testCreateDefaults(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	m := &hlsd.Media{Title: "untitled"}
	if err := c.CreateMedia(ctx, m); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	got, err := c.GetMedia(ctx, m.ID)
	if err != nil {
		t.Fatalf("GetMedia: %v", err)
	}
	if got.Status != hlsd.StatusQueued {
		t.Errorf("Status = %q, want %q", got.Status, hlsd.StatusQueued)
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt = %v, want about now", got.CreatedAt)
	}
	if got.Renditions == nil || len(got.Renditions) != 0 {
		t.Errorf("Renditions = %#v, want an empty non-nil slice (JSON [] rather than null)", got.Renditions)
	}
	if !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want CreatedAt %v", got.UpdatedAt, got.CreatedAt)
	}
	if got.Visibility != hlsd.VisibilityPublic || got.Encrypted {
		t.Errorf("Visibility %q, Encrypted %v; want public and not encrypted by default", got.Visibility, got.Encrypted)
	}
}

// testVisibility checks that visibility is stored, changed by UpdateMedia
// without touching anything else, and that unknown values are EINVALID.
func testVisibility(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	m := sampleMedia()
	m.Visibility = hlsd.VisibilityPublic
	if err := c.CreateMedia(ctx, m); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	got, err := c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Visibility: hlsd.Ptr(hlsd.VisibilitySigned)})
	if err != nil || got.Visibility != hlsd.VisibilitySigned || !got.Encrypted || got.Title != m.Title {
		t.Fatalf("UpdateMedia visibility = %+v, %v; want signed, rest unchanged", got, err)
	}
	if again, err := c.GetMedia(ctx, m.ID); err != nil || again.Visibility != hlsd.VisibilitySigned {
		t.Fatalf("GetMedia after update = %+v, %v; want signed", again, err)
	}
	_, err = c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Visibility: hlsd.Ptr("secret")})
	wantCode(t, err, hlsd.EINVALID)
	bad := sampleMedia()
	bad.Visibility = "private"
	wantCode(t, c.CreateMedia(ctx, bad), hlsd.EINVALID)
}

func testCreateDuplicate(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	m := sampleMedia()
	if err := c.CreateMedia(ctx, m); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	dup := sampleMedia()
	dup.ID = m.ID
	wantCode(t, c.CreateMedia(ctx, dup), hlsd.ECONFLICT)
}

func testGetNotFound(t *testing.T, c hlsd.Catalog) {
	_, err := c.GetMedia(context.Background(), hlsd.NewMediaID())
	wantCode(t, err, hlsd.ENOTFOUND)
}

func testUpdate(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	m := &hlsd.Media{Title: "before", CreatedAt: base}
	if err := c.CreateMedia(ctx, m); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	// A progress write must leave the title alone, and the other way round.
	if _, err := c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Status: hlsd.Ptr(hlsd.StatusProcessing), Progress: hlsd.Ptr(0.25)}); err != nil {
		t.Fatalf("UpdateMedia progress: %v", err)
	}
	got, err := c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Title: hlsd.Ptr("after")})
	if err != nil {
		t.Fatalf("UpdateMedia title: %v", err)
	}
	if got.Title != "after" || got.Status != hlsd.StatusProcessing || got.Progress != 0.25 {
		t.Errorf("after two updates: title %q status %q progress %v, want after/processing/0.25", got.Title, got.Status, got.Progress)
	}
	if !got.UpdatedAt.After(got.CreatedAt) {
		t.Errorf("UpdatedAt %v not after CreatedAt %v", got.UpdatedAt, got.CreatedAt)
	}
	rends := sampleMedia().Renditions
	if _, err := c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{
		Status: hlsd.Ptr(hlsd.StatusReady), Progress: hlsd.Ptr(1.0), Kind: hlsd.Ptr(hlsd.KindVideo),
		Duration: hlsd.Ptr(12.5), Renditions: &rends, Error: hlsd.Ptr(""),
	}); err != nil {
		t.Fatalf("UpdateMedia ready: %v", err)
	}
	got, err = c.GetMedia(ctx, m.ID)
	if err != nil {
		t.Fatalf("GetMedia: %v", err)
	}
	want := sampleMedia()
	want.ID, want.Title, want.SourceName, want.SourceSize = m.ID, "after", "", 0
	want.Visibility, want.Encrypted = hlsd.VisibilityPublic, false // created without them
	want.CreatedAt, want.UpdatedAt = got.CreatedAt, got.UpdatedAt
	if diff := mediaDiff(got, want); diff != "" {
		t.Errorf("GetMedia after updates: %s", diff)
	}
	if !got.CreatedAt.Equal(base.Truncate(time.Microsecond)) {
		t.Errorf("CreatedAt changed by update: %v", got.CreatedAt)
	}
	// An error keeps its machine-readable code, and both clear together.
	if _, err := c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Error: hlsd.Ptr("Disk full."), ErrorCode: hlsd.Ptr(hlsd.ENOSPACE)}); err != nil {
		t.Fatalf("UpdateMedia error: %v", err)
	}
	if got, err = c.GetMedia(ctx, m.ID); err != nil {
		t.Fatalf("GetMedia: %v", err)
	} else if got.Error != "Disk full." || got.ErrorCode != hlsd.ENOSPACE {
		t.Errorf("stored error %q code %q, want the sentence and %q", got.Error, got.ErrorCode, hlsd.ENOSPACE)
	}
	if got, err = c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Error: hlsd.Ptr(""), ErrorCode: hlsd.Ptr("")}); err != nil {
		t.Fatalf("UpdateMedia clearing the error: %v", err)
	} else if got.Error != "" || got.ErrorCode != "" {
		t.Errorf("after clearing: error %q code %q, want none", got.Error, got.ErrorCode)
	}
	// Progress is a fraction.
	got, err = c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Progress: hlsd.Ptr(1.7)})
	if err != nil || got.Progress != 1 {
		t.Errorf("UpdateMedia progress 1.7 = %v, %v; want 1, nil", got.Progress, err)
	}
	_, err = c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Status: hlsd.Ptr(hlsd.Status("lost"))})
	wantCode(t, err, hlsd.EINVALID)
}

func testUpdateIfStatus(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	m := &hlsd.Media{Title: "x", Status: hlsd.StatusProcessing}
	if err := c.CreateMedia(ctx, m); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	requeue := hlsd.MediaUpdate{Status: hlsd.Ptr(hlsd.StatusQueued), IfStatus: []hlsd.Status{hlsd.StatusReady, hlsd.StatusFailed}}
	_, err := c.UpdateMedia(ctx, m.ID, requeue)
	wantCode(t, err, hlsd.ECONFLICT)
	if got, _ := c.GetMedia(ctx, m.ID); got.Status != hlsd.StatusProcessing {
		t.Errorf("refused update changed status to %q", got.Status)
	}
	if _, err := c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{Status: hlsd.Ptr(hlsd.StatusFailed)}); err != nil {
		t.Fatalf("UpdateMedia: %v", err)
	}
	got, err := c.UpdateMedia(ctx, m.ID, requeue)
	if err != nil || got.Status != hlsd.StatusQueued {
		t.Fatalf("conditional update from failed = %v, %v; want queued", got, err)
	}
}

func testUpdateNotFound(t *testing.T, c hlsd.Catalog) {
	_, err := c.UpdateMedia(context.Background(), hlsd.NewMediaID(), hlsd.MediaUpdate{Title: hlsd.Ptr("x")})
	wantCode(t, err, hlsd.ENOTFOUND)
}

func testDelete(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	m := sampleMedia()
	if err := c.CreateMedia(ctx, m); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	if err := c.DeleteMedia(ctx, m.ID); err != nil {
		t.Fatalf("DeleteMedia: %v", err)
	}
	_, err := c.GetMedia(ctx, m.ID)
	wantCode(t, err, hlsd.ENOTFOUND)
	wantCode(t, c.DeleteMedia(ctx, m.ID), hlsd.ENOTFOUND)
}

// seed creates n media with distinct creation times, oldest first, and
// returns their ids newest first (the order ListMedia must give).
func seed(t *testing.T, c hlsd.Catalog, titles []string) []string {
	t.Helper()
	var ids []string
	for i, title := range titles {
		m := &hlsd.Media{Title: title, CreatedAt: base.Add(time.Duration(i) * time.Second)}
		if i%3 == 0 {
			m.Status = hlsd.StatusReady
		}
		if err := c.CreateMedia(context.Background(), m); err != nil {
			t.Fatalf("CreateMedia: %v", err)
		}
		ids = append(ids, m.ID)
	}
	slices.Reverse(ids)
	return ids
}

func ids(ms []*hlsd.Media) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func testListPages(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	var titles []string
	for i := range 7 {
		titles = append(titles, fmt.Sprintf("clip %d", i))
	}
	want := seed(t, c, titles)
	// Media created in the same microsecond still page without loss or repeat.
	same := base.Add(time.Hour)
	for range 3 {
		m := &hlsd.Media{Title: "tie", CreatedAt: same}
		if err := c.CreateMedia(ctx, m); err != nil {
			t.Fatalf("CreateMedia: %v", err)
		}
		want = append([]string{m.ID}, want...)
	}
	slices.SortFunc(want[:3], func(a, b string) int { return -compare(a, b) })

	for _, limit := range []int{1, 3, 4, 10, 100} {
		t.Run(fmt.Sprintf("limit%d", limit), func(t *testing.T) {
			var got []string
			cursor, pages := "", 0
			for {
				page, err := c.ListMedia(ctx, hlsd.MediaFilter{Cursor: cursor, Limit: limit})
				if err != nil {
					t.Fatalf("ListMedia page %d: %v", pages, err)
				}
				pages++
				if len(page.Media) > limit {
					t.Fatalf("page of %d media, limit %d", len(page.Media), limit)
				}
				got = append(got, ids(page.Media)...)
				if page.NextCursor == "" {
					break
				}
				if pages > 20 {
					t.Fatalf("more than 20 pages for 10 media")
				}
				cursor = page.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Errorf("listed ids\n got %v\nwant %v (newest first)", got, want)
			}
		})
	}
	page, err := c.ListMedia(ctx, hlsd.MediaFilter{})
	if err != nil {
		t.Fatalf("ListMedia: %v", err)
	}
	if len(page.Media) != 10 || page.NextCursor != "" {
		t.Errorf("default page: %d media, next %q; want all 10 and no cursor", len(page.Media), page.NextCursor)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testListFilters(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	all := seed(t, c, []string{"Beach day", "beach night", "Mountains", "100% cotton", "snake_case", "BEACH"})
	// seed: titles[i] with i%3==0 ready; all is newest first.
	byTitle := map[string]string{}
	for i, title := range []string{"BEACH", "snake_case", "100% cotton", "Mountains", "beach night", "Beach day"} {
		byTitle[title] = all[i]
	}
	tests := []struct {
		name   string
		filter hlsd.MediaFilter
		want   []string
	}{
		{"query case-insensitive", hlsd.MediaFilter{Query: "beach"}, []string{"BEACH", "beach night", "Beach day"}},
		{"query percent is literal", hlsd.MediaFilter{Query: "0%"}, []string{"100% cotton"}},
		{"query underscore is literal", hlsd.MediaFilter{Query: "e_c"}, []string{"snake_case"}},
		{"query no match", hlsd.MediaFilter{Query: "desert"}, nil},
		{"status", hlsd.MediaFilter{Status: hlsd.StatusReady}, []string{"100% cotton", "Beach day"}},
		{"status and query", hlsd.MediaFilter{Status: hlsd.StatusQueued, Query: "BEACH"}, []string{"BEACH", "beach night"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := c.ListMedia(ctx, tt.filter)
			if err != nil {
				t.Fatalf("ListMedia: %v", err)
			}
			var want []string
			for _, title := range tt.want {
				want = append(want, byTitle[title])
			}
			if got := ids(page.Media); !slices.Equal(got, want) {
				t.Errorf("ids = %v, want %v (%v)", got, want, tt.want)
			}
		})
	}
	// A filtered listing pages like an unfiltered one.
	first, err := c.ListMedia(ctx, hlsd.MediaFilter{Query: "beach", Limit: 2})
	if err != nil {
		t.Fatalf("ListMedia: %v", err)
	}
	second, err := c.ListMedia(ctx, hlsd.MediaFilter{Query: "beach", Limit: 2, Cursor: first.NextCursor})
	if err != nil {
		t.Fatalf("ListMedia page 2: %v", err)
	}
	if got, want := append(ids(first.Media), ids(second.Media)...), []string{byTitle["BEACH"], byTitle["beach night"], byTitle["Beach day"]}; !slices.Equal(got, want) || second.NextCursor != "" {
		t.Errorf("filtered pages = %v (next %q), want %v", got, second.NextCursor, want)
	}
}

func testListBadArguments(t *testing.T, c hlsd.Catalog) {
	tests := []struct {
		name   string
		filter hlsd.MediaFilter
	}{
		{"garbage cursor", hlsd.MediaFilter{Cursor: "not a cursor"}},
		{"base64 but not a cursor", hlsd.MediaFilter{Cursor: "aGVsbG8"}},
		{"unknown status", hlsd.MediaFilter{Status: "lost"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListMedia(context.Background(), tt.filter)
			wantCode(t, err, hlsd.EINVALID)
		})
	}
}

// mediaDiff describes how got differs from want, or returns "".
func mediaDiff(got, want *hlsd.Media) string {
	g, w := fmt.Sprintf("%+v", *got), fmt.Sprintf("%+v", *want)
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		return fmt.Sprintf("times: got created %v updated %v, want %v %v", got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	gc, wc := *got, *want
	gc.CreatedAt, gc.UpdatedAt, wc.CreatedAt, wc.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if fmt.Sprintf("%+v", gc) != fmt.Sprintf("%+v", wc) {
		return fmt.Sprintf("\n got %s\nwant %s", g, w)
	}
	return ""
}

// testSkippedRungs: the ladder rungs a transcode skipped are stored by an
// update and read back; a media without any has none (omitted in JSON).
func testSkippedRungs(t *testing.T, c hlsd.Catalog) {
	ctx := context.Background()
	m := sampleMedia()
	if err := c.CreateMedia(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetMedia(ctx, m.ID); err != nil || got.SkippedRungs != nil {
		t.Fatalf("new media: SkippedRungs = %v (%v), want nil", got.SkippedRungs, err)
	}
	if _, err := c.UpdateMedia(ctx, m.ID, hlsd.MediaUpdate{SkippedRungs: hlsd.Ptr([]int{1080, 720})}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetMedia(ctx, m.ID)
	if err != nil || !slices.Equal(got.SkippedRungs, []int{1080, 720}) {
		t.Errorf("SkippedRungs = %v (%v), want [1080 720]", got.SkippedRungs, err)
	}
}
