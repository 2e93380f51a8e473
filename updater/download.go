package updater

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
)

// ErrVerification is wrapped by every failure to verify a download: digest
// or size mismatch, truncation, a body longer than announced or than the
// cap, a missing digest when one is required, an unsafe artifact name, an
// artifact location not of its feed's kind. The CLI maps it to exit code 4.
var ErrVerification = errors.New("verification failed")

// DefaultMaxDownload is the most Fetch writes of an artifact whose size
// nobody announced (no size from the feed, no Content-Length) when
// Downloader.MaxBytes is 0: 2 GiB, ten times the largest connector
// release.
const DefaultMaxDownload int64 = 2 << 30

// Downloader fetches artifacts into a directory, verifying them on the way.
type Downloader struct {
	Client   *http.Client // nil means http.DefaultClient
	Progress io.Writer    // where progress goes (stderr); nil for none
	TTY      bool         // Progress is a terminal: draw a bar, not lines
	Logf     func(format string, args ...any)
	// Retry says how transient failures are retried within one Fetch;
	// the zero value is 3 attempts with backoff (see RetryPolicy).
	Retry RetryPolicy
	// MaxBytes caps an artifact whose size nobody announced (neither the
	// feed nor the server's Content-Length); 0 means DefaultMaxDownload.
	// An announced size is itself the cap: a body longer than it is
	// refused whatever MaxBytes says.
	MaxBytes int64

	// checkSpace replaces CheckFreeSpace in tests.
	checkSpace func(dir string, need int64) error
	// wrapWriter, when set in tests, wraps the partial's writer (to make
	// the disk look full).
	wrapWriter func(io.Writer) io.Writer
}

// maxBytes is d.MaxBytes or its default.
func (d *Downloader) maxBytes() int64 {
	if d.MaxBytes > 0 {
		return d.MaxBytes
	}
	return DefaultMaxDownload
}

// VerifyOptions says what a download must match beyond the feed's own
// digest and size.
type VerifyOptions struct {
	SHA256        string // hex digest the user gave (--sha256); "" for none
	RequireDigest bool   // fail when neither the feed nor the user has a digest
}

// Result describes a verified download.
type Result struct {
	Path   string
	SHA256 string // hex digest of what was downloaded
	Size   int64
	// Verified names the trust basis: TrustUserSHA256 when the user's
	// --sha256 matched (the feed's digest, if any, matched too), the
	// artifact's Trust (digest or signature) when the feed's digest
	// matched, TrustNone when there was nothing to check against (HTTPS to
	// the feed is then the only trust basis).
	Verified Trust
}

