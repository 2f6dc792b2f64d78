// Command viewers is the viewer simulator of bench/viewers.sh (issue 15):
// it ramps up simulated players (bench/internal/viewer) against one HLS
// server on 127.0.0.1 in steps, each viewer on its own keep-alive
// connection, and prints one line per step: viewers, requests, failures,
// stalls, p50/p99 time to first byte, bytes/s, and the server's CPU and
// resident memory read from /proc.
//
// With -idle N it instead measures what an idle keep-alive connection
// costs the server: N connections each play the start of the presentation
// (multivariant, media playlist, one segment) and then stay open and idle;
// the server's RSS growth divided by N is reported.
//
//	viewers -name hlsd -pid PID -url http://127.0.0.1:PORT/static/a/master.m3u8 -steps 1000,5000,10000 -step 20s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hlsd/hlsd/bench/internal/viewer"
)

func main() {
	var (
		name     = flag.String("name", "server", "label of the server in the output")
		master   = flag.String("url", "", "multivariant playlist URL (http or https on 127.0.0.1)")
		pid      = flag.Int("pid", 0, "server process id, for its CPU and RSS (0: not reported)")
		steps    = flag.String("steps", "100,1000", "comma-separated viewer counts, one per step")
		stepDur  = flag.Duration("step", 20*time.Second, "duration of each step; new viewers join during its first half")
		h2       = flag.Bool("h2", false, "use net/http's client (HTTPS, HTTP/2 when offered, any certificate) instead of raw HTTP/1.1")
		localIPs = flag.Int("local-ips", 8, "spread connections over 127.0.0.1..127.0.0.N (ephemeral ports)")
		idle     = flag.Int("idle", 0, "measure N idle keep-alive connections instead of ramping viewers")
		out      = flag.String("tsv", "", "append one TSV line per step to this file")
		label    = flag.String("label", "", "free text for the TSV (content, protocol)")
		metrics  = flag.String("metrics", "", "with -idle: the server's Prometheus URL, to split the cost into stacks and heap")
	)
	flag.Parse()
	log.SetFlags(0)
	raiseNoFile()
	u, err := url.Parse(*master)
	if err != nil || u.Hostname() != "127.0.0.1" {
		log.Fatalf("viewers: -url must be on 127.0.0.1, got %q", *master)
	}
	var counts []int
	for _, f := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			log.Fatalf("viewers: bad -steps %q", *steps)
		}
		counts = append(counts, n)
	}
	d := &viewer.Dialer{LocalIPs: *localIPs}
	newFetcher := func() viewer.Fetcher {
		if *h2 {
			return viewer.NewStd(d, true)
		}
		return &viewer.H1{Dialer: d}
	}
	proc := viewer.Proc{PID: *pid}
	if *idle > 0 {
		idleCost(*name, u, *idle, newFetcher, proc, *metrics)
		return
	}
	ramp(*name, *label, *out, u, counts, *stepDur, newFetcher, proc)
}

