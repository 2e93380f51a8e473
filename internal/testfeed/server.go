package testfeed

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	version "github.com/hashicorp/go-version"
)

// RepoPath is the URL path of the repository on the server, as on GitHub's
// API: the feed URL is "http://HOST:PORT" + RepoPath.
const RepoPath = "/repos/" + Owner + "/" + Repo

// Server serves releases with the GitHub REST shape on loopback:
//
//	GET {URL}/releases/latest        newest non-draft, non-prerelease (by version)
//	GET {URL}/releases               all, drafts included, newest first (?per_page=&page=)
//	GET {URL}/releases/tags/vX.Y.Z   one published (non-draft) release
//	GET {URL}/tarball/vX.Y.Z         the source tarball (Range, If-Range, ETag)
//	GET {URL}/releases/assets/ID     an asset's JSON; its bytes with Accept: application/octet-stream
//	GET http://127.0.0.1:PORT/auth0/ad-ldap-connector/releases/download/vX.Y.Z/NAME
//	                                 an asset's bytes, its browser_download_url (Range, If-Range, ETag)
//
// Requests without a User-Agent are refused with 403, as GitHub does.
type Server struct {
	// URL is the feed URL: "http://127.0.0.1:PORT/repos/auth0/ad-ldap-connector".
	URL string

	base string // "http://127.0.0.1:PORT"
	ln   net.Listener
	srv  *http.Server
	done chan struct{}

	mu       sync.Mutex
	releases map[string]*release // by normalized version
	requests map[string]int
	ranges   map[string]int
	sent     map[string]int64
	faults   map[string][]Fault
	logf     func(format string, args ...any)
	closed   bool
}

type release struct {
	spec    ReleaseSpec
	ver     *version.Version
	tarball []byte
	etag    string
	sha256  string
	assets  []*releaseAsset
}

type releaseAsset struct {
	spec   AssetSpec
	id     int64
	sha256 string
	etag   string
}

// Fault is a failure the server injects into the next requests of a path
// (see Server.Inject).
type Fault struct {
	// Status, when non-zero, answers with this HTTP status and a
	// GitHub-style JSON error body.
	Status int
	// CutAfter, when Status is zero, sends the normal headers (Content-Length
	// included) and only this many body bytes, then drops the connection.
	CutAfter int64
	// Delay waits before answering.
	Delay time.Duration
}

// Start listens on addr ("127.0.0.1:0" when empty) and serves rels.
func Start(addr string, rels []ReleaseSpec) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s := &Server{
		releases: map[string]*release{},
		requests: map[string]int{},
		ranges:   map[string]int{},
		sent:     map[string]int64{},
		faults:   map[string][]Fault{},
		done:     make(chan struct{}),
	}
	for _, r := range rels {
		if err := s.AddRelease(r); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("testfeed: listen %s: %w", addr, err)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.ln = ln
	s.base = "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
	s.URL = s.base + RepoPath
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server and drops open connections. It is safe to call
// more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	_ = s.srv.Close()
	<-s.done
}

// AddRelease publishes a release, replacing any release with the same
// version.
func (s *Server) AddRelease(spec ReleaseSpec) error {
	spec.Version = normalize(spec.Version)
	v, err := version.NewVersion(spec.Version)
	if err != nil {
		return fmt.Errorf("testfeed: release %q: %w", spec.Version, err)
	}
	tb := spec.Tarball
	if tb == nil {
		if tb, err = SourceTarball(spec.Version, spec.Sample); err != nil {
			return err
		}
	}
	if spec.PublishedAt.IsZero() {
		spec.PublishedAt = CommitTime(spec.Version)
	}
	sum := sha256.Sum256(tb)
	r := &release{
		spec:    spec,
		ver:     v,
		tarball: tb,
		sha256:  hex.EncodeToString(sum[:]),
		etag:    `"` + hex.EncodeToString(sum[:20]) + `"`,
	}
	seen := map[string]bool{}
	for i, a := range spec.Assets {
		if err := checkAssetName(a.Name); err != nil {
			return fmt.Errorf("testfeed: release %s: %w", spec.Version, err)
		}
		if seen[strings.ToLower(a.Name)] {
			return fmt.Errorf("testfeed: release %s: two assets named %q", spec.Version, a.Name)
		}
		seen[strings.ToLower(a.Name)] = true
		if a.ContentType == "" {
			a.ContentType = "application/octet-stream"
			if strings.HasSuffix(strings.ToLower(a.Name), ".msi") {
				a.ContentType = "application/x-msi"
			}
		}
		asum := sha256.Sum256(a.Data)
		idsum := sha256.Sum256([]byte(spec.Version + "/" + a.Name))
		r.assets = append(r.assets, &releaseAsset{
			spec:   a,
			id:     int64(binary.BigEndian.Uint32(idsum[:4])&0x7fffffff) + int64(i),
			sha256: hex.EncodeToString(asum[:]),
			etag:   `"` + hex.EncodeToString(asum[:20]) + `"`,
		})
	}
	s.mu.Lock()
	s.releases[spec.Version] = r
	s.mu.Unlock()
	return nil
}