// Fetch downloads a into dir and verifies it. The bytes are streamed to
// dir/<name>.partial and hashed on the way; only when the size and every
// available digest match is the file renamed to dir/<name>. a.URL may be
// https://, http:// to a loopback host, file:// or a local path; when a
// feed named it (a.Feed), it must also be of the feed's kind
// (CheckArtifactOrigin), and a redirect must not change its kind: both
// are refused with ErrVerification before anything is written.
//
// dir is created 0700 when missing and refused when others can write to
// it (platform.EnsureOwnDir). The .partial, its sidecar and the final
// file are adldapctl's own: created 0600, never followed through a
// symbolic link; a link (or any non-regular file) planted at one of
// those names fails the Fetch with an error wrapping
// platform.ErrPlantedLink, and the link and its target are left alone.
//
// Nothing is written past the size announced for the artifact (the
// feed's a.Size, else the server's Content-Length) or, with none
// announced, past d.MaxBytes (DefaultMaxDownload): a longer body is
// stopped and refused with ErrVerification.
//
// When the size is known (from the feed or the server), Fetch first checks
// that dir has room for the rest of the file plus 10%, and fails with an
// error wrapping ErrNoSpace if not.
//
// A remote download that fails for a transient reason (connection refused,
// cut or timed out, HTTP 408, 429, 5xx) is retried as d.Retry says. When
// the server gave a validator (a strong ETag, else Last-Modified), each
// retry resumes after the bytes on disk, with Range and If-Range; a server
// that answers with the whole file instead (it ignores ranges, or the file
// changed) is read again from the start.
//
// When Fetch gives up on a transient failure (retries exhausted on a
// connection error, a timeout or HTTP 408/429/5xx) or its context is
// cancelled, and the download is resumable, the
// .partial is kept with a sidecar dir/<name>.partial.json recording the
// URL, the validator and the size; the next Fetch of the same URL hashes
// the kept bytes and continues after them. The sidecar is written before
// each body, so a process killed mid-download leaves a resumable partial
// too. A body still cut short on the last attempt is a truncated download:
// an error wrapping ErrVerification, and like every other verification
// failure or refusal, and like a full disk (an error wrapping
// ErrNoSpace), it leaves nothing behind: no final file, no .partial, no
// sidecar.
func (d *Downloader) Fetch(ctx context.Context, a Artifact, dir string, vo VerifyOptions) (*Result, error) {
	if err := checkArtifactName(a.Name); err != nil {
		return nil, err
	}
	feedSum, err := normalizeSHA256(a.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: feed digest for %s: %v", ErrVerification, a.Name, err)
	}
	userSum, err := normalizeSHA256(vo.SHA256)
	if err != nil {
		return nil, fmt.Errorf("--sha256: %v", err)
	}
	if feedSum == "" && userSum == "" && vo.RequireDigest {
		return nil, fmt.Errorf("%w: %s has no published digest and --require-digest is set: "+
			"GitHub publishes no digest for source tarballs; get the SHA-256 from a trusted source and pass it with --sha256, or use a signed mirror",
			ErrVerification, a.Name)
	}
	if a.Feed != "" {
		if err := CheckArtifactOrigin(a.Feed, a.URL); err != nil {
			return nil, fmt.Errorf("download %s: %w", a.Name, err)
		}
	}
	remote, local, err := classifyURL(a.URL)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", a.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := platform.EnsureOwnDir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("download %s: %w", a.Name, err)
	}

	final := filepath.Join(dir, a.Name)
	for _, own := range []string{final, final + ".partial", sidecarPath(final + ".partial")} {
		if err := refuseNonRegular(own); err != nil {
			return nil, fmt.Errorf("download %s: %w", a.Name, err)
		}
	}
	dl := &download{
		d:       d,
		a:       a,
		feedSum: feedSum,
		remote:  remote,
		where:   a.URL,
		dir:     dir,
		partial: final + ".partial",
		sidecar: sidecarPath(final + ".partial"),
		h:       sha256.New(),
		total:   -1,
		prog:    nopProgress{},
	}
	if remote != nil {
		dl.where = remote.Redacted()
		err = dl.fetchRemote(ctx)
	} else {
		err = dl.copyLocal(ctx, local)
	}
	dl.prog.done(err == nil)
	if err != nil {
		dl.abandon(err)
		return nil, err
	}

	n := dl.n
	if a.Size > 0 && n != a.Size {
		err = fmt.Errorf("%w: %s: size mismatch: the feed announces %d bytes, got %d", ErrVerification, a.Name, a.Size, n)
	}
	sum := hex.EncodeToString(dl.h.Sum(nil))
	verified := TrustNone
	if err == nil && feedSum != "" {
		if sum != feedSum {
			err = fmt.Errorf("%w: %s: sha256 mismatch: the feed says %s, downloaded file is %s", ErrVerification, a.Name, feedSum, sum)
		}
		verified = a.Trust
		if verified == "" {
			verified = TrustDigest
		}
	}
	if err == nil && userSum != "" {
		if sum != userSum {
			err = fmt.Errorf("%w: %s: sha256 does not match --sha256: expected %s, downloaded file is %s", ErrVerification, a.Name, userSum, sum)
		}
		verified = TrustUserSHA256
	}
	if err == nil {
		err = dl.commit(final)
	}
	if err != nil {
		dl.abandon(err)
		return nil, err
	}
	d.logf("downloaded %s: %d bytes, sha256 %s (verified: %s)", a.Name, n, sum, verified)
	return &Result{Path: final, SHA256: sum, Size: n, Verified: verified}, nil
}

// download is the state of one Fetch.
type download struct {
	d       *Downloader
	a       Artifact
	feedSum string
	remote  *url.URL // nil for a local file
	where   string   // the URL or path for messages, password redacted
	dir     string
	partial string
	sidecar string

	f         *os.File  // the open partial; nil once committed
	h         hash.Hash // of the n bytes in f
	n         int64     // bytes in f
	total     int64     // the whole artifact's size as the server announced it; -1 unknown
	validator string    // If-Range value for the bytes in f; "" when they cannot be resumed
	prog      progress
	spaceFor  int64 // the total free space was last checked for; 0 none
}

