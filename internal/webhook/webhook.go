// Package webhook tells an outside system what happened to media, by POSTing
// a signed JSON event to one URL (--webhook).
//
// Every event is a River job (kind "webhook", queue "webhook"), inserted in
// the same transaction as the change it reports. Delivery therefore survives
// restarts, is retried with River's backoff (about 1 s, 16 s, 81 s, 4 min,
// 10 min, ... for MaxAttempts tries), and runs on its own queue: a slow or
// failing endpoint never blocks, slows or fails a transcode.
//
// # The request
//
// Requests follow the Standard Webhooks specification
// (https://www.standardwebhooks.com/), so that receivers can check them with
// the official verifier libraries of any language:
//
//	POST <url>
//	Content-Type: application/json
//	webhook-id: evt_...               (the same on every retry: deduplicate on it)
//	webhook-timestamp: 1767225600     (unix seconds of this attempt)
//	webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=
//	Hlsd-Event-Id: evt_...            (deprecated: same as webhook-id)
//	Hlsd-Signature: t=1767225600,v1=5257a869e7ec...   (deprecated)
//
//	{"id":"evt_...","type":"media.ready","created_at":"...","data":{ media object }}
//
// Any 2xx answer is success; anything else, or no answer within
// DeliveryTimeout, is retried.
//
// # Signatures
//
// webhook-signature is "v1," and the base64 of HMAC-SHA256(key,
// id + "." + timestamp + "." + raw body). The key comes from --webhook-secret:
// a Standard Webhooks secret "whsec_<base64>" stands for the bytes its
// base64 encodes; any other string is used as the key bytes themselves (and
// its whsec_ form, FormatSecret, is what receivers' libraries take).
//
// Hlsd-Signature and Hlsd-Event-Id are this package's first scheme, kept for
// one release beside the standard headers so that existing receivers keep
// working: hex(HMAC-SHA256(secret, t + "." + raw body)) keyed by the
// --webhook-secret string exactly as given (Sign, Verify). Without
// --webhook-secret no signature header is sent.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
)

// Event types.
const (
	MediaReady   = "media.ready"
	MediaFailed  = "media.failed"
	MediaDeleted = "media.deleted"
)

// Headers of a delivery, as named by the Standard Webhooks specification.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Headers of the first signing scheme, sent beside the standard ones for
// one more release.
//
// Deprecated: receivers should verify webhook-signature (HeaderWebhookSignature)
// and deduplicate on webhook-id (HeaderWebhookID).
const (
	HeaderSignature = "Hlsd-Signature"
	HeaderEventID   = "Hlsd-Event-Id"
)

// SecretPrefix starts a Standard Webhooks secret: "whsec_" and the base64
// of the key bytes.
const SecretPrefix = "whsec_"

// ParseSecret returns the HMAC key a --webhook-secret value stands for: the
// bytes a "whsec_<base64>" secret encodes, or any other string's own bytes.
// A whsec_ secret whose base64 is broken, or an empty one, is an error.
func ParseSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		if secret == "" {
			return nil, errors.New("the webhook secret is empty")
		}
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, errors.New("the webhook secret starts with whsec_ but the rest is not base64 of the key (for a plain secret, drop the whsec_ prefix)")
	}
	return key, nil
}

// FormatSecret returns key as a Standard Webhooks secret, "whsec_<base64>",
// the form receivers give the official verifier libraries.
func FormatSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// SignStandard returns the webhook-signature value of a delivery: "v1," and
// the base64 of HMAC-SHA256(key, id.timestamp.body).
func SignStandard(key []byte, id string, t time.Time, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id + "." + strconv.FormatInt(t.Unix(), 10) + "."))
	h.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Queue is the River queue of deliveries, apart from transcoding.
const Queue = "webhook"

// MaxAttempts is how many times one event is tried; with River's backoff
// (attempt⁴ seconds) the last try comes about 11 hours after the first, which
// rides out a receiver's deploy or an evening outage.
const MaxAttempts = 12

// DeliveryTimeout bounds one POST, headers and body.
const DeliveryTimeout = 15 * time.Second

