package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/sqlite"
	"github.com/hlsd/hlsd/internal/webhook"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

type request struct {
	header http.Header
	body   []byte
}

// TestDeliveryRetried delivers an event through a real River queue to a real
// endpoint on 127.0.0.1 that fails the first attempt: the retry succeeds
// with the same event id and a signature that verifies.
func TestDeliveryRetried(t *testing.T) {
	ctx := context.Background()
	var (
		mu   sync.Mutex
		reqs []request
	)
	got := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, request{r.Header.Clone(), body})
		n := len(reqs)
		mu.Unlock()
		if n == 1 {
			http.Error(w, "try later", http.StatusInternalServerError)
		}
		got <- struct{}{}
	}))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want 127.0.0.1", srv.URL)
	}

	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hlsd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	driver := riversqlite.New(db.SQL())
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &webhook.Worker{URL: srv.URL, Secret: "whsec"})
	client, err := river.NewClient(driver, &river.Config{
		Queues:            map[string]river.QueueConfig{webhook.Queue: {MaxWorkers: 1}},
		Workers:           workers,
		FetchPollInterval: 50 * time.Millisecond,
		FetchCooldown:     10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.StopAndCancel(ctx)

	ev, err := webhook.NewEvent(webhook.MediaReady, map[string]any{"id": "abc123def456", "status": "ready"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Insert(ctx, webhook.Args{Event: ev}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-got:
		case <-time.After(2 * time.Minute):
			t.Fatalf("webhook endpoint got %d requests, want 2 (a failure, then the retry)", len(reqs))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, r := range reqs {
		if id := r.header.Get(webhook.HeaderEventID); id != ev.ID {
			t.Errorf("request %d: event id header %q, want %q", i, id, ev.ID)
		}
		if err := webhook.Verify("whsec", r.header.Get(webhook.HeaderSignature), r.body, 0, time.Now()); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("request %d: Content-Type %q", i, ct)
		}
		var body struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil || body.Type != webhook.MediaReady || body.Data["id"] != "abc123def456" {
			t.Errorf("request %d body %s: %v", i, r.body, err)
		}
	}
	if string(reqs[0].body) != string(reqs[1].body) {
		t.Errorf("retry sent a different body:\n%s\n%s", reqs[0].body, reqs[1].body)
	}
	// The job ends completed on its second attempt.
	deadline := time.Now().Add(time.Minute)
	for {
		job, err := client.JobGet(ctx, res.Job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if job.State == "completed" {
			if job.Attempt != 2 {
				t.Errorf("completed at attempt %d, want 2", job.Attempt)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job state %s, want completed", job.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"type":"media.ready","data":{}}`)
	now := time.Unix(1_767_225_600, 0)
	good := webhook.Sign("secret", now, body)
	tests := []struct {
		name    string
		secret  string
		header  string
		body    []byte
		at      time.Time
		wantErr string
	}{
		{"valid", "secret", good, body, now, ""},
		{"valid a minute later", "secret", good, body, now.Add(time.Minute), ""},
		{"valid among rotated signatures", "secret", "t=1767225600,v1=00ff," + strings.TrimPrefix(good, "t=1767225600,"), body, now, ""},
		{"wrong secret", "other", good, body, now, "does not match"},
		{"body changed", "secret", good, []byte(`{"type":"media.failed","data":{}}`), now, "does not match"},
		{"replayed late", "secret", good, body, now.Add(10 * time.Minute), "tolerance"},
		{"timestamp changed", "secret", strings.Replace(good, "t=1767225600", "t=1767225601", 1), body, now, "does not match"},
		{"no v1", "secret", "t=1767225600", body, now, "malformed"},
		{"empty", "secret", "", body, now, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.header, tt.body, 0, tt.at)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Verify = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Verify = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	// The signature is HMAC-SHA256 over "<t>.<body>", as documented.
	if !strings.HasPrefix(good, "t=1767225600,v1=") || len(good) != len("t=1767225600,v1=")+64 {
		t.Errorf("Sign = %q, want t=<unix>,v1=<64 hex digits>", good)
	}
}

// TestStandardWebhooks sends deliveries with the real Worker to a real
// endpoint on 127.0.0.1 and checks them with the Standard Webhooks
// project's own Go verifier: with a whsec_ secret, with a plain string (whose
// whsec_ form is what a receiver is given), and that a changed body or the
// wrong key is refused. The deprecated Hlsd-Signature still verifies.
func TestStandardWebhooks(t *testing.T) {
	reqs := make(chan request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		reqs <- request{r.Header.Clone(), body}
	}))
	defer srv.Close()
	key := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name, secret string
		receiver     string // the secret the receiver's library is given
	}{
		{"whsec secret", webhook.FormatSecret(key), "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
		{"plain secret", "a plain shared secret", webhook.FormatSecret([]byte("a plain shared secret"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := webhook.NewEvent(webhook.MediaReady, map[string]any{"id": "abc123def456"})
			if err != nil {
				t.Fatal(err)
			}
			w := &webhook.Worker{URL: srv.URL, Secret: tt.secret}
			var observed []error
			w.Observe = func(err error) { observed = append(observed, err) }
			job := &river.Job[webhook.Args]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: webhook.Args{Event: ev}}
			if err := w.Work(t.Context(), job); err != nil {
				t.Fatalf("Work: %v", err)
			}
			if len(observed) != 1 || observed[0] != nil {
				t.Errorf("Observe got %v, want one nil", observed)
			}
			r := <-reqs
			if r.header.Get("webhook-id") != ev.ID {
				t.Errorf("webhook-id = %q, want %q", r.header.Get("webhook-id"), ev.ID)
			}
			if ts, err := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64); err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Hour {
				t.Errorf("webhook-timestamp = %q, want unix seconds of now", r.header.Get("webhook-timestamp"))
			}
			wh, err := standardwebhooks.NewWebhook(tt.receiver)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(r.body, r.header); err != nil {
				t.Errorf("Standard Webhooks verifier: %v (webhook-signature %q)", err, r.header.Get("webhook-signature"))
			}
			if err := wh.Verify(append(r.body, ' '), r.header); err == nil {
				t.Error("verifier accepted a changed body")
			}
			other, _ := standardwebhooks.NewWebhookRaw([]byte("another key"))
			if err := other.Verify(r.body, r.header); err == nil {
				t.Error("verifier accepted the wrong key")
			}
			// The deprecated header, keyed by the secret as given.
			if err := webhook.Verify(tt.secret, r.header.Get(webhook.HeaderSignature), r.body, 0, time.Now()); err != nil {
				t.Errorf("deprecated Hlsd-Signature: %v", err)
			}
			if r.header.Get(webhook.HeaderEventID) != ev.ID {
				t.Errorf("deprecated Hlsd-Event-Id = %q, want %q", r.header.Get(webhook.HeaderEventID), ev.ID)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		secret, wantKey, wantErr string
	}{
		{"whsec_aGVsbG8=", "hello", ""},
		{"hello", "hello", ""},
		{"whsec_not base64!", "", "not base64"},
		{"whsec_", "", "not base64"},
		{"", "", "empty"},
	}
	for _, tt := range tests {
		key, err := webhook.ParseSecret(tt.secret)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSecret(%q) = %q, %v; want error containing %q", tt.secret, key, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(key) != tt.wantKey {
			t.Errorf("ParseSecret(%q) = %q, %v; want %q", tt.secret, key, err, tt.wantKey)
		}
	}
	if got := webhook.FormatSecret([]byte("hello")); got != "whsec_aGVsbG8=" {
		t.Errorf("FormatSecret = %q", got)
	}
}