// openPartial opens dir/<name>.partial. When resume is set and the
// sidecar shows the partial holds the start of this very artifact, it
// hashes those bytes and continues after them; otherwise the partial
// starts empty.
func (dl *download) openPartial(resume bool) error {
	f, err := platform.OpenOwnFile(dl.partial, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("download %s: %w", dl.a.Name, err)
	}
	dl.f = f
	if err := f.Chmod(0o600); err != nil { // a partial left by an older adldapctl
		return fmt.Errorf("download %s: %w", dl.a.Name, err)
	}
	if st := readPartialState(dl.sidecar); resume && st.matches(dl.a, dl.feedSum) {
		n, err := io.Copy(dl.h, f) // streamed: the partial may be large
		if err == nil && n > 0 && (st.Size < 0 || n < st.Size) {
			dl.n, dl.total, dl.validator = n, st.Size, st.Validator
			dl.d.logf("resuming %s: %s already downloaded", dl.a.Name, formatBytes(n))
			return nil
		}
	}
	return dl.restart()
}

// restart empties the partial and forgets its sidecar.
func (dl *download) restart() error {
	dl.h.Reset()
	dl.n, dl.validator = 0, ""
	dl.prog.set(0)
	_ = os.Remove(dl.sidecar) // best effort: a stale sidecar is checked before use
	if err := dl.f.Truncate(0); err != nil {
		return fmt.Errorf("download %s: %w", dl.a.Name, err)
	}
	if _, err := dl.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("download %s: %w", dl.a.Name, err)
	}
	return nil
}

// abandon cleans up after err: it keeps a resumable partial after an
// interruption and removes the partial and its sidecar otherwise.
func (dl *download) abandon(err error) {
	if dl.f == nil {
		return
	}
	keep := dl.validator != "" && dl.n > 0 && interrupted(err)
	if keep {
		keep = dl.f.Sync() == nil
	}
	dl.f.Close()
	dl.f = nil
	if keep {
		dl.d.logf("kept %s of %s in %s: the next download resumes it", formatBytes(dl.n), dl.a.Name, dl.partial)
		return
	}
	_ = os.Remove(dl.partial) // best effort: the download's own error is what counts
	_ = os.Remove(dl.sidecar)
}

