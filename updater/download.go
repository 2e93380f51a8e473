package updater

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrVerification is wrapped by every failure to verify a download: digest
// or size mismatch, truncation, a missing digest when one is required, an
// unsafe artifact name. The CLI maps it to exit code 4.
var ErrVerification = errors.New("verification failed")

// Downloader fetches artifacts into a directory, verifying them on the way.
type Downloader struct {
	Client   *http.Client // nil means http.DefaultClient
	Progress io.Writer    // where progress goes (stderr); nil for none
	TTY      bool         // Progress is a terminal: draw a bar, not lines
	Logf     func(format string, args ...any)
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
	// Verified names the trust basis: "user-sha256" when the user's
	// --sha256 matched (the feed's digest, if any, matched too), "digest"
	// when the feed's digest matched, "none" when there was nothing to
	// check against (HTTPS to the feed is then the only trust basis).
	Verified string
}

// Fetch downloads a into dir and verifies it. The bytes are streamed to
// dir/<name>.partial and hashed on the way; only when the size and every
// available digest match is the file renamed to dir/<name>. On failure
// nothing is left behind (no final file, no .partial). a.URL may be
// https://, http:// to a loopback host, file:// or a local path.
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
	remote, local, err := classifyURL(a.URL)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", a.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	src, expected, err := d.open(ctx, remote, local)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", a.Name, err)
	}
	defer src.Close()
	where := a.URL
	if remote != nil {
		where = remote.Redacted()
	}
	if a.Size > 0 && expected >= 0 && expected != a.Size {
		return nil, fmt.Errorf("%w: %s: the feed announces %d bytes but %s serves %d", ErrVerification, a.Name, a.Size, where, expected)
	}
	total := expected
	if total < 0 && a.Size > 0 {
		total = a.Size
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("download %s: %w", a.Name, err)
	}
	final := filepath.Join(dir, a.Name)
	partial := final + ".partial"
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", a.Name, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(partial)
		}
	}()

	d.logf("downloading %s from %s", a.Name, where)
	prog := d.newProgress(a.Name, total)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h, prog), src)
	prog.done(err == nil)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("download %s: %w", a.Name, cerr)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			of := ""
			if expected >= 0 {
				of = fmt.Sprintf(" of %d", expected)
			}
			return nil, fmt.Errorf("%w: %s: download truncated after %d%s bytes from %s", ErrVerification, a.Name, n, of, where)
		}
		return nil, fmt.Errorf("download %s from %s: %w", a.Name, where, unwrapURLError(err))
	}
	if expected >= 0 && n != expected {
		return nil, fmt.Errorf("%w: %s: download truncated: got %d of %d bytes from %s", ErrVerification, a.Name, n, expected, where)
	}
	if a.Size > 0 && n != a.Size {
		return nil, fmt.Errorf("%w: %s: size mismatch: the feed announces %d bytes, got %d", ErrVerification, a.Name, a.Size, n)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	verified := "none"
	if feedSum != "" {
		if sum != feedSum {
			return nil, fmt.Errorf("%w: %s: sha256 mismatch: the feed says %s, downloaded file is %s", ErrVerification, a.Name, feedSum, sum)
		}
		verified = "digest"
	}
	if userSum != "" {
		if sum != userSum {
			return nil, fmt.Errorf("%w: %s: sha256 does not match --sha256: expected %s, downloaded file is %s", ErrVerification, a.Name, userSum, sum)
		}
		verified = "user-sha256"
	}

	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("download %s: %w", a.Name, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("download %s: %w", a.Name, err)
	}
	if err := os.Rename(partial, final); err != nil {
		return nil, fmt.Errorf("download %s: %w", a.Name, err)
	}
	ok = true
	syncDir(dir)
	d.logf("downloaded %s: %d bytes, sha256 %s (verified: %s)", a.Name, n, sum, verified)
	return &Result{Path: final, SHA256: sum, Size: n, Verified: verified}, nil
}

// open starts reading the artifact and returns its length, or -1 when
// unknown.
func (d *Downloader) open(ctx context.Context, remote *url.URL, local string) (io.ReadCloser, int64, error) {
	if remote == nil {
		f, err := os.Open(local)
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		if !st.Mode().IsRegular() {
			f.Close()
			return nil, 0, fmt.Errorf("%s is not a regular file", local)
		}
		return ctxReader{ctx, f}, st.Size(), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, remote.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("User-Agent", "adldapctl")
	// Ask for the bytes as stored: no transparent decompression, so
	// Content-Length and the digest are about the artifact itself.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := guardRedirects(d.Client).Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, 0, cerr
		}
		return nil, 0, fmt.Errorf("%s cannot be reached: %w", req.URL.Redacted(), unwrapURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("%s: HTTP %s", resp.Request.URL.Redacted(), resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
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

// syncDir makes a rename durable where the OS allows syncing a directory
// (not on Windows, where the error is ignored).
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}