// DefaultTolerance is the age beyond which Verify refuses a signature.
const DefaultTolerance = 5 * time.Minute

// Event is the JSON body of a delivery.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// NewEvent returns an event of the given type with data encoded as JSON,
// ready to be inserted with Args.
func NewEvent(typ string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event: %w", typ, err)
	}
	var b [12]byte
	rand.Read(b[:])
	return Event{ID: "evt_" + hex.EncodeToString(b[:]), Type: typ, CreatedAt: time.Now().UTC(), Data: raw}, nil
}

// Args is the River job of one delivery. The body is frozen at insert time,
// so every retry sends the same event.
type Args struct {
	Event Event `json:"event"`
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "webhook" }

// InsertOpts puts deliveries on their own queue with their own attempt count.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts}
}

// Sign returns the Hlsd-Signature value for body sent at t.
//
// Deprecated: SignStandard is the webhook-signature that receivers should
// verify; Hlsd-Signature is sent for one more release.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a Hlsd-Signature header against the raw body, as a receiver
// should: a v1 signature must match and its timestamp be within tolerance of
// now (zero tolerance means DefaultTolerance).
//
// Deprecated: verify webhook-signature with a Standard Webhooks library
// (github.com/standard-webhooks/standard-webhooks/libraries in Go).
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	var (
		ts   string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("webhook signature header is malformed")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook signature timestamp is outside the tolerance")
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return errors.New("webhook signature does not match")
}

// Worker delivers events to URL. It implements river.Worker[Args].
type Worker struct {
	river.WorkerDefaults[Args]
	// URL receives the events; when empty, events are dropped (logged).
	URL string
	// Secret signs the events (see ParseSecret); when empty, no signature
	// header is sent.
	Secret string
	// Observe, when set, is called after every delivery attempt with its
	// outcome (nil for a 2xx answer), for metrics.
	Observe func(err error)
	// Client sends the requests; nil means a client with DeliveryTimeout.
	Client *http.Client
	Logger *slog.Logger
}

// Timeout bounds one attempt a little beyond the request's own timeout.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return DeliveryTimeout + 5*time.Second }

// Work sends one event and fails (for River to retry) on any non-2xx answer.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	err := w.deliver(ctx, job)
	if w.Observe != nil && w.URL != "" {
		w.Observe(err)
	}
	return err
}

func (w *Worker) deliver(ctx context.Context, job *river.Job[Args]) error {
	ev := job.Args.Event
	if w.URL == "" {
		w.logger().Info("webhook dropped: no URL configured", "event", ev.ID, "type", ev.Type)
		return nil
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return river.JobCancel(fmt.Errorf("encode event %s: %w", ev.ID, err))
	}
	ctx, cancel := context.WithTimeout(ctx, DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(fmt.Errorf("webhook request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hlsd-webhook")
	now := time.Now()
	// Set directly: the standard's names are lowercase, and Header.Set
	// would canonicalize them (HTTP/1 names are case-insensitive anyway).
	req.Header[HeaderWebhookID] = []string{ev.ID}
	req.Header[HeaderWebhookTimestamp] = []string{strconv.FormatInt(now.Unix(), 10)}
	req.Header.Set(HeaderEventID, ev.ID)
	if w.Secret != "" {
		key, err := ParseSecret(w.Secret)
		if err != nil {
			return river.JobCancel(err)
		}
		req.Header[HeaderWebhookSignature] = []string{SignStandard(key, ev.ID, now, body)}
		req.Header.Set(HeaderSignature, Sign(w.Secret, now, body))
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: DeliveryTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		w.logger().Warn("webhook delivery failed", "event", ev.ID, "type", ev.Type, "attempt", job.Attempt, "err", err)
		return fmt.Errorf("deliver %s: %w", ev.ID, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		w.logger().Warn("webhook refused", "event", ev.ID, "type", ev.Type, "attempt", job.Attempt, "status", resp.StatusCode)
		return fmt.Errorf("deliver %s: endpoint answered %s", ev.ID, resp.Status)
	}
	w.logger().Info("webhook delivered", "event", ev.ID, "type", ev.Type, "attempt", job.Attempt)
	return nil
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}