// interrupted reports whether err stopped a download whose bytes so far
// are worth keeping: a transient failure (retries exhausted), a body cut
// short (refused as truncated, but what arrived can be continued next
// time) or a cancelled context. Other verification failures and refusals
// are not: bytes that failed a check are never kept. Nor is anything
// after a full disk: the partial is what fills it.
func interrupted(err error) bool {
	if errors.Is(err, ErrNoSpace) {
		return false
	}
	var ie *incompleteError
	if errors.As(err, &ie) {
		return true
	}
	if errors.Is(err, ErrVerification) {
		return false
	}
	return isTransient(err) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// commit makes the verified partial the final file.
func (dl *download) commit(final string) error {
	if err := dl.f.Sync(); err != nil {
		return fmt.Errorf("download %s: %w", dl.a.Name, err)
	}
	err := dl.f.Close()
	dl.f = nil
	if err == nil {
		// Rename replaces a regular file (an earlier download of the same
		// name) but must not replace, and so hide, a planted link.
		err = refuseNonRegular(final)
	}
	if err == nil {
		err = os.Rename(dl.partial, final)
	}
	_ = os.Remove(dl.sidecar) // best effort: a stale sidecar is checked before use
	if err != nil {
		_ = os.Remove(dl.partial)
		return fmt.Errorf("download %s: %w", dl.a.Name, err)
	}
	return platform.SyncDir(dl.dir)
}

// ensureSpace checks that dir has room for the rest of an artifact of
// total bytes plus 10%, once per announced size. Only a definite lack of
// space is an error.
func (dl *download) ensureSpace(total int64) error {
	if total <= 0 || total == dl.spaceFor {
		return nil
	}
	rest := max(total-dl.n, 0)
	need := rest + rest/10
	check := dl.d.checkSpace
	if check == nil {
		check = CheckFreeSpace
	}
	if err := check(dl.dir, need); err != nil {
		if errors.Is(err, ErrNoSpace) {
			return fmt.Errorf("download %s: %w", dl.a.Name, err)
		}
		dl.d.logf("download %s: cannot tell the free space (%v); going on", dl.a.Name, err)
	}
	dl.spaceFor = total
	return nil
}

// startProgress creates the progress display when the first body starts,
// and moves it to the bytes already on disk.
func (dl *download) startProgress(total int64) {
	if _, ok := dl.prog.(nopProgress); ok && dl.d.Progress != nil {
		if total < 0 && dl.a.Size > 0 {
			total = dl.a.Size
		}
		dl.prog = dl.d.newProgress(dl.a.Name, total)
	}
	dl.prog.set(dl.n)
}

// copyBody appends r to the partial, hashing it on the way and getting
// it to disk in the background, and never more than the announced size,
// or the cap (see limit): a body that goes on is refused with
// ErrVerification. A write or sync failure comes back as writeError
// (ErrNoSpace for a full disk); a read failure as is.
func (dl *download) copyBody(r io.Reader, total int64) error {
	limit, what := dl.limit(total)
	if dl.n > limit {
		return fmt.Errorf("%w: %s: %s holds %d bytes, more than %s", ErrVerification, dl.a.Name, dl.partial, dl.n, what)
	}
	var w io.Writer = fileWriter{dl.f}
	if dl.d.wrapWriter != nil {
		w = dl.d.wrapWriter(w)
	}
	wb := newWriteBehind(dl.f)
	br := &boundedReader{r: r, left: limit - dl.n}
	n, err := pipeCopy(io.MultiWriter(w, wb, dl.prog), dl.h, br)
	if serr := wb.stop(); serr != nil {
		// A failed write-back is reported to one fsync only: it wins over
		// any other error, so the bytes are never kept for a resume.
		err = writeError{serr}
	}
	dl.n += n
	if br.over {
		return fmt.Errorf("%w: %s: %s sends more than %s: stopped after %d bytes", ErrVerification, dl.a.Name, dl.where, what, dl.n)
	}
	var we writeError
	if errors.As(err, &we) {
		if isNoSpace(we.err) {
			return fmt.Errorf("download %s: %w", dl.a.Name, noSpaceError(dl.dir, we.err))
		}
		return fmt.Errorf("download %s: %w", dl.a.Name, we)
	}
	return err
}

// limit returns the most bytes the artifact may have, and what says so:
// the feed's size, else the size the server announced (total, -1 for
// none), else the cap.
func (dl *download) limit(total int64) (int64, string) {
	switch {
	case dl.a.Size > 0:
		return dl.a.Size, fmt.Sprintf("the %d bytes the feed announces", dl.a.Size)
	case total >= 0:
		return total, fmt.Sprintf("the %d bytes the server announced", total)
	}
	m := dl.d.maxBytes()
	return m, fmt.Sprintf("the %s cap for a download of unannounced size (raise it in the tool config or by flag if the artifact is really that large)", formatBytes(m))
}

// boundedReader reads at most left bytes of r; when they are used up it
// looks one read further, and sets over (and fails) if r has more.
type boundedReader struct {
	r    io.Reader
	left int64
	over bool
}

// errOverLimit stops pipeCopy; copyBody reports it.
var errOverLimit = errors.New("body longer than its limit")

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		for range 100 {
			n, err := b.r.Read(one[:])
			if n > 0 {
				b.over = true
				return 0, errOverLimit
			}
			if err != nil {
				return 0, err
			}
		}
		return 0, io.ErrNoProgress
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// fileWriter tells write errors apart from read errors in io.Copy.
type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = writeError{err}
	}
	return n, err
}

type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// copyLocal copies a local artifact: no resume, no retry.
func (dl *download) copyLocal(ctx context.Context, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("download %s: %w", dl.a.Name, err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("download %s: %w", dl.a.Name, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("download %s: %s is not a regular file", dl.a.Name, path)
	}
	if dl.a.Size > 0 && st.Size() != dl.a.Size {
		return fmt.Errorf("%w: %s: the feed announces %d bytes but %s serves %d", ErrVerification, dl.a.Name, dl.a.Size, path, st.Size())
	}
	if err := dl.openPartial(false); err != nil {
		return err
	}
	if err := dl.ensureSpace(st.Size()); err != nil {
		return err
	}
	dl.d.logf("downloading %s from %s", dl.a.Name, path)
	dl.startProgress(st.Size())
	if err := dl.copyBody(ctxReader{ctx, src}, st.Size()); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("download %s: %w", dl.a.Name, cerr)
		}
		if errors.Is(err, ErrNoSpace) || errors.Is(err, ErrVerification) {
			return err
		}
		return fmt.Errorf("download %s from %s: %w", dl.a.Name, path, err)
	}
	if dl.n != st.Size() {
		return fmt.Errorf("%w: %s: %s changed while it was copied: got %d of %d bytes", ErrVerification, dl.a.Name, path, dl.n, st.Size())
	}
	return nil
}

