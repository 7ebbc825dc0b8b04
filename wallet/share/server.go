package share

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Server defaults.
const (
	DefaultPathPrefix = "/shl"
	// MaxTicketTTL bounds how long a manifest's location URL works; each
	// location is also single-use.
	MaxTicketTTL = 60 * time.Second
	// DefaultMaxUpload bounds a host upload body.
	DefaultMaxUpload = 64 << 20
	// defaultEmbedMax is the largest file embedded when the client states no
	// embeddedLengthMax; embedBudget bounds all embedded files of one
	// manifest, so manifests stay well under a client's 1 MiB limit.
	defaultEmbedMax = 256 << 10
	embedBudget     = 768 << 10
)

// ServerConfig configures a Server.
type ServerConfig struct {
	Registry *Registry
	// Prefix is the URL path under which shares are served; default "/shl".
	Prefix string
	// PublicURL (scheme://host[:port], no trailing slash) is put in front of
	// location and hosted-share URLs. Empty: derived from each request, which
	// suits HTTP over libp2p where the host is a placeholder.
	PublicURL string
	// Requester names who made a request, for the access log: a libp2p peer
	// ID or a remote address. Nil: the request's RemoteAddr.
	Requester func(*http.Request) string
	// Hosting says who may upload shares to be hosted here and within which
	// limits; nil turns the hosting endpoints off.
	Hosting *HostingPolicy
	// TicketTTL is the lifetime of a location URL, at most (and by default)
	// MaxTicketTTL.
	TicketTTL time.Duration
	// MaxUpload bounds a host upload body; default DefaultMaxUpload.
	MaxUpload int64
}

// Server serves the SHL manifest protocol, unchanged from the specification,
// plus this app's hosting endpoints. Routes, under Prefix:
//
//	POST {prefix}/{id}                 manifest request → 200 manifest, 401 {remainingAttempts}, 404
//	GET  {prefix}/{id}?recipient=…     U-flag direct file (application/jose)
//	GET  {prefix}/{id}/files/{ticket}  single-use location (application/jose)
//	POST {prefix}/host                 upload a share to host, signed by an enrolled log (Hosting) → 201 HostReceipt
//	POST {prefix}/{id}/revoke          revoke a hosted share (Authorization: Bearer secret)
//	PUT  {prefix}/{id}/files           replace a hosted share's files (Bearer secret)
//	GET  {prefix}/{id}/log             a hosted share's access log (Bearer secret)
type Server struct {
	cfg ServerConfig
	reg *Registry
	mux *http.ServeMux
}

// NewServer returns a Server for cfg.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Registry == nil {
		return nil, fmt.Errorf("share server: no registry")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPathPrefix
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if cfg.TicketTTL <= 0 || cfg.TicketTTL > MaxTicketTTL {
		cfg.TicketTTL = MaxTicketTTL
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, reg: cfg.Registry, mux: http.NewServeMux()}
	p := cfg.Prefix
	// The routes SHL clients use answer any origin (a browser-based EHR
	// reads them with fetch), errors included, and their preflight alike
	// for every path; management routes below stay same-origin.
	s.mux.HandleFunc("POST "+p+"/{id}", cors(s.handleManifest))
	s.mux.HandleFunc("GET "+p+"/{id}", cors(getOnly(s.handleDirect)))
	s.mux.HandleFunc("GET "+p+"/{id}/files/{ticket}", cors(getOnly(s.handleTicket)))
	s.mux.HandleFunc("OPTIONS "+p+"/{id}", preflight)
	s.mux.HandleFunc("OPTIONS "+p+"/{id}/files/{ticket}", preflight)
	if cfg.Hosting != nil {
		cfg.Hosting.setDefaults()
		s.mux.HandleFunc("POST "+p+"/host", s.handleHostUpload)
		s.mux.HandleFunc("POST "+p+"/{id}/revoke", s.handleHostRevoke)
		s.mux.HandleFunc("PUT "+p+"/{id}/files", s.handleHostFiles)
		s.mux.HandleFunc("GET "+p+"/{id}/log", s.handleHostLog)
	}
	return s, nil
}

