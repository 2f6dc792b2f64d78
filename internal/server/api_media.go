package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
)

// multipartSlack is what a multipart body may carry beyond --max-upload:
// boundaries, part headers and a title field.
const multipartSlack = 1 << 20

// maxFieldSize bounds the small fields of a multipart upload (the title).
const maxFieldSize = 16 << 10

// MediaObject is a media as the API returns it and as webhooks carry it.
// Fields not known yet are null (kind and duration until probed, error
// unless failed, poster_url for audio) so that the shape never changes.
type MediaObject struct {
	ID       string      `json:"id"`
	Title    string      `json:"title"`
	Kind     *hlsd.Kind  `json:"kind"`
	Status   hlsd.Status `json:"status"`
	Progress float64     `json:"progress"`
	Error    *string     `json:"error"`
	// ErrorCode is Error's machine-readable kind (an API error code, such
	// as unsupported_media or insufficient_storage); null when Error is.
	ErrorCode   *string           `json:"error_code"`
	Duration    *float64          `json:"duration"`
	Renditions  []RenditionObject `json:"renditions"`
	PlaybackURL string            `json:"playback_url"`
	PosterURL   *string           `json:"poster_url"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	// Visibility is public or signed; signed media play only with a
	// playback token (POST .../playback-tokens), not at PlaybackURL.
	Visibility string `json:"visibility"`
	// Encrypted is true for AES-128 encrypted segments.
	Encrypted bool `json:"encrypted"`
	// SkippedRungs lists the server's ladder rungs taller than this
	// media's source, which were not made (never upscaled).
	SkippedRungs []int `json:"skipped_rungs,omitempty"`
}

// RenditionObject is one rendition of a MediaObject, as produced
// (measured bandwidths, real codec strings).
type RenditionObject struct {
	Name             string  `json:"name"`
	Kind             string  `json:"kind"`
	Resolution       string  `json:"resolution,omitempty"`
	Width            int     `json:"width,omitempty"`
	Height           int     `json:"height,omitempty"`
	FrameRate        float64 `json:"frame_rate,omitempty"`
	Bandwidth        int     `json:"bandwidth"`
	AverageBandwidth int     `json:"average_bandwidth"`
	Codecs           string  `json:"codecs"`
	Duration         float64 `json:"duration"`
}

// NewMediaObject returns m in the API's shape.
func NewMediaObject(m *hlsd.Media) MediaObject {
	o := MediaObject{
		ID: m.ID, Title: m.Title, Status: m.Status, Progress: m.Progress,
		Renditions:  make([]RenditionObject, 0, len(m.Renditions)),
		PlaybackURL: library.PlaybackURL(m.ID),
		CreatedAt:   m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
		Visibility: m.Visibility, Encrypted: m.Encrypted,
		SkippedRungs: m.SkippedRungs,
	}
	if o.Visibility == "" {
		o.Visibility = hlsd.VisibilityPublic
	}
	if m.Kind != "" {
		k := m.Kind
		o.Kind = &k
	}
	if m.Error != "" {
		e, c := m.Error, m.ErrorCode
		if c == "" {
			c = hlsd.EINTERNAL
		}
		o.Error, o.ErrorCode = &e, &c
	}
	if m.Duration > 0 {
		d := m.Duration
		o.Duration = &d
	}
	if p := library.PosterURL(m); p != "" {
		o.PosterURL = &p
	}
	for _, r := range m.Renditions {
		ro := RenditionObject{
			Name: r.Name, Kind: string(r.Kind), Width: r.Width, Height: r.Height, FrameRate: r.FrameRate,
			Bandwidth: r.Bandwidth, AverageBandwidth: r.AverageBandwidth, Codecs: r.Codecs, Duration: r.Duration,
		}
		if r.Width > 0 && r.Height > 0 {
			ro.Resolution = strconv.Itoa(r.Width) + "x" + strconv.Itoa(r.Height)
		}
		o.Renditions = append(o.Renditions, ro)
	}
	return o
}

// PresentMedia is NewMediaObject for library.Config.Present, so that
// webhook events carry the same media object as the API.
func PresentMedia(m *hlsd.Media) any { return NewMediaObject(m) }

// mediaList is the body of GET /api/v1/media.
type mediaList struct {
	Data       []MediaObject `json:"data"`
	NextCursor *string       `json:"next_cursor"`
}

// handleCreateMedia is POST /api/v1/media: a raw body (title and file name
// in the query or Content-Disposition) or multipart/form-data with a "file"
// field (and an optional "title" field before it). The file is streamed to
// disk by the library; nothing is held in memory.
func (s *Server) handleCreateMedia(w http.ResponseWriter, r *http.Request) {
	max := s.cfg.MaxUpload
	up, err := s.uploadFromQuery(r.URL.Query(), r.Header.Get("Content-Disposition")) // upload_meta.go
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isMultipart := mt == "multipart/form-data"

	limit := max
	if isMultipart && max > 0 {
		limit = max + multipartSlack
	}
	if limit > 0 && r.ContentLength > limit {
		s.apiError(w, r, hlsd.Errorf(hlsd.ETOOLARGE, "the upload is larger than the limit of %s", library.FormatSize(max)))
		return
	}

	var m *hlsd.Media
	if isMultipart {
		if params["boundary"] == "" {
			s.apiError(w, r, hlsd.Errorf(hlsd.EINVALID, "the multipart/form-data Content-Type has no boundary"))
			return
		}
		if limit > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		m, err = s.createMultipart(r, up)
	} else {
		m, err = s.cfg.Library.Create(r.Context(), r.Body, up)
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	w.Header().Set("Location", APIPrefix+"/media/"+m.ID)
	s.writeJSON(w, http.StatusCreated, NewMediaObject(m))
}

// createMultipart reads the parts in order: "title" (optional) must come
// before "file", which is streamed into the library; anything after the
// file is not read.
func (s *Server) createMultipart(r *http.Request, up library.Upload) (*hlsd.Media, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "cannot read the multipart body: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, hlsd.Errorf(hlsd.EINVALID, `the multipart body has no "file" field`)
		} else if err != nil {
			return nil, multipartError(err)
		}
		switch part.FormName() {
		case "file":
			if fn := part.FileName(); fn != "" {
				up.Filename = fn
			}
			return s.cfg.Library.Create(r.Context(), part, up)
		case "title":
			b, err := io.ReadAll(io.LimitReader(part, maxFieldSize+1))
			if err != nil {
				return nil, multipartError(err)
			}
			if len(b) > maxFieldSize {
				return nil, hlsd.Errorf(hlsd.EINVALID, "the title field is too long")
			}
			up.Title = string(b)
		default:
			return nil, hlsd.Errorf(hlsd.EINVALID, `unknown multipart field %q: send "file" (and optionally "title" before it)`, part.FormName())
		}
		part.Close()
	}
}

func multipartError(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return hlsd.Errorf(hlsd.ETOOLARGE, "the upload is larger than the limit")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return hlsd.Errorf(hlsd.EINVALID, "the upload was interrupted")
	}
	return hlsd.Errorf(hlsd.EINVALID, "cannot read the multipart body: %v", err)
}

// handleListMedia is GET /api/v1/media?limit=&cursor=&q=&status=, newest
// first.
func (s *Server) handleListMedia(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := hlsd.MediaFilter{Query: q.Get("q"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hlsd.MaxListLimit {
			s.apiError(w, r, hlsd.Errorf(hlsd.EINVALID, "limit must be a whole number from 1 to %d", hlsd.MaxListLimit))
			return
		}
		f.Limit = n
	}
	if v := q.Get("status"); v != "" {
		switch st := hlsd.Status(v); st {
		case hlsd.StatusQueued, hlsd.StatusProcessing, hlsd.StatusReady, hlsd.StatusFailed:
			f.Status = st
		default:
			s.apiError(w, r, hlsd.Errorf(hlsd.EINVALID, "status must be queued, processing, ready or failed, not %q", v))
			return
		}
	}
	page, err := s.cfg.Library.List(r.Context(), f)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := mediaList{Data: make([]MediaObject, 0, len(page.Media))}
	for _, m := range page.Media {
		out.Data = append(out.Data, NewMediaObject(m))
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	s.writeJSON(w, http.StatusOK, out)
}

// handleGetMedia is GET /api/v1/media/{id}.
func (s *Server) handleGetMedia(w http.ResponseWriter, r *http.Request) {
	m, err := s.cfg.Library.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, NewMediaObject(m))
}

// mediaPatch is the body of PATCH /api/v1/media/{id}.
type mediaPatch struct {
	Title *string `json:"title"`
	// Visibility is "public" or "signed" (signed.go).
	Visibility *string `json:"visibility"`
}

// handleUpdateMedia is PATCH /api/v1/media/{id} with {"title": "..."}.
func (s *Server) handleUpdateMedia(w http.ResponseWriter, r *http.Request) {
	var p mediaPatch
	if err := decodeJSON(w, r, &p); err != nil {
		s.apiError(w, r, err)
		return
	}
	if p.Title == nil && p.Visibility == nil {
		s.apiError(w, r, hlsd.Errorf(hlsd.EINVALID, `nothing to change: send {"title": "..."} or {"visibility": "public" or "signed"}`))
		return
	}
	id := r.PathValue("id")
	var m *hlsd.Media
	var err error
	if p.Visibility != nil {
		m, err = s.cfg.Library.SetVisibility(r.Context(), id, *p.Visibility)
		s.access.forget(id) // delivery sees the change at the next request
	}
	if err == nil && p.Title != nil {
		m, err = s.cfg.Library.Rename(r.Context(), id, *p.Title)
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, NewMediaObject(m))
}

// handleDeleteMedia is DELETE /api/v1/media/{id}: 204 once the record, the
// source and the presentation are gone (a running transcode is cancelled).
func (s *Server) handleDeleteMedia(w http.ResponseWriter, r *http.Request) {
	err := s.cfg.Library.Delete(r.Context(), r.PathValue("id"))
	s.access.forget(r.PathValue("id"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	w.Header()["Cache-Control"] = hdrNoStore
	w.WriteHeader(http.StatusNoContent)
}

// handleReprocessMedia is POST /api/v1/media/{id}/reprocess: 202 with the
// media queued again.
func (s *Server) handleReprocessMedia(w http.ResponseWriter, r *http.Request) {
	m, err := s.cfg.Library.Reprocess(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusAccepted, NewMediaObject(m))
}