// fetchRemote downloads with retries, resuming where it can.
func (dl *download) fetchRemote(ctx context.Context) error {
	if err := dl.openPartial(true); err != nil {
		return err
	}
	if err := dl.ensureSpace(dl.a.Size); err != nil {
		return err
	}
	dl.d.logf("downloading %s from %s", dl.a.Name, dl.where)
	pol := dl.d.Retry
	attempts := pol.attempts()
	client := permanentRedirects(guardRedirects(dl.d.Client))
	for attempt := 1; ; attempt++ {
		err := dl.attempt(ctx, client)
		if err == nil {
			return nil
		}
		if !isTransient(err) || ctx.Err() != nil {
			return err
		}
		if attempt >= attempts {
			return dl.exhausted(err, attempt)
		}
		wait := pol.delay(attempt, retryAfterOf(err))
		dl.d.logf("%v; retrying in %s (attempt %d of %d)", err, wait.Round(10*time.Millisecond), attempt+1, attempts)
		if err := pol.sleep(ctx, wait); err != nil {
			return fmt.Errorf("download %s: %w", dl.a.Name, err)
		}
	}
}

// exhausted turns the last transient error into the final one. A body
// cut short on the last attempt is a truncated download, which is refused
// as a verification failure.
func (dl *download) exhausted(err error, attempts int) error {
	tries := ""
	if attempts > 1 {
		tries = fmt.Sprintf(" (%d attempts)", attempts)
	}
	var ie *incompleteError
	if errors.As(err, &ie) {
		return fmt.Errorf("%w: %s: download %w from %s%s", ErrVerification, dl.a.Name, ie, dl.where, tries)
	}
	return fmt.Errorf("%w%s", err, tries)
}

// attempt makes one request (two when the server cannot continue the
// partial) and appends its body to the partial.
func (dl *download) attempt(ctx context.Context, client *http.Client) error {
	name := dl.a.Name
	for {
		if dl.n > 0 && dl.validator == "" {
			// Nothing to check a continuation against: start again.
			if err := dl.restart(); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, dl.remote.String(), nil)
		if err != nil {
			return fmt.Errorf("download %s: %w", name, err)
		}
		req.Header.Set("User-Agent", "adldapctl")
		// Ask for the bytes as stored: no transparent decompression, so
		// Content-Length and the digest are about the artifact itself.
		req.Header.Set("Accept-Encoding", "identity")
		ranged := dl.n > 0
		if ranged {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", dl.n))
			req.Header.Set("If-Range", dl.validator)
		}
		resp, err := client.Do(req)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("download %s: %w", name, cerr)
			}
			if errors.Is(err, ErrVerification) { // a refused redirect
				return fmt.Errorf("download %s from %s: %w", name, dl.where, unwrapURLError(err))
			}
			err = fmt.Errorf("download %s: %s cannot be reached: %w", name, dl.where, unwrapURLError(err))
			if retryableTransport(err) {
				return transient(err)
			}
			return err
		}
		total, again, err := dl.accept(resp, ranged)
		if err != nil || again {
			resp.Body.Close()
			if again {
				if err := dl.restart(); err != nil {
					return err
				}
				continue
			}
			return err
		}
		err = dl.readBody(ctx, resp.Body, total)
		resp.Body.Close()
		return err
	}
}