// cors lets pages of any origin read the answer of h: a share's URL and
// key are its only credentials, and no cookie is ever involved.
func cors(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
		h(w, r)
	}
}

// preflight answers a CORS preflight for the SHL routes, the same for every
// path so it tells nothing about which shares exist.
func preflight(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// getOnly refuses HEAD, which the mux routes to GET handlers: a HEAD would
// count as an access (or use up a single-use location) and deliver nothing.
func getOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{"use GET"})
			return
		}
		h(w, r)
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// ManifestURL is the URL at which share id is served, given the server's
// public base (scheme://host).
func (s *Server) ManifestURL(base, id string) string {
	return strings.TrimRight(base, "/") + s.cfg.Prefix + "/" + id
}

func (s *Server) base(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) requester(r *http.Request) string {
	if s.cfg.Requester != nil {
		return s.cfg.Requester(r)
	}
	return r.RemoteAddr
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorBody struct {
	Error string `json:"error"`
}

// notFoundBody is the one body of every 404.
var notFoundBody = []byte(`{"error":"share not found"}` + "\n")

// notFound is the one answer for unknown, expired, revoked and disabled
// shares: the same status, headers and bytes, with an explicit length so
// that flushing it early (to log a refusal after answering) never turns it
// into a chunked response that would tell a dead share from an unknown one.
func notFound(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(notFoundBody)))
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(notFoundBody)
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, errorBody{msg})
}

func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// readBody reads at most limit bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{fmt.Sprintf("request body over %d bytes", limit)})
		} else {
			badRequest(w, "cannot read request body")
		}
		return nil, false
	}
	return b, true
}

// refuse answers an Open error: 401 for passcode problems, 404 otherwise.
// For a known share that is no longer served the attempt is logged after the
// 404 has been sent, so a known-but-expired ID answers as fast as an unknown
// one.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, id, recipient string, err error) {
	var pe *ErrPasscode
	if errors.As(err, &pe) {
		writeJSON(w, http.StatusUnauthorized, passcodeResponse{RemainingAttempts: &pe.Remaining})
		return
	}
	if errors.Is(err, ErrRateLimited) {
		// Only a live share is rate limited, and only someone holding its
		// link reaches it, so this tells a guesser nothing.
		w.Header().Set("Retry-After", strconv.Itoa(int(shareRefill/time.Second)))
		writeJSON(w, http.StatusTooManyRequests, errorBody{"too many requests for this share; wait and try again"})
		return
	}
	notFound(w)
	outcome := ""
	switch {
	case errors.Is(err, ErrExpired):
		outcome = OutcomeExpired
	case errors.Is(err, ErrRevoked):
		outcome = OutcomeRevoked
	case errors.Is(err, ErrLocked):
		outcome = OutcomeDisabled
	default:
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	// A failed log write cannot change the answer already sent.
	_ = s.reg.Log(id, AccessEntry{Recipient: recipient, Requester: s.requester(r), Outcome: outcome})
}

func (s *Server) handleManifest(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r) {
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{"manifest request must be application/json"})
		return
	}
	body, ok := readBody(w, r, MaxManifestRequest)
	if !ok {
		return
	}
	req, err := ParseManifestRequest(body)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	id := r.PathValue("id")
	if !ValidID(id) {
		notFound(w)
		return
	}
	sh, err := s.reg.Open(id, OpenRequest{Recipient: req.Recipient, Requester: s.requester(r), Passcode: req.Passcode})
	if err != nil {
		s.refuse(w, r, id, req.Recipient, err)
		return
	}
	embedMax := defaultEmbedMax
	if req.EmbeddedLengthMax != nil {
		embedMax = *req.EmbeddedLengthMax
	}
	budget := embedBudget
	m := Manifest{Files: make([]ManifestFile, 0, len(sh.Files))}
	for i, f := range sh.Files {
		mf := ManifestFile{ContentType: f.ContentType}
		if !f.LastUpdated.IsZero() {
			mf.LastUpdated = f.LastUpdated.UTC().Format(time.RFC3339)
		}
		if f.ContentType == ContentFHIR {
			mf.FHIRVersion = "4.0.1"
		}
		if f.Size <= embedMax && f.Size <= budget {
			jwe, err := s.reg.File(id, i)
			if err != nil {
				notFound(w) // revoked while answering
				return
			}
			mf.Embedded = string(jwe)
			budget -= f.Size
		} else {
			t, err := s.reg.IssueTicket(id, i, s.cfg.TicketTTL)
			if err != nil {
				// Busy or a storage failure: either way the client may
				// retry, and the error's text stays in this process.
				w.Header().Set("Retry-After", "10")
				writeJSON(w, http.StatusServiceUnavailable, errorBody{"this share's files cannot be handed out right now; try again shortly"})
				return
			}
			mf.Location = s.base(r) + s.cfg.Prefix + "/" + id + "/files/" + t
		}
		m.Files = append(m.Files, mf)
	}
	writeJSON(w, http.StatusOK, m)
}

