package server

import (
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits are the per-client (per IP address) rate limits of the server, as
// token buckets: Rate requests per second on average, bursts of Burst. A
// request over the limit gets 429 Too Many Requests with Retry-After.
// Delivery (/hls/, /static/) is not limited: a player legitimately makes
// many requests, and the files are cheap to serve.
type Limits struct {
	// APIRate and APIBurst limit every /api/v1 request.
	APIRate  float64
	APIBurst int
	// AuthRate and AuthBurst limit, in addition, the requests that mint
	// credentials: playback tokens (POST .../playback-tokens) and sign-in
	// (POST /login), so a leaked session cannot mint tokens in bulk and
	// the API token cannot be guessed quickly.
	AuthRate  float64
	AuthBurst int
	// UploadsPerHour limits new uploads (POST /api/v1/media and tus
	// creation), with bursts of the same size.
	UploadsPerHour int
	// Exempt lists client networks that are never limited: the operator's
	// own tools, or a reverse proxy on the same host (behind which every
	// client has the proxy's address, so a per-address limit would be one
	// limit for everybody; the proxy should limit instead).
	Exempt []netip.Prefix
}

// DefaultLimits are the limits of zero Limits fields.
var DefaultLimits = Limits{APIRate: 20, APIBurst: 100, AuthRate: 1, AuthBurst: 20, UploadsPerHour: 100}

// maxBuckets bounds each limiter's memory: when a limiter tracks that many
// clients, idle buckets (full again) are dropped, and if none is idle the
// oldest half goes.
const maxBuckets = 100_000

// rateLimits is the server's set of limiters; a nil limiter is disabled.
type rateLimits struct {
	api, auth, uploads *limiter
	// refused counts refused credentials (wrong bearer tokens and sign-in
	// tokens), at the auth rate: while it is empty, every credential from
	// that address is refused with 429 before it is compared (auth.go).
	refused *limiter
	exempt  []netip.Prefix
}

func newRateLimits(l Limits) *rateLimits {
	d := DefaultLimits
	pick := func(rate float64, burst int, dr float64, db int) *limiter {
		if rate == 0 {
			rate = dr
		}
		if burst == 0 {
			burst = db
		}
		if rate < 0 || burst < 0 {
			return nil
		}
		return newLimiter(rate, burst)
	}
	up := l.UploadsPerHour
	if up == 0 {
		up = d.UploadsPerHour
	}
	return &rateLimits{
		exempt:  l.Exempt,
		api:     pick(l.APIRate, l.APIBurst, d.APIRate, d.APIBurst),
		auth:    pick(l.AuthRate, l.AuthBurst, d.AuthRate, d.AuthBurst),
		refused: pick(l.AuthRate, l.AuthBurst, d.AuthRate, d.AuthBurst),
		uploads: pick(float64(up)/3600, up, 0, 0),
	}
}

// limiter is a set of token buckets by client key.
type limiter struct {
	rate, burst float64
	mu          sync.Mutex
	buckets     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(max(burst, 1)), buckets: map[string]*bucket{}}
}

// allow takes one token from key's bucket at now. When there is none it
// returns false and how long until there will be.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// check reports, like allow, whether key's bucket has a token at now, but
// takes none.
func (l *limiter) check(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return true, 0
	}
	tokens := math.Min(l.burst, b.tokens+max(0, now.Sub(b.last).Seconds())*l.rate)
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) / l.rate * float64(time.Second))
}

// exempted reports whether client address a is in --rate-limit-exempt.
func (rl *rateLimits) exempted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range rl.exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// prune drops the buckets that have refilled (their clients are idle), or
// half of all when every client is active.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets/2 {
		n := 0
		for k := range l.buckets {
			delete(l.buckets, k)
			if n++; n >= maxBuckets/2 {
				break
			}
		}
	}
}

// clientKey is the rate-limit key of r: its peer IP address (IPv6 clients
// by their /64, which one subscriber usually holds whole).
func clientKey(r *http.Request) string {
	a := clientAddr(r)
	if !a.IsValid() {
		return r.RemoteAddr
	}
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}

