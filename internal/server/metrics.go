package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hlsd/hlsd/internal/library"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus collectors. Per-kind children are
// resolved once, and per-(kind, status) counters on first use, so a request
// costs no label hashing.
type metrics struct {
	requests *prometheus.CounterVec
	inFlight prometheus.Gauge
	uploads  prometheus.Gauge // requests sending upload bytes now
	bytes    [numKinds]prometheus.Counter
	duration [numKinds]prometheus.Observer
	byCode   [numKinds][600]atomic.Pointer[prometheus.Counter]
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlsd_http_requests_total",
			Help: "HTTP requests answered, by kind of resource and status code.",
		}, []string{"kind", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hlsd_http_in_flight_requests",
			Help: "HTTP requests being answered now.",
		}),
		uploads: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hlsd_uploads_in_progress",
			Help: "Upload requests receiving bytes now (POST /api/v1/media, tus creation and PATCH).",
		}),
	}
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hlsd_http_response_bytes_total",
		Help: "Response body bytes sent, by kind of resource.",
	}, []string{"kind"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hlsd_http_request_duration_seconds",
		Help:    "Time from request to the end of the response, by kind of resource.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"kind"})
	for _, c := range []prometheus.Collector{m.requests, m.inFlight, m.uploads, bytes, duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	for k := range numKinds {
		m.bytes[k] = bytes.WithLabelValues(k.String())
		m.duration[k] = duration.WithLabelValues(k.String())
	}
	return m, nil
}

// observe records one finished request.
func (m *metrics) observe(k kind, status int, n int64, seconds float64) {
	m.counter(k, status).Inc()
	if n > 0 {
		m.bytes[k].Add(float64(n))
	}
	m.duration[k].Observe(seconds)
}

func (m *metrics) counter(k kind, status int) prometheus.Counter {
	if status < 100 || status >= 600 {
		return m.requests.WithLabelValues(k.String(), strconv.Itoa(status))
	}
	p := &m.byCode[k][status]
	if c := p.Load(); c != nil {
		return *c
	}
	c := m.requests.WithLabelValues(k.String(), strconv.Itoa(status))
	p.Store(&c)
	return c
}

// classify tells what a request path is for, from its prefix and, for
// delivery, its extension.
func classify(path string) kind {
	switch {
	case strings.HasPrefix(path, "/hls/") || strings.HasPrefix(path, "/static/"):
		if ft := typeOf(path); ft != nil {
			return ft.kind
		}
		return kindOther
	case strings.HasPrefix(path, "/api/"):
		return kindAPI
	case path == "/healthz" || path == "/readyz" || path == "/metrics":
		return kindOther
	}
	return kindUI
}

// NewRegistry returns a Prometheus registry of hlsd's own (never the global
// default one) holding the Go runtime and process collectors that operators
// expect beside hlsd's series. New makes one when Config.Registry is nil;
// hlsd serve makes it first, to share it with NewLibraryMetrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// LibraryMetrics are the collectors of what the library does outside HTTP:
// transcode times and speeds, and webhook delivery outcomes. It implements
// library.Metrics; hlsd serve passes it to library.New.
type LibraryMetrics struct {
	transcodeSeconds prometheus.Histogram
	transcodeSpeed   prometheus.Histogram
	webhookOK        prometheus.Counter
	webhookFailed    prometheus.Counter
}

var _ library.Metrics = (*LibraryMetrics)(nil)

// NewLibraryMetrics registers the library's collectors on reg.
func NewLibraryMetrics(reg prometheus.Registerer) (*LibraryMetrics, error) {
	webhooks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hlsd_webhook_deliveries_total",
		Help: "Webhook delivery attempts, by result: delivered (the receiver answered 2xx) or failed (retried later).",
	}, []string{"result"})
	m := &LibraryMetrics{
		transcodeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hlsd_transcode_seconds",
			Help:    "Wall time of finished transcodes (probe, every rendition, publish).",
			Buckets: []float64{1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}),
		transcodeSpeed: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hlsd_transcode_speed",
			Help:    "Speed of finished transcodes, in times realtime (media duration / wall time).",
			Buckets: []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50},
		}),
		webhookOK:     webhooks.WithLabelValues("delivered"),
		webhookFailed: webhooks.WithLabelValues("failed"),
	}
	for _, c := range []prometheus.Collector{m.transcodeSeconds, m.transcodeSpeed, webhooks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// TranscodeDone implements library.Metrics.
func (m *LibraryMetrics) TranscodeDone(media, took time.Duration) {
	m.transcodeSeconds.Observe(took.Seconds())
	if took > 0 && media > 0 {
		m.transcodeSpeed.Observe(media.Seconds() / took.Seconds())
	}
}

// WebhookAttempt implements library.Metrics.
func (m *LibraryMetrics) WebhookAttempt(err error) {
	if err != nil {
		m.webhookFailed.Inc()
		return
	}
	m.webhookOK.Inc()
}

// libraryStats is what the library collector asks the library at each
// scrape.
type libraryStats interface {
	JobCounts(ctx context.Context) ([]library.JobCount, error)
	StoredBytes(ctx context.Context) (sources, presentations int64, err error)
}

// libraryCollector reads job counts and stored bytes from the catalog at
// scrape time (two small queries), so the numbers are never stale and
// nothing has to be kept in step.
type libraryCollector struct {
	lib    libraryStats
	logger *slog.Logger
	jobs   *prometheus.Desc
	bytes  *prometheus.Desc
}

func newLibraryCollector(lib libraryStats, logger *slog.Logger) *libraryCollector {
	return &libraryCollector{
		lib: lib, logger: logger,
		jobs: prometheus.NewDesc("hlsd_jobs",
			"Jobs of the library's queues (transcode, webhook) by state; finished ones count until River's cleaner removes them a day later.",
			[]string{"queue", "state"}, nil),
		bytes: prometheus.NewDesc("hlsd_stored_bytes",
			"Bytes kept in the data directory: uploaded sources, and presentations' segments.",
			[]string{"kind"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *libraryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.bytes
}

// Collect implements prometheus.Collector. A failed query leaves its
// series out of this scrape (and logs why) rather than failing the scrape.
func (c *libraryCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if counts, err := c.lib.JobCounts(ctx); err != nil {
		c.logger.Warn("metrics: job counts", "err", err)
	} else {
		for _, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n.N), n.Queue, string(n.State))
		}
	}
	if src, pres, err := c.lib.StoredBytes(ctx); err != nil {
		c.logger.Warn("metrics: stored bytes", "err", err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(src), "sources")
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(pres), "presentations")
	}
}

// countUploads keeps hlsd_uploads_in_progress: requests sending upload
// bytes now (POST /api/v1/media, and tus creation and PATCH requests).
func (s *Server) countUploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			s.metrics.uploads.Inc()
			defer s.metrics.uploads.Dec()
		}
		next.ServeHTTP(w, r)
	})
}