func writeJOSE(w http.ResponseWriter, jwe []byte) {
	w.Header().Set("Content-Type", contentJOSE)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(jwe)
}

func (s *Server) handleTicket(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidID(id) {
		notFound(w)
		return
	}
	n, ok, err := s.reg.TakeTicket(id, r.PathValue("ticket"))
	if err != nil || !ok {
		notFound(w)
		return
	}
	if _, err := s.reg.Active(id); err != nil {
		notFound(w)
		return
	}
	jwe, err := s.reg.File(id, n)
	if err != nil {
		notFound(w)
		return
	}
	writeJOSE(w, jwe)
}

func (s *Server) handleDirect(w http.ResponseWriter, r *http.Request) {
	recipient := r.URL.Query().Get("recipient")
	if recipient == "" || len(recipient) > maxRecipient {
		badRequest(w, fmt.Sprintf("recipient query parameter is required (at most %d bytes)", maxRecipient))
		return
	}
	id := r.PathValue("id")
	if !ValidID(id) {
		notFound(w)
		return
	}
	if _, err := s.reg.Open(id, OpenRequest{Recipient: recipient, Requester: s.requester(r), Direct: true}); err != nil {
		s.refuse(w, r, id, recipient, err)
		return
	}
	jwe, err := s.reg.File(id, 0)
	if err != nil {
		notFound(w)
		return
	}
	writeJOSE(w, jwe)
}

// authorize checks the Bearer management secret of hosted share id. Unknown
// shares and wrong secrets get the same 404.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	secret, err := base64.RawURLEncoding.DecodeString(tok)
	if !ok || err != nil || !ValidID(id) {
		notFound(w)
		return "", false
	}
	sh, err := s.reg.header(id)
	if err != nil {
		notFound(w)
		return "", false
	}
	got := sha256.Sum256(secret)
	if len(sh.ManageHash) != sha256.Size || subtle.ConstantTimeCompare(got[:], sh.ManageHash) != 1 {
		notFound(w)
		return "", false
	}
	return id, true
}

func (s *Server) handleHostRevoke(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authorize(w, r)
	if !ok {
		return
	}
	if err := s.reg.Revoke(id); err != nil {
		notFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleHostFiles(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authorize(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, s.cfg.MaxUpload)
	if !ok {
		return
	}
	var up struct {
		Files []HostFile `json:"files"`
	}
	if err := decodeOne(body, &up); err != nil || len(up.Files) == 0 || len(up.Files) > maxManifestFiles {
		badRequest(w, fmt.Sprintf("replace files: a JSON object with 1 to %d files is required", maxManifestFiles))
		return
	}
	if err := s.reg.ReplaceFiles(id, hostFiles(up.Files)); err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrRevoked) {
			notFound(w)
			return
		}
		if errors.Is(err, ErrQuota) {
			writeJSON(w, http.StatusInsufficientStorage, errorBody{err.Error()})
			return
		}
		badRequest(w, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hostLog is the body of a hosted share's access log.
type hostLog struct {
	Entries []AccessEntry `json:"entries"`
}

func (s *Server) handleHostLog(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authorize(w, r)
	if !ok {
		return
	}
	entries, err := s.reg.AccessLog(id)
	if err != nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, hostLog{Entries: entries})
}