// RemoveRelease unpublishes a release; it reports whether one was there.
func (s *Server) RemoveRelease(v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.releases[normalize(v)]
	delete(s.releases, normalize(v))
	return ok
}

// TarballURL is the tarball_url of version v.
func (s *Server) TarballURL(v string) string {
	return s.URL + "/tarball/v" + normalize(v)
}

// Tarball returns the bytes served as version v's tarball (nil if unknown).
func (s *Server) Tarball(v string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.releases[normalize(v)]; r != nil {
		return r.tarball
	}
	return nil
}

// TarballSHA256 returns the hex sha256 of version v's tarball ("" if
// unknown).
func (s *Server) TarballSHA256(v string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.releases[normalize(v)]; r != nil {
		return r.sha256
	}
	return ""
}

// Inject makes the next `times` requests for path fail as f says. path is a
// URL path ("/repos/auth0/ad-ldap-connector/tarball/v6.4.1") or a full URL
// on this server.
func (s *Server) Inject(path string, times int, f Fault) {
	p := pathOf(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < times; i++ {
		s.faults[p] = append(s.faults[p], f)
	}
}

// Requests counts the requests received for path (a URL path or full URL;
// the query is ignored), faulted ones included.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[pathOf(path)]
}

// TotalRequests counts every request received, whatever its path.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.requests {
		n += c
	}
	return n
}

// RangeRequests counts the requests for path that carried a Range header.
func (s *Server) RangeRequests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ranges[pathOf(path)]
}

// BytesSent counts the response body bytes written for path.
func (s *Server) BytesSent(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[pathOf(path)]
}

// ResetCounters zeroes Requests, RangeRequests and BytesSent.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = map[string]int{}
	s.ranges = map[string]int{}
	s.sent = map[string]int64{}
}