// accept checks a response's status and headers and records the resume
// state. It returns the whole artifact's size (-1 unknown), or again when
// the partial must be dropped and the request made afresh.
func (dl *download) accept(resp *http.Response, ranged bool) (total int64, again bool, err error) {
	name, where := dl.a.Name, resp.Request.URL.Redacted()
	switch code := resp.StatusCode; {
	case code == http.StatusRequestedRangeNotSatisfiable && ranged:
		dl.d.logf("download %s: the server cannot continue at byte %d (HTTP %s); starting again", name, dl.n, resp.Status)
		return 0, true, nil
	case code == http.StatusPartialContent && ranged:
		first, _, t, ok := parseContentRange(resp.Header.Get("Content-Range"))
		et := resp.Header.Get("ETag")
		switch {
		case !ok || first != dl.n:
			dl.d.logf("download %s: the server sent range %q when asked for bytes %d-; starting again", name, resp.Header.Get("Content-Range"), dl.n)
			return 0, true, nil
		case dl.total >= 0 && t >= 0 && t != dl.total,
			et != "" && strings.HasPrefix(dl.validator, `"`) && et != dl.validator:
			dl.d.logf("download %s: the file on the server changed; starting again", name)
			return 0, true, nil
		}
		total = t
		dl.d.logf("download %s: continuing after byte %d", name, dl.n)
	case code >= 200 && code <= 299 && code != http.StatusPartialContent:
		if dl.n > 0 {
			dl.d.logf("download %s: the server sent the whole file (it ignores ranges, or the file changed); starting again", name)
			if err := dl.restart(); err != nil {
				return 0, false, err
			}
		}
		dl.validator = validatorOf(resp)
		total = resp.ContentLength
	default:
		err := fmt.Errorf("download %s: %s: HTTP %s", name, where, resp.Status)
		if code == http.StatusProxyAuthRequired {
			err = fmt.Errorf("%w: the proxy refused the credentials; check the user name and password in the proxy URL", err)
		}
		if retryableStatus(code) {
			return 0, false, &transientError{err: err, retryAfter: retryAfter(resp.Header, time.Now())}
		}
		return 0, false, err
	}
	if dl.a.Size > 0 && total >= 0 && total != dl.a.Size {
		return 0, false, fmt.Errorf("%w: %s: the feed announces %d bytes but %s serves %d", ErrVerification, name, dl.a.Size, where, total)
	}
	dl.total = total
	if dl.validator != "" {
		st := &partialState{URL: redact.URL(dl.a.URL), Validator: dl.validator, Size: total, SHA256: dl.feedSum}
		if err := writePartialState(dl.sidecar, st); err != nil {
			dl.d.logf("download %s: cannot record the resume state (%v); this download will not be resumable", name, err)
			dl.validator = ""
		}
	} else {
		_ = os.Remove(dl.sidecar) // best effort: a stale sidecar is checked before use
	}
	if err := dl.ensureSpace(total); err != nil {
		return 0, false, err
	}
	return total, false, nil
}

// readBody appends a response body. A body that ends early (a cut
// connection) is a transient incompleteError.
func (dl *download) readBody(ctx context.Context, body io.Reader, total int64) error {
	dl.startProgress(total)
	err := dl.copyBody(body, total)
	var we writeError
	switch {
	case err == nil:
		if total >= 0 && dl.n < total {
			err = io.ErrUnexpectedEOF
		} else {
			return nil
		}
	case ctx.Err() != nil:
		return fmt.Errorf("download %s: %w", dl.a.Name, ctx.Err())
	case errors.Is(err, ErrNoSpace), errors.Is(err, ErrVerification), errors.As(err, &we):
		return err
	}
	return transient(fmt.Errorf("download %s from %s: %w", dl.a.Name, dl.where,
		&incompleteError{got: dl.n, want: total, cause: unwrapURLError(err)}))
}

// permanentRedirects marks a refused redirect so that it is not retried,
// and one guardRedirects refused (it changes the artifact's kind) as a
// verification failure. c is a copy made by guardRedirects.
func permanentRedirects(c *http.Client) *http.Client {
	check := c.CheckRedirect
	if check == nil {
		return c
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := check(req, via); err != nil && err != http.ErrUseLastResponse {
			var re *refusedRedirectError
			if errors.As(err, &re) {
				err = fmt.Errorf("%w: %w", ErrVerification, err)
			}
			return &permanentError{err}
		} else if err != nil {
			return err
		}
		return nil
	}
	return c
}

func (d *Downloader) logf(format string, args ...any) {
	if d.Logf != nil {
		d.Logf(format, args...)
	}
}

// ctxReader stops a local copy when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.ReadCloser
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c ctxReader) Close() error { return c.r.Close() }

// checkArtifactName refuses names that are not a plain file name: the
// name comes from the feed and decides where bytes are written.
func checkArtifactName(name string) error {
	switch {
	case name == "", name == ".", name == "..",
		strings.ContainsAny(name, `/\:`+"\x00"),
		strings.HasPrefix(name, "."):
		return fmt.Errorf("%w: unsafe artifact name %q", ErrVerification, name)
	}
	return nil
}

// normalizeSHA256 accepts "<hex>" or "sha256:<hex>" and returns lower-case
// hex, or "" for "".
func normalizeSHA256(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if algo, rest, ok := strings.Cut(s, ":"); ok {
		if !strings.EqualFold(algo, "sha256") {
			return "", fmt.Errorf("unsupported digest algorithm %q (want sha256)", algo)
		}
		s = rest
	}
	s = strings.ToLower(s)
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%q is not a SHA-256 digest (64 hex characters)", s)
	}
	return s, nil
}
