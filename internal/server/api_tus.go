package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/tus/tusd/v2/pkg/filestore"
	tushandler "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
)

// HeaderMediaID names the media a finished tus upload became. It is set on
// the response that completes the upload (the last PATCH, or the POST of an
// upload sent whole with creation-with-upload), and on HEAD or GET of the
// upload afterwards, for a client whose last response was lost.
const HeaderMediaID = "Hlsd-Media-Id"

// tusDoneSuffix names the small file that remembers which media a finished
// upload became: DATA/tmp/uploads/{upload}.media holds "{media id} {size}".
const tusDoneSuffix = ".media"

// uploadsDir is where tusd keeps uploads in progress: under DATA/tmp, on the
// same file system as the sources, so a finished upload is imported with
// one rename. Each upload there expires --upload-expiry after its last write
// (tus_expiry.go).
func (s *Server) uploadsDir() string {
	return s.cfg.Library.Layout().UploadsDir()
}

// newTus builds the tus 1.0 handler (tusd, file store in uploadsDir). tusd's
// own CORS handling is off: apiCORS applies the same origin list to tus and
// REST routes alike.
func (s *Server) newTus() (http.Handler, error) {
	dir := s.uploadsDir()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create uploads dir: %w", err)
	}
	expiry := s.cfg.UploadExpiry
	if expiry <= 0 {
		expiry = DefaultUploadExpiry
	}
	sweep := s.cfg.uploadSweep
	if sweep <= 0 {
		sweep = sweepInterval(expiry)
	}
	store := filestore.New(dir)
	composer := tushandler.NewStoreComposer()
	store.UseIn(composer)
	graceLocker{memorylocker.New()}.UseIn(composer)
	h, err := tushandler.NewHandler(tushandler.Config{
		StoreComposer:             composer,
		BasePath:                  APIPrefix + "/uploads/",
		MaxSize:                   s.cfg.MaxUpload,
		DisableDownload:           true,
		DisableConcatenation:      true,
		Cors:                      &tushandler.CorsConfig{Disable: true},
		Logger:                    newTusLogger(s.logger),
		PreUploadCreateCallback:   s.tusCreating,
		PreFinishResponseCallback: s.tusFinished,
	})
	if err != nil {
		return nil, fmt.Errorf("tus handler: %w", err)
	}
	tus := s.tusFailures(http.StripPrefix(APIPrefix+"/uploads", h))
	s.uploads = newTusUploads(dir, expiry, sweep, s.logger)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("upload")
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && s.tusDone(w, id) {
			return
		}
		if id != "" && validUploadID(id) {
			s.uploads.begin(id)
			defer s.uploads.end(id)
		}
		if !s.tusWithinLimit(w, r) {
			return
		}
		tus.ServeHTTP(&tusResponse{ResponseWriter: w, r: r, uploads: s.uploads}, r)
	}), nil
}

// tusCreating checks an upload's metadata before any byte is sent, so that
// a title the library would refuse fails now rather than after the upload.
func (s *Server) tusCreating(ev tushandler.HookEvent) (tushandler.HTTPResponse, tushandler.FileInfoChanges, error) {
	if title := ev.Upload.MetaData["title"]; !utf8.ValidString(title) || utf8.RuneCountInString(strings.TrimSpace(title)) > library.MaxTitleLength {
		return tushandler.HTTPResponse{}, tushandler.FileInfoChanges{}, s.tusError(ev,
			hlsd.Errorf(hlsd.EINVALID, "the title must be valid UTF-8 of at most %d characters", library.MaxTitleLength))
	}
	if _, err := s.uploadFromTus(ev.Upload.MetaData); err != nil {
		return tushandler.HTTPResponse{}, tushandler.FileInfoChanges{}, s.tusError(ev, err)
	}
	return tushandler.HTTPResponse{}, tushandler.FileInfoChanges{}, nil
}

// tusFinished runs when the last byte of an upload is stored: the file
// becomes media exactly as a POST /api/v1/media would, and the response
// names it in Hlsd-Media-Id. When the file is refused (empty, too large)
// the upload is removed and the client gets the JSON error.
func (s *Server) tusFinished(ev tushandler.HookEvent) (tushandler.HTTPResponse, error) {
	info := ev.Upload
	path := info.Storage[filestore.StorageKeyPath]
	up, err := s.uploadFromTus(info.MetaData) // upload_meta.go
	if err != nil {
		os.Remove(info.Storage[filestore.StorageKeyPath])
		os.Remove(info.Storage[filestore.StorageKeyInfoPath])
		return tushandler.HTTPResponse{}, s.tusError(ev, err)
	}
	// The bytes are all here: the media is made even if the client has
	// gone away in the meantime.
	ctx := context.WithoutCancel(ev.Context)
	m, err := s.cfg.Library.Import(ctx, path, up)
	infoPath := info.Storage[filestore.StorageKeyInfoPath]
	if err != nil {
		os.Remove(path)
		os.Remove(infoPath)
		return tushandler.HTTPResponse{}, s.tusError(ev, err)
	}
	os.Remove(infoPath)
	done := filepath.Join(s.uploadsDir(), info.ID+tusDoneSuffix)
	if err := os.WriteFile(done, []byte(m.ID+" "+strconv.FormatInt(info.Size, 10)), 0o640); err != nil {
		s.logger.Warn("cannot record finished upload", "upload", info.ID, "media", m.ID, "err", err)
	}
	s.logger.Info("tus upload finished", "upload", info.ID, "media", m.ID, "bytes", info.Size)
	return tushandler.HTTPResponse{Header: tushandler.HTTPHeader{
		HeaderMediaID:      m.ID,
		"Content-Location": APIPrefix + "/media/" + m.ID,
	}}, nil
}

// tusError turns an import failure into a tusd error whose body is the API's
// JSON error, with the status apiStatus gives.
func (s *Server) tusError(ev tushandler.HookEvent, err error) error {
	code := hlsd.ErrorCode(err)
	status := apiStatus(code)
	if status == http.StatusInternalServerError {
		s.logger.Error("tus import", "upload", ev.Upload.ID, "err", err)
		code = hlsd.EINTERNAL
	}
	body, _ := json.Marshal(apiErrorBody{Error: apiErrorDetail{Code: code, Message: hlsd.ErrorMessage(err)}})
	return tushandler.Error{
		ErrorCode: code,
		Message:   hlsd.ErrorMessage(err),
		HTTPResponse: tushandler.HTTPResponse{
			StatusCode: status,
			Body:       string(body) + "\n",
			Header:     tushandler.HTTPHeader{"Content-Type": "application/json", "Cache-Control": "no-store"},
		},
	}
}

// tusDone answers HEAD or GET of a finished upload from its record: the
// offset equals the length, and Hlsd-Media-Id names the media.
func (s *Server) tusDone(w http.ResponseWriter, upload string) bool {
	if upload == "" || !validUploadID(upload) {
		return false
	}
	b, err := os.ReadFile(filepath.Join(s.uploadsDir(), upload+tusDoneSuffix))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.logger.Warn("read finished upload record", "upload", upload, "err", err)
		}
		return false
	}
	id, size, _ := strings.Cut(string(b), " ")
	h := w.Header()
	h.Set("Tus-Resumable", "1.0.0")
	h.Set("Upload-Offset", size)
	h.Set("Upload-Length", size)
	h.Set(HeaderMediaID, id)
	h.Set("Content-Location", APIPrefix+"/media/"+id)
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(http.StatusOK)
	return true
}

// validUploadID accepts the ids tusd's file store makes (hex), so that a
// path element never reaches the file system unchecked.
func validUploadID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}