// limit applies the rate limits before routing: every /api/v1 request
// counts against the API limit; token minting and sign-in against the
// auth limit too; upload creation against the upload limit. Preflights
// (OPTIONS) are free.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if r.Method == http.MethodOptions || !(strings.HasPrefix(p, APIPrefix+"/") || p == APIPrefix || p == "/login") {
			next.ServeHTTP(w, r)
			return
		}
		if s.limits.exempted(clientAddr(r)) {
			next.ServeHTTP(w, r)
			return
		}
		key := clientKey(r)
		now := s.now()
		check := func(l *limiter, what string) bool {
			if l == nil {
				return true
			}
			ok, wait := l.allow(key, now)
			if !ok {
				s.tooMany(w, r, wait, what)
			}
			return ok
		}
		if p != "/login" && !check(s.limits.api, "API requests") {
			return
		}
		if r.Method == http.MethodPost {
			switch {
			case p == "/login" || strings.HasSuffix(p, "/playback-tokens"):
				if p == "/login" && s.limits.refused != nil {
					if ok, wait := s.limits.refused.check(key, now); !ok {
						s.tooMany(w, r, wait, "refused credentials")
						return
					}
				}
				if !check(s.limits.auth, "sign-in and token requests") {
					return
				}
			case p == APIPrefix+"/media" || p == APIPrefix+"/uploads" || p == APIPrefix+"/uploads/":
				if !check(s.limits.uploads, "uploads") {
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// tooMany answers 429 with Retry-After in whole seconds (at least 1), as
// an API JSON error.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration, what string) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(secs))
	s.logger.Debug("rate limited", "remote", r.RemoteAddr, "path", r.URL.Path, "what", what)
	s.writeJSON(w, http.StatusTooManyRequests, apiErrorBody{Error: apiErrorDetail{
		Code:    "rate_limited",
		Message: "Too many " + what + " from your address; retry in " + strconv.Itoa(secs) + " s.",
	}})
}

// limitListener caps the number of open connections: Accept waits while
// max connections are open, so further clients queue in the kernel's
// backlog instead of each taking a goroutine and buffers (the idea of
// golang.org/x/net/netutil.LimitListener).
type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, sem: l.sem}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.done) })
	return err
}

// limitConn gives its slot back on its first Close. It is one small
// allocation per connection: no closure, no sync.Once.
type limitConn struct {
	net.Conn
	sem    chan struct{}
	closed atomic.Bool
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		<-c.sem
	}
	return err
}

// ReadFrom passes through to the connection: net/http sends a response body
// through the connection's ReadFrom, which for a *net.TCPConn and a file is
// sendfile(2). Without it, embedding net.Conn hides that method and every
// segment would be copied through user space.
func (c *limitConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// DefaultBodyReadTimeout is the longest wait for the next bytes of a
// request body (Config.BodyReadTimeout).
const DefaultBodyReadTimeout = time.Minute

// bodyTimeout bounds the life of a connection carrying a request body,
// whether or not the handler reads it. There is no overall ReadTimeout (a
// large upload legitimately takes long), so instead:
//
//   - the body must start arriving within BodyReadTimeout, and every later
//     read must get data within BodyReadTimeout of the previous one: a
//     client that stalls mid-body gets its connection closed and its upload
//     dropped, instead of holding a goroutine, a connection slot and a temp
//     file forever;
//   - when the handler is done without reading the body to its end (a 401,
//     405, 404, an early 413, a GET with a body) and at most
//     discardLimit bytes of it are left (or its length is unknown), the
//     read deadline is set to now. net/http would otherwise wait, with no
//     deadline, for the rest of the body before sending the answer (to
//     reuse the connection); now its read fails at once, the answer goes
//     out and the connection is closed. With more left, net/http does not
//     wait: it answers at once and closes the connection after a short
//     grace that lets the client read the answer (a tus client sending a
//     chunk over --max-upload gets its 413, not a reset), so the deadline
//     is left alone. A GET or HEAD never waits for its body at all.
//
// Requests without a body pass untouched (no allocation, no deadline).
func (s *Server) bodyTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: s.cfg.BodyReadTimeout}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			b.rc.SetReadDeadline(time.Now()) // no route reads a GET body
		} else if b.idle > 0 {
			b.rc.SetReadDeadline(time.Now().Add(b.idle))
		}
		r.Body = b
		next.ServeHTTP(w, r)
		if !b.eof && (r.ContentLength < 0 || r.ContentLength-b.n <= discardLimit) {
			b.rc.SetReadDeadline(time.Now()) // unsupported writers (tests' recorders) just don't time out
		}
	})
}

// idleBody pushes the connection's read deadline forward before each read,
// and clears it once the body has been read to its end (net/http then
// reads the connection in the background to notice a client going away: a
// deadline left behind would cut a slow handler's request short).
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	eof  bool
	n    int64 // bytes read
}

// discardLimit is how much of an unread body net/http reads and discards
// after the handler (its maxPostHandlerReadBytes) to keep the connection;
// past it, it closes the connection instead of waiting.
const discardLimit = 256 << 10

func (b *idleBody) Read(p []byte) (int, error) {
	if b.idle > 0 && !b.eof {
		b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF && !b.eof {
		b.eof = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
