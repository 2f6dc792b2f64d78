package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/testmedia"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var metricsAddrRE = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// TestMetricsAndDashboard runs `hlsd serve --metrics-addr` with a webhook,
// uploads and transcodes a file, and scrapes the separate listener: the
// library's series have the values the upload implies, the main listener
// has no /metrics, and every metric name in the PromQL of
// docs/grafana-dashboard.json (parsed by a real PromQL parser) is one hlsd
// exports, and every hlsd_ metric is on the dashboard.
func TestMetricsAndDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("transcodes: skipped with -short")
	}
	delivered := make(chan struct{}, 4)
	hook := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		delivered <- struct{}{}
	})
	const token = "metrics-token-0123456789abcdef"
	data := t.TempDir()
	r := startServe(t, map[string]string{"HLSD_API_TOKEN": token},
		"--data", data, "--metrics-addr", "127.0.0.1:0", "--webhook", hook, "--webhook-secret", "plain secret")
	m := metricsAddrRE.FindStringSubmatch(r.stderr.String())
	if m == nil {
		t.Fatalf("no 'serving metrics' line:\n%s", r.stderr.String())
	}
	metricsURL := "http://" + m[1] + "/metrics"
	// The plain secret's Standard Webhooks form is printed at start.
	if !strings.Contains(r.stderr.String(), "Webhook secret for Standard Webhooks verifiers: whsec_cGxhaW4gc2VjcmV0\n") {
		t.Errorf("stderr does not show the whsec_ form of the secret:\n%s", r.stderr.String())
	}

	if resp, _ := get(t, r.base+"/metrics", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("main listener /metrics = %d with --metrics-addr, want 404", resp.StatusCode)
	}

	c := apiClient{base: r.base, token: token}
	fixture := testmedia.Path(t, "tone.flac")
	fi, err := os.Stat(fixture)
	if err != nil {
		t.Fatal(err)
	}
	done := c.waitDone(t, c.uploadRaw(t, fixture, "metrics").ID)
	wantReady(t, done, hlsd.KindAudio, 6)
	select {
	case <-delivered:
	case <-time.After(2 * time.Minute):
		t.Fatal("no webhook delivery within 2 minutes")
	}

	// The delivery is counted once the receiver's answer is read, and River
	// records finished jobs in batches: scrape until both show (bounded),
	// then check everything on that scrape.
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(time.Minute); ; {
		fams = scrape(t, metricsURL)
		if value(fams, "hlsd_webhook_deliveries_total", "result", "delivered") >= 1 &&
			value(fams, "hlsd_jobs", "state", "running") == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	checks := []struct {
		name, label, labelValue string
		want                    func(float64) bool
		says                    string
	}{
		{"hlsd_webhook_deliveries_total", "result", "delivered", func(v float64) bool { return v == 1 }, "1"},
		{"hlsd_webhook_deliveries_total", "result", "failed", func(v float64) bool { return v == 0 }, "0"},
		{"hlsd_jobs", "state", "completed", func(v float64) bool { return v >= 1 }, ">= 1 (transcode and webhook)"},
		{"hlsd_jobs", "state", "running", func(v float64) bool { return v == 0 }, "0"},
		{"hlsd_stored_bytes", "kind", "sources", func(v float64) bool { return v == float64(fi.Size()) }, "the upload's size"},
		{"hlsd_stored_bytes", "kind", "presentations", func(v float64) bool { return v > 0 }, "> 0"},
		{"hlsd_uploads_in_progress", "", "", func(v float64) bool { return v == 0 }, "0"},
		{"hlsd_transcode_seconds", "", "", func(v float64) bool { return v == 1 }, "1 observation"},
		{"hlsd_transcode_speed", "", "", func(v float64) bool { return v == 1 }, "1 observation"},
	}
	for _, ck := range checks {
		if v := value(fams, ck.name, ck.label, ck.labelValue); !ck.want(v) {
			t.Errorf("%s{%s=%q} = %v, want %s", ck.name, ck.label, ck.labelValue, v, ck.says)
		}
	}

	// Every series name the scrape has (histograms as _bucket, _sum, _count).
	names := map[string]bool{}
	for name, f := range fams {
		names[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[name+s] = true
			}
		}
	}
	exprs, used := dashboardQueries(t)
	if len(exprs) < 10 {
		t.Fatalf("the dashboard has %d queries, want its panels' (at least 10)", len(exprs))
	}
	for _, name := range used {
		if !names[name] {
			t.Errorf("the dashboard queries %s, which hlsd does not export", name)
		}
	}
	usedSet := map[string]bool{}
	for _, n := range used {
		usedSet[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")] = true
	}
	for name := range fams {
		if strings.HasPrefix(name, "hlsd_") && !usedSet[name] {
			t.Errorf("hlsd exports %s but the dashboard shows it nowhere", name)
		}
	}
}

// scrape GETs a /metrics URL and parses the text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := get(t, url, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// value sums the series of a family whose label has the given value (all
// series when label is ""); a histogram counts its observations.
func value(fams map[string]*dto.MetricFamily, name, label, labelValue string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		match := label == ""
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && lp.GetValue() == labelValue {
				match = true
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// dashboardQueries returns every PromQL expression of
// docs/grafana-dashboard.json (panel targets, and the template variables'
// label_values queries) and the metric names they read, parsed with a
// PromQL parser after Grafana's variables are replaced as Grafana would.
func dashboardQueries(t *testing.T) (exprs, names []string) {
	t.Helper()
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "expr" {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(dash)
	labelValues := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "$instance", ".*")
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, tv := range dash.(map[string]any)["templating"].(map[string]any)["list"].([]any) {
		if q, ok := tv.(map[string]any)["definition"].(string); ok {
			m := labelValues.FindStringSubmatch(q)
			if m == nil {
				t.Errorf("template variable query %q is not label_values(metric, label)", q)
				continue
			}
			add(m[1])
		}
	}
	for _, e := range exprs {
		expr, err := metricsql.Parse(vars.Replace(e))
		if err != nil {
			t.Errorf("dashboard query %q: %v", e, err)
			continue
		}
		n := 0
		metricsql.VisitAll(expr, func(x metricsql.Expr) {
			me, ok := x.(*metricsql.MetricExpr)
			if !ok {
				return
			}
			for _, lfs := range me.LabelFilterss {
				for _, lf := range lfs {
					if lf.Label == "__name__" {
						add(lf.Value)
						n++
					}
				}
			}
		})
		if n == 0 {
			t.Errorf("dashboard query %q reads no metric", e)
		}
	}
	sort.Strings(names)
	return exprs, names
}
