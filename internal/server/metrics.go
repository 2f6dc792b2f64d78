package server

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. Per-kind children are
// resolved once, and per-(kind, status) counters on first use, so a request
// costs no label hashing.
type metrics struct {
	requests *prometheus.CounterVec
	inFlight prometheus.Gauge
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
	for _, c := range []prometheus.Collector{m.requests, m.inFlight, bytes, duration} {
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
	case path == "/healthz" || path == "/metrics":
		return kindOther
	}
	return kindUI
}