// ramp runs the steps and prints a line per step.
func ramp(name, label, tsv string, u *url.URL, counts []int, step time.Duration,
	newFetcher func() viewer.Fetcher, proc viewer.Proc) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stats := &viewer.Stats{}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		restarts int
	)
	run := func(delay time.Duration) {
		defer wg.Done()
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		for ctx.Err() == nil {
			f := newFetcher()
			v := &viewer.Viewer{Fetcher: f, Recorder: stats, Loop: true}
			err := v.Run(ctx, u)
			f.Close()
			if err == nil || ctx.Err() != nil {
				return
			}
			// A player whose request failed starts again, a second later.
			mu.Lock()
			restarts++
			mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	var f *os.File
	if tsv != "" {
		var err error
		if f, err = os.OpenFile(tsv, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			log.Fatal(err)
		}
		defer f.Close()
	}
	fmt.Printf("%-12s %8s %9s %7s %7s %9s %9s %9s %9s %8s %8s %8s %8s\n", "server", "viewers", "requests",
		"failed", "stalls", "p50 ms", "p99 ms", "max ms", "MB/s", "srv CPU", "srv RSS", "(anon)", "sim CPU")
	cur := 0
	for _, target := range counts {
		cpu0, self0, t0 := proc.CPU(), selfCPU(), time.Now()
		join := step / 2
		for i := cur; i < target; i++ {
			wg.Add(1)
			go run(time.Duration(int64(join) * int64(i-cur) / int64(max(target-cur, 1))))
		}
		cur = max(cur, target)
		time.Sleep(step)
		w := stats.Take()
		el := time.Since(t0)
		cpu := float64(proc.CPU()-cpu0) / float64(el) * 100
		self := float64(selfCPU()-self0) / float64(el) * 100
		rss, anon := float64(proc.RSS())/(1<<20), float64(proc.Anon())/(1<<20)
		mu.Lock()
		r := restarts
		restarts = 0
		mu.Unlock()
		fmt.Printf("%-12s %8d %9d %7d %7d %9.2f %9.2f %9.1f %9.1f %7.0f%% %7.0fM %7.0fM %7.0f%%\n", name, cur, w.Requests,
			w.Failed, w.Stalls, ms(w.P50), ms(w.P99), ms(w.Max), float64(w.Bytes)/el.Seconds()/1e6, cpu, rss, anon, self)
		if r > 0 || w.FirstError != "" {
			fmt.Printf("%-12s %d viewers restarted after a failed request; first failure: %s\n", "", r, w.FirstError)
		}
		if f != nil {
			fmt.Fprintf(f, "%s\t%s\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\n", name, label, cur, w.Requests,
				w.Failed, w.Stalls, ms(w.P50), ms(w.P99), ms(w.Max), float64(w.Bytes)/el.Seconds(), cpu, rss, anon, self)
		}
	}
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		log.Print("viewers: some viewers did not stop within 15 s")
	}
}

// idleCost opens n connections that play the start of the presentation and
// then idle, and reports the server's RSS growth per connection.
func idleCost(name string, u *url.URL, n int, newFetcher func() viewer.Fetcher, proc viewer.Proc, metrics string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	time.Sleep(2 * time.Second)
	before := proc.RSS()
	stats := &viewer.Stats{}
	fetchers := make([]viewer.Fetcher, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range fetchers {
		fetchers[i] = newFetcher()
		wg.Add(1)
		sem <- struct{}{}
		go func(f viewer.Fetcher) {
			defer func() { <-sem; wg.Done() }()
			// One viewer's start, then nothing: Burst 1 and no loop.
			v := &viewer.Viewer{Fetcher: f, Recorder: stats, Burst: 1}
			vctx, vcancel := context.WithCancel(ctx)
			defer vcancel()
			go func() {
				// Stop after the first segment: the viewer would wait
				// for the playhead next.
				time.Sleep(500 * time.Millisecond)
				vcancel()
			}()
			v.Run(vctx, u)
		}(fetchers[i])
	}
	wg.Wait()
	time.Sleep(3 * time.Second)
	after := proc.RSS()
	w := stats.Take()
	fmt.Printf("%-12s %6d idle keep-alive connections: RSS %.1f -> %.1f MiB (anonymous %.1f), %.1f KiB per connection (%d requests, %d failed)\n",
		name, n, float64(before)/(1<<20), float64(after)/(1<<20), float64(proc.Anon())/(1<<20), float64(after-before)/float64(n)/1024, w.Requests, w.Failed)
	if metrics != "" {
		memstats(metrics, n)
	}
	for _, f := range fetchers {
		f.Close()
	}
}

// memstats prints the Go runtime's stack and heap figures of a server's
// /metrics, per connection.
func memstats(metrics string, n int) {
	resp, err := http.Get(metrics)
	if err != nil {
		log.Printf("viewers: %v", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, m := range []string{"go_memstats_stack_inuse_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes"} {
			if v, ok := strings.CutPrefix(line, m+" "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				parts = append(parts, fmt.Sprintf("%s %.1f MiB (%.1f KiB/conn)", strings.TrimSuffix(strings.TrimPrefix(m, "go_memstats_"), "_bytes"), f/(1<<20), f/float64(n)/1024))
			}
		}
	}
	fmt.Printf("%-12s %s\n", "", strings.Join(parts, ", "))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseNoFile lifts the soft open-file limit to the hard one: every viewer
// holds a connection.
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
