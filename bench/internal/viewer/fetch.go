// Package viewer simulates HLS players for load tests (bench/viewers): each
// Viewer holds its own connection, loads the multivariant playlist, picks
// a rendition, loads its media playlist and fetches segments at real-time
// pace, recording every request and every stall.
//
// The parts are small interfaces so that other player kinds can reuse them:
// a Fetcher is one player's connection (HTTP/1.1 on a raw keep-alive
// connection, or net/http's client for HTTP/2), a Reloader decides how a
// growing playlist is fetched again (every target duration today; an LL-HLS
// blocking reload with _HLS_msn/_HLS_part tomorrow), and a Recorder
// receives every Result.
package viewer

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// Kind is what a request was for.
type Kind uint8

// Kinds of requests.
const (
	KindMultivariant Kind = iota
	KindPlaylist
	KindSegment
	KindPart // LL-HLS partial segments, for later player kinds
	NumKinds
)

// Result is one finished request.
type Result struct {
	Kind  Kind
	Start time.Time
	// TTFB is the time from sending the request to having the response
	// header; Total adds the body's download.
	TTFB, Total time.Duration
	Bytes       int64
	Status      int
	Err         error
}

// Failed reports whether the request did not get a whole 200 answer.
func (r Result) Failed() bool { return r.Err != nil || r.Status != http.StatusOK }

// Fetcher is one player's connection to the server.
type Fetcher interface {
	// Get fetches u; with keep it returns the body, else it discards it.
	Get(ctx context.Context, u *url.URL, kind Kind, keep bool) ([]byte, Result)
	// Close closes the connection.
	Close()
}

// Dialer opens the TCP connections of fetchers, spreading them over local
// addresses 127.0.0.1, 127.0.0.2, ... so that tens of thousands of
// connections to one server port do not run out of ephemeral ports.
type Dialer struct {
	LocalIPs int // how many 127.0.0.x source addresses to use (at least 1)
	next     atomic.Uint32
}

// DialContext dials addr (which must be on 127.0.0.1) from the next local
// address.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		return nil, fmt.Errorf("viewer: refusing to connect to %q: only 127.0.0.1", addr)
	}
	n := max(d.LocalIPs, 1)
	i := int(d.next.Add(1)-1) % n
	nd := net.Dialer{Timeout: 10 * time.Second,
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}}
	return nd.DialContext(ctx, network, addr)
}

// H1 is a Fetcher speaking HTTP/1.1 on one keep-alive connection, with as
// little client work as possible so that the load generator leaves the
// CPU to the server: one goroutine, one read buffer.
type H1 struct {
	Dialer *Dialer
	conn   net.Conn
	br     *bufio.Reader
	req    []byte
}

// Get implements Fetcher. A broken or closed connection is dialled again
// on the next Get.
func (h *H1) Get(ctx context.Context, u *url.URL, kind Kind, keep bool) ([]byte, Result) {
	res := Result{Kind: kind, Start: time.Now()}
	body, err := h.get(ctx, u, keep, &res)
	res.Total = time.Since(res.Start)
	if err != nil {
		res.Err = err
		h.Close()
	}
	return body, res
}

func (h *H1) get(ctx context.Context, u *url.URL, keep bool, res *Result) ([]byte, error) {
	if h.conn == nil {
		c, err := h.Dialer.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		h.conn = c
		if h.br == nil {
			h.br = bufio.NewReaderSize(c, 4096)
		} else {
			h.br.Reset(c)
		}
	}
	// Every request is bounded: 30 s, or less when ctx says so.
	d := time.Now().Add(30 * time.Second)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	h.conn.SetDeadline(d)
	h.req = append(h.req[:0], "GET "...)
	h.req = append(h.req, u.RequestURI()...)
	h.req = append(h.req, " HTTP/1.1\r\nHost: "...)
	h.req = append(h.req, u.Host...)
	h.req = append(h.req, "\r\nUser-Agent: hlsd-bench-viewer\r\n\r\n"...)
	if _, err := h.conn.Write(h.req); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return nil, err
	}
	body, err := readBody(resp, keep, res)
	if err != nil {
		return nil, err
	}
	if resp.Close {
		h.Close()
	}
	return body, nil
}

// Close implements Fetcher.
func (h *H1) Close() {
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
}

// Std is a Fetcher on net/http's client with a transport of its own (so one
// connection per viewer): HTTPS, and HTTP/2 when the server offers it.
type Std struct {
	client *http.Client
	tr     *http.Transport
}

// NewStd returns a Std fetcher; insecure accepts any certificate (the
// benchmark's self-signed one).
func NewStd(d *Dialer, insecure bool) *Std {
	tr := &http.Transport{
		DialContext:         d.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		IdleConnTimeout:     10 * time.Minute,
		DisableCompression:  true,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: insecure},
	}
	return &Std{client: &http.Client{Transport: tr}, tr: tr}
}

// Get implements Fetcher.
func (s *Std) Get(ctx context.Context, u *url.URL, kind Kind, keep bool) ([]byte, Result) {
	res := Result{Kind: kind, Start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		res.Err = err
		return nil, res
	}
	resp, err := s.client.Do(req)
	if err != nil {
		res.Err, res.Total = err, time.Since(res.Start)
		return nil, res
	}
	body, err := readBody(resp, keep, &res)
	res.Total = time.Since(res.Start)
	if err != nil && !errors.Is(err, io.EOF) {
		res.Err = err
	}
	return body, res
}

// Close implements Fetcher.
func (s *Std) Close() { s.tr.CloseIdleConnections() }

// readBody notes the time to first byte and the status of resp, then reads
// its body: kept when keep is set, else discarded.
func readBody(resp *http.Response, keep bool, res *Result) ([]byte, error) {
	res.TTFB = time.Since(res.Start)
	res.Status = resp.StatusCode
	defer resp.Body.Close()
	if keep {
		body, err := io.ReadAll(resp.Body)
		res.Bytes = int64(len(body))
		return body, err
	}
	var err error
	res.Bytes, err = io.Copy(io.Discard, resp.Body)
	return nil, err
}
