package peer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits guard the HTTP requests a host serves. Zero fields take the
// defaults noted on each.
type Limits struct {
	// MaxBodyBytes is the largest request body accepted (413 beyond);
	// default 1 MiB.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the request line and headers; default 16 KiB.
	MaxHeaderBytes int
	// ReadHeaderTimeout is how long a stream may take to send its request
	// headers (a slowloris is cut off here); default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included; default 1 min.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one response; default 5 min, enough for a
	// share with attachments over a relay.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive stream with no next request; default 60 s.
	IdleTimeout time.Duration
	// RequestsPerSecond and Burst are each peer's token bucket (429 beyond);
	// defaults 20 and 40.
	RequestsPerSecond float64
	Burst             int
	// MaxStreamsPerPeer bounds one peer's open HTTP streams and requests in
	// flight (503 beyond); default 16.
	MaxStreamsPerPeer int
}

// WithDefaults returns l with every zero field set to its default, for
// servers outside this package (the clinic node's HTTPS) that share the
// same limits.
func (l Limits) WithDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 1 << 20
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 16 << 10
	}
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = 10 * time.Second
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = time.Minute
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 5 * time.Minute
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = time.Minute
	}
	if l.RequestsPerSecond <= 0 {
		l.RequestsPerSecond = 20
	}
	if l.Burst <= 0 {
		l.Burst = 40
	}
	if l.MaxStreamsPerPeer <= 0 {
		l.MaxStreamsPerPeer = 16
	}
	return l
}

// Protect wraps h with the per-request guards every handler of this package
// runs behind: a per-peer token bucket (429), a per-peer bound on requests
// in flight (503) and a request body limit (413). Requests are keyed by the
// libp2p peer (RemotePeer) or, on plain HTTPS, by the client's IP address,
// so the clinic node can put the same guard in front of its HTTPS server.
func Protect(h http.Handler, l Limits) http.Handler {
	return &guard{next: h, limits: l.WithDefaults(), clients: make(map[string]*requester)}
}

type guard struct {
	next   http.Handler
	limits Limits

	mu      sync.Mutex
	clients map[string]*requester
}

type requester struct {
	bucket   *rate.Limiter
	inFlight int
	lastSeen time.Time
}

// maxTrackedClients bounds the guard's memory: past it, clients idle for a
// minute (whose bucket has refilled) are forgotten.
const maxTrackedClients = 4096

func requestKey(r *http.Request) string {
	if id, ok := RemotePeer(r); ok {
		return "p2p:" + id.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "addr:" + r.RemoteAddr
	}
	return "ip:" + host
}

// admit takes a token and an in-flight slot for key. It returns the status
// to refuse with (0 when admitted) and, for 429, how long to wait.
func (g *guard) admit(key string, now time.Time) (int, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.clients[key]
	if c == nil {
		if len(g.clients) >= maxTrackedClients {
			g.sweep(now)
		}
		c = &requester{bucket: rate.NewLimiter(rate.Limit(g.limits.RequestsPerSecond), g.limits.Burst)}
		g.clients[key] = c
	}
	c.lastSeen = now
	if c.inFlight >= g.limits.MaxStreamsPerPeer {
		return http.StatusServiceUnavailable, time.Second
	}
	res := c.bucket.ReserveN(now, 1)
	if delay := res.DelayFrom(now); delay > 0 {
		res.CancelAt(now)
		return http.StatusTooManyRequests, delay
	}
	c.inFlight++
	return 0, 0
}

func (g *guard) done(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.clients[key]; c != nil {
		c.inFlight--
	}
}

func (g *guard) sweep(now time.Time) {
	for k, c := range g.clients {
		if c.inFlight == 0 && now.Sub(c.lastSeen) > time.Minute {
			delete(g.clients, k)
		}
	}
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := requestKey(r)
	if status, wait := g.admit(key, time.Now()); status != 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		w.Header().Set("Connection", "close")
		msg := "too many requests from this peer: slow down and retry later"
		if status == http.StatusServiceUnavailable {
			msg = "too many requests in flight from this peer: wait for one to finish"
		}
		http.Error(w, msg, status)
		return
	}
	defer g.done(key)

	if r.ContentLength > g.limits.MaxBodyBytes {
		w.Header().Set("Connection", "close")
		http.Error(w, tooLargeMessage(g.limits.MaxBodyBytes), http.StatusRequestEntityTooLarge)
		return
	}
	gw := &guardWriter{rw: w, limit: g.limits.MaxBodyBytes}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &limitedBody{rc: http.MaxBytesReader(w, r.Body, g.limits.MaxBodyBytes), w: gw}
	}
	g.next.ServeHTTP(gw, r)
	if gw.exceeded && !gw.wrote {
		gw.writeTooLarge()
	}
}

func tooLargeMessage(limit int64) string {
	return fmt.Sprintf("request body is larger than %d bytes: send less", limit)
}

// limitedBody notes on the writer when the handler read past the limit, so
// the response becomes a 413 whatever the handler does with the error.
type limitedBody struct {
	rc io.ReadCloser
	w  *guardWriter
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		b.w.exceeded = true
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// guardWriter passes the handler's response through unless the request body
// went past the limit before the handler wrote anything: then the response
// is a 413 and what the handler writes is dropped.
type guardWriter struct {
	rw       http.ResponseWriter
	limit    int64
	wrote    bool
	exceeded bool
	dropping bool
}

func (w *guardWriter) Header() http.Header { return w.rw.Header() }

func (w *guardWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	if w.exceeded {
		w.writeTooLarge()
		return
	}
	w.wrote = true
	w.rw.WriteHeader(code)
}

func (w *guardWriter) writeTooLarge() {
	w.wrote, w.dropping = true, true
	h := w.rw.Header()
	for k := range h {
		delete(h, k)
	}
	h.Set("Connection", "close")
	http.Error(w.rw, tooLargeMessage(w.limit), http.StatusRequestEntityTooLarge)
}

func (w *guardWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.dropping {
		return len(p), nil
	}
	return w.rw.Write(p)
}

// ReadFrom lets io.Copy into the response use the server's own fast path.
func (w *guardWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.dropping {
		return io.Copy(io.Discard, r)
	}
	if rf, ok := w.rw.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.rw}, r)
}

// Flush sends buffered response data now (http.Flusher).
func (w *guardWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.rw.(http.Flusher); ok && !w.dropping {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the server's own writer.
func (w *guardWriter) Unwrap() http.ResponseWriter { return w.rw }

// streamCounter bounds how many HTTP streams each peer holds open at once.
type streamCounter struct {
	max  int
	mu   sync.Mutex
	open map[ID]int
}

func newStreamCounter(n int) *streamCounter {
	return &streamCounter{max: n, open: make(map[ID]int)}
}

func (c *streamCounter) acquire(id ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[id] >= c.max {
		return false
	}
	c.open[id]++
	return true
}

func (c *streamCounter) count(id ID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open[id]
}

func (c *streamCounter) release(id ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[id] <= 1 {
		delete(c.open, id)
		return
	}
	c.open[id]--
}
