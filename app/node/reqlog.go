package node

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"medwallet/app/peer"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

// logRequests writes one line per request: method, the class of path (never
// the path itself, which may carry a share ID), status, duration and who
// asked (libp2p peer ID or client IP). Bodies, headers and query strings are
// never logged.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		class, shareID := PathClass(r.URL.Path)
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", class),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start).Round(time.Microsecond)),
			slog.String("from", requester(r)),
		}
		if shareID != "" {
			attrs = append(attrs, slog.String("share", shareID))
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// requester names the client: the libp2p peer ID, or the IP without port.
func requester(r *http.Request) string {
	if id, ok := peer.RemotePeer(r); ok {
		return "peer " + id.String()
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// shareIDShown is how much of a share ID a log line carries: enough to tell
// requests for one share apart from another's in a log, far too little to
// open it (a manifest ID is 43 characters).
const shareIDShown = 6

// PathClass names what a request path is for, as the request log shows it,
// and returns the first characters of the share ID it names, if any.
func PathClass(path string) (class, shareID string) {
	switch path {
	case ledger.AddCheckpointPath:
		return "witness/add-checkpoint", ""
	case ledger.EnrollPath:
		return "witness/enroll", ""
	case "/healthz", "/readyz":
		return "health", ""
	case share.DefaultPathPrefix + "/host":
		return "shl/host", ""
	}
	rest, ok := strings.CutPrefix(path, share.DefaultPathPrefix+"/")
	if !ok {
		return "other", ""
	}
	id, sub, _ := strings.Cut(rest, "/")
	if !share.ValidID(id) {
		return "shl/other", ""
	}
	short := id[:shareIDShown] + "…"
	switch {
	case sub == "":
		return "shl/manifest", short
	case sub == "revoke":
		return "shl/revoke", short
	case sub == "files":
		return "shl/files", short
	case sub == "log":
		return "shl/log", short
	case strings.HasPrefix(sub, "files/"):
		return "shl/file", short
	}
	return "shl/other", short
}

// statusWriter remembers the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush passes on http.Flusher.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the server's own writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
