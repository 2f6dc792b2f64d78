package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// readyTimeout bounds each readiness check.
const readyTimeout = 5 * time.Second

// readyCheck is one thing /readyz checks.
type readyCheck struct {
	name  string
	check func(ctx context.Context) error
}

// checkResult is one check in the /readyz answer.
type checkResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// readyBody is the /readyz answer.
type readyBody struct {
	Status string                 `json:"status"` // "ok" or "fail"
	Checks map[string]checkResult `json:"checks"`
}

// readyChecks lists what this node needs to do its work: the served
// folder always; with a library, the database, a data directory that takes
// new files, and the ffmpeg and ffprobe binaries.
func (s *Server) readyChecks() []readyCheck {
	if lib := s.cfg.Library; lib != nil {
		return []readyCheck{
			{"database", lib.CheckDatabase},
			{"store", func(context.Context) error { return lib.CheckStore() }},
			{"ffmpeg", func(context.Context) error { return lib.CheckTools() }},
		}
	}
	return []readyCheck{{"store", func(context.Context) error {
		if _, err := s.media.root.Stat("."); err != nil {
			return errors.New("the media folder cannot be read")
		}
		return nil
	}}}
}

// handleReady answers readiness probes (Kubernetes readinessProbe, load
// balancers): 200 with every check ok, else 503 with the failed checks'
// errors, so traffic goes elsewhere until the node can do its work. Each
// check is cheap (one query, one small file, two PATH lookups); /healthz
// stays the do-nothing liveness probe.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	body := readyBody{Status: "ok", Checks: map[string]checkResult{}}
	for _, c := range s.readyChecks() {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		err := c.check(ctx)
		cancel()
		if err != nil {
			body.Status = "fail"
			body.Checks[c.name] = checkResult{Error: err.Error()}
			continue
		}
		body.Checks[c.name] = checkResult{OK: true}
	}
	status := http.StatusOK
	if body.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	b, _ := json.Marshal(body)
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