// SetLogf sets a function that is told about every request (nil: silent).
func (s *Server) SetLogf(logf func(format string, args ...any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logf = logf
}

func pathOf(p string) string {
	if strings.Contains(p, "://") {
		if u, err := url.Parse(p); err == nil {
			return u.Path
		}
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	s.mu.Lock()
	s.requests[p]++
	if req.Header.Get("Range") != "" {
		s.ranges[p]++
	}
	var fault *Fault
	if q := s.faults[p]; len(q) > 0 {
		f := q[0]
		fault = &f
		s.faults[p] = q[1:]
	}
	logf := s.logf
	s.mu.Unlock()

	cw := &countingWriter{ResponseWriter: w, limit: -1}
	defer func() {
		s.mu.Lock()
		s.sent[p] += cw.n
		s.mu.Unlock()
		if logf != nil {
			logf("%s %s range=%q -> %d (%d bytes)", req.Method, req.URL.RequestURI(), req.Header.Get("Range"), cw.status(), cw.n)
		}
	}()

	if fault != nil {
		if fault.Delay > 0 {
			select {
			case <-time.After(fault.Delay):
			case <-req.Context().Done():
				return
			}
		}
		if fault.Status != 0 {
			writeError(cw, fault.Status, http.StatusText(fault.Status))
			return
		}
		cw.limit = fault.CutAfter
	}

	if req.Header.Get("User-Agent") == "" {
		writeError(cw, http.StatusForbidden, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header")
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		writeError(cw, http.StatusNotFound, "Not Found")
		return
	}
	if rest, ok := strings.CutPrefix(p, DownloadPath+"/"); ok {
		s.serveDownload(cw, req, rest)
		return
	}
	rest, ok := strings.CutPrefix(p, RepoPath+"/")
	if !ok {
		writeError(cw, http.StatusNotFound, "Not Found")
		return
	}
	switch {
	case rest == "releases/latest":
		s.serveLatest(cw)
	case rest == "releases":
		s.serveList(cw, req)
	case strings.HasPrefix(rest, "releases/tags/"):
		s.serveTag(cw, strings.TrimPrefix(rest, "releases/tags/"))
	case strings.HasPrefix(rest, "tarball/"):
		s.serveTarball(cw, req, strings.TrimPrefix(rest, "tarball/"))
	case strings.HasPrefix(rest, "releases/assets/"):
		s.serveAssetAPI(cw, req, strings.TrimPrefix(rest, "releases/assets/"))
	default:
		writeError(cw, http.StatusNotFound, "Not Found")
	}
}

// sorted returns the releases newest first.
func (s *Server) sorted() []*release {
	s.mu.Lock()
	out := make([]*release, 0, len(s.releases))
	for _, r := range s.releases {
		out = append(out, r)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ver.GreaterThan(out[j].ver) })
	return out
}

func (s *Server) serveLatest(w http.ResponseWriter) {
	for _, r := range s.sorted() {
		if !r.spec.Draft && !r.spec.Prerelease {
			writeJSON(w, http.StatusOK, s.releaseJSON(r))
			return
		}
	}
	writeError(w, http.StatusNotFound, "Not Found")
}

func (s *Server) serveList(w http.ResponseWriter, req *http.Request) {
	all := s.sorted()
	perPage, page := 30, 1
	if v, err := strconv.Atoi(req.URL.Query().Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(req.URL.Query().Get("page")); err == nil && v > 0 {
		page = v
	}
	start := min((page-1)*perPage, len(all))
	end := min(start+perPage, len(all))
	if end < len(all) {
		next := fmt.Sprintf("%s/releases?per_page=%d&page=%d", s.URL, perPage, page+1)
		last := fmt.Sprintf("%s/releases?per_page=%d&page=%d", s.URL, perPage, (len(all)+perPage-1)/perPage)
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="last"`, next, last))
	}
	out := make([]releaseJSON, 0, end-start)
	for _, r := range all[start:end] {
		out = append(out, s.releaseJSON(r))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) serveTag(w http.ResponseWriter, tag string) {
	s.mu.Lock()
	r := s.releases[normalize(tag)]
	s.mu.Unlock()
	if r == nil || r.spec.Draft || !strings.HasPrefix(tag, "v") {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.releaseJSON(r))
}

func (s *Server) serveTarball(w http.ResponseWriter, req *http.Request, tag string) {
	s.mu.Lock()
	r := s.releases[normalize(tag)]
	s.mu.Unlock()
	if r == nil || !strings.HasPrefix(tag, "v") {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-gzip")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%s-v%s-0-g%s.tar.gz", Owner+"-"+Repo, r.spec.Version, CommitID(r.spec.Version)[:7]))
	h.Set("ETag", r.etag)
	http.ServeContent(w, req, "", CommitTime(r.spec.Version), bytes.NewReader(r.tarball))
}

type releaseJSON struct {
	URL             string      `json:"url"`
	HTMLURL         string      `json:"html_url"`
	AssetsURL       string      `json:"assets_url"`
	ID              int64       `json:"id"`
	TagName         string      `json:"tag_name"`
	TargetCommitish string      `json:"target_commitish"`
	Name            string      `json:"name"`
	Draft           bool        `json:"draft"`
	Prerelease      bool        `json:"prerelease"`
	CreatedAt       string      `json:"created_at"`
	PublishedAt     *string     `json:"published_at"`
	Assets          []assetJSON `json:"assets"`
	TarballURL      string      `json:"tarball_url"`
	ZipballURL      string      `json:"zipball_url"`
	Body            string      `json:"body"`
	Author          authorRef   `json:"author"`
}

// assetJSON is a release asset in GitHub's REST shape.
type assetJSON struct {
	URL                string    `json:"url"`
	ID                 int64     `json:"id"`
	Name               string    `json:"name"`
	Label              string    `json:"label"`
	Uploader           authorRef `json:"uploader"`
	ContentType        string    `json:"content_type"`
	State              string    `json:"state"`
	Size               int64     `json:"size"`
	Digest             string    `json:"digest"`
	DownloadCount      int       `json:"download_count"`
	CreatedAt          string    `json:"created_at"`
	UpdatedAt          string    `json:"updated_at"`
	BrowserDownloadURL string    `json:"browser_download_url"`
}

type authorRef struct {
	Login string `json:"login"`
	Type  string `json:"type"`
}

func (s *Server) releaseJSON(r *release) releaseJSON {
	sum := sha256.Sum256([]byte(r.spec.Version))
	id := int64(binary.BigEndian.Uint32(sum[:4]) & 0x7fffffff)
	tag := "v" + r.spec.Version
	created := r.spec.PublishedAt.UTC().Add(-time.Hour).Format(time.RFC3339)
	var published *string
	if !r.spec.Draft {
		p := r.spec.PublishedAt.UTC().Format(time.RFC3339)
		published = &p
	}
	return releaseJSON{
		URL:             fmt.Sprintf("%s/releases/%d", s.URL, id),
		HTMLURL:         fmt.Sprintf("https://github.com/%s/%s/releases/tag/%s", Owner, Repo, tag),
		AssetsURL:       fmt.Sprintf("%s/releases/%d/assets", s.URL, id),
		ID:              id,
		TagName:         tag,
		TargetCommitish: "master",
		Name:            tag,
		Draft:           r.spec.Draft,
		Prerelease:      r.spec.Prerelease,
		CreatedAt:       created,
		PublishedAt:     published,
		Assets:          s.assetsJSON(r),
		TarballURL:      s.base + RepoPath + "/tarball/" + tag,
		ZipballURL:      s.base + RepoPath + "/zipball/" + tag,
		Body:            "Sample connector " + tag + " served by adldapctl's testfeed.",
		Author:          authorRef{Login: "testfeed", Type: "User"},
	}
}

// DownloadPath is the URL path under which the server serves asset bytes,
// as github.com does: DownloadPath + "/vX.Y.Z/NAME".
const DownloadPath = "/" + Owner + "/" + Repo + "/releases/download"

// AssetURL is the browser_download_url of the asset name of version v.
func (s *Server) AssetURL(v, name string) string {
	return s.base + DownloadPath + "/v" + normalize(v) + "/" + url.PathEscape(name)
}

// AssetSHA256 returns the hex sha256 of the asset name of version v (""
// if unknown).
func (s *Server) AssetSHA256(v, name string) string {
	if a := s.asset(v, name); a != nil {
		return a.sha256
	}
	return ""
}

func (s *Server) asset(v, name string) *releaseAsset {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.releases[normalize(v)]
	if r == nil {
		return nil
	}
	for _, a := range r.assets {
		if a.spec.Name == name {
			return a
		}
	}
	return nil
}

func (s *Server) assetsJSON(r *release) []assetJSON {
	out := make([]assetJSON, 0, len(r.assets))
	at := r.spec.PublishedAt.UTC().Add(-30 * time.Minute).Format(time.RFC3339)
	for _, a := range r.assets {
		out = append(out, assetJSON{
			URL:                fmt.Sprintf("%s/releases/assets/%d", s.URL, a.id),
			ID:                 a.id,
			Name:               a.spec.Name,
			Uploader:           authorRef{Login: "testfeed", Type: "User"},
			ContentType:        a.spec.ContentType,
			State:              "uploaded",
			Size:               int64(len(a.spec.Data)),
			Digest:             "sha256:" + a.sha256,
			CreatedAt:          at,
			UpdatedAt:          at,
			BrowserDownloadURL: s.AssetURL(r.spec.Version, a.spec.Name),
		})
	}
	return out
}

// serveDownload serves rest = "vX.Y.Z/NAME" (drafts included: GitHub
// serves a draft's assets to those who can see it).
func (s *Server) serveDownload(w http.ResponseWriter, req *http.Request, rest string) {
	tag, name, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(tag, "v") {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	a := s.asset(tag, name)
	if a == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	s.serveAssetBytes(w, req, tag, a)
}

func (s *Server) serveAssetBytes(w http.ResponseWriter, req *http.Request, v string, a *releaseAsset) {
	h := w.Header()
	h.Set("Content-Type", a.spec.ContentType)
	h.Set("Content-Disposition", "attachment; filename="+a.spec.Name)
	h.Set("ETag", a.etag)
	http.ServeContent(w, req, "", CommitTime(v), bytes.NewReader(a.spec.Data))
}

// serveAssetAPI serves the asset whose id is idText: its JSON, or its
// bytes when the client asks for application/octet-stream.
func (s *Server) serveAssetAPI(w http.ResponseWriter, req *http.Request, idText string) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	for _, r := range s.sorted() {
		for i, a := range r.assets {
			if a.id != id {
				continue
			}
			if strings.Contains(req.Header.Get("Accept"), "application/octet-stream") {
				s.serveAssetBytes(w, req, r.spec.Version, a)
				return
			}
			writeJSON(w, http.StatusOK, s.assetsJSON(r)[i])
			return
		}
	}
	writeError(w, http.StatusNotFound, "Not Found")
}

// checkAssetName refuses names GitHub would not keep as they are.
func checkAssetName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 ||
		strings.ContainsAny(name, "/\\\x00") || strings.TrimSpace(name) != name {
		return fmt.Errorf("bad asset name %q", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("bad asset name %q", name)
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{
		"message":           msg,
		"documentation_url": "https://docs.github.com/rest/releases/releases",
	})
}

// countingWriter counts body bytes and, when limit >= 0, drops the
// connection after limit bytes.
type countingWriter struct {
	http.ResponseWriter
	n     int64
	limit int64
	code  int
}

func (c *countingWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	if c.limit >= 0 && c.n+int64(len(b)) > c.limit {
		k := c.limit - c.n
		n, _ := c.ResponseWriter.Write(b[:k])
		c.n += int64(n)
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // drops the connection; net/http does not log it
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) status() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}

var _ http.Handler = (*Server)(nil)
