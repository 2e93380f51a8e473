package updater

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// RetryPolicy says how Fetch retries a download that failed for a reason
// that may go away: a connection that could not be made or was cut, a
// timeout, HTTP 408, 429 or 5xx. Each retry resumes from the bytes already
// on disk when the server allows it (see Fetch). Other failures (any other
// 4xx, a failed verification, a full disk, a TLS or certificate error, a
// refused redirect) are never retried.
//
// The zero value is the default: 3 attempts, waiting about 0.5 s and then
// 1 s between them.
type RetryPolicy struct {
	// Attempts is the number of tries, the first included: 1 means no
	// retry, 0 means 3.
	Attempts int
	// Delay is the wait before the first retry; it doubles for each
	// further one, with up to 20% of jitter added. 0 means 500 ms.
	Delay time.Duration
	// MaxDelay caps every wait, a server's Retry-After included. 0 means
	// 30 s.
	MaxDelay time.Duration
	// Sleep waits d, or until ctx is done and then returns ctx.Err().
	// nil means a real timer; tests inject one that does not wait.
	Sleep func(ctx context.Context, d time.Duration) error
}

const (
	defaultAttempts = 3
	defaultDelay    = 500 * time.Millisecond
	defaultMaxDelay = 30 * time.Second
)

func (p RetryPolicy) attempts() int {
	if p.Attempts <= 0 {
		return defaultAttempts
	}
	return p.Attempts
}

// delay is the wait after failed attempt number `failed` (1-based); a
// server's Retry-After (retryAfter > 0) lengthens it, never shortens it.
func (p RetryPolicy) delay(failed int, retryAfter time.Duration) time.Duration {
	base, limit := p.Delay, p.MaxDelay
	if base <= 0 {
		base = defaultDelay
	}
	if limit <= 0 {
		limit = defaultMaxDelay
	}
	d := base
	for i := 1; i < failed && d < limit; i++ {
		d *= 2
	}
	d += time.Duration(rand.Int64N(int64(d)/5 + 1))
	return min(max(d, retryAfter), limit)
}

func (p RetryPolicy) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// transientError marks a failure worth retrying. Its text is the cause's.
type transientError struct {
	err        error
	retryAfter time.Duration // from the server's Retry-After; 0 if none
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err error) error { return &transientError{err: err} }

func isTransient(err error) bool {
	var te *transientError
	return errors.As(err, &te)
}

func retryAfterOf(err error) time.Duration {
	var te *transientError
	if errors.As(err, &te) {
		return te.retryAfter
	}
	return 0
}

// incompleteError is a body that ended before the size the server
// announced: a cut connection. It is transient (the next attempt resumes);
// when no attempt is left it becomes a verification failure (a truncated
// download), and the partial is not kept.
type incompleteError struct {
	got, want int64 // want < 0: the server announced no size
	cause     error
}

func (e *incompleteError) Error() string {
	if e.want < 0 {
		return fmt.Sprintf("truncated after %d bytes: %v", e.got, e.cause)
	}
	return fmt.Sprintf("truncated after %d of %d bytes", e.got, e.want)
}

func (e *incompleteError) Unwrap() error { return e.cause }

// permanentError marks a failure that no retry can fix even though its
// type alone would not say so (a refused redirect).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// retryableStatus reports whether an HTTP status may go away on its own.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests ||
		code >= 500 && code <= 599
}

// retryableTransport reports whether an error from http.Client.Do (no
// response) is worth retrying: connection refused, reset or timed out are;
// a TLS or certificate problem, an unknown host name, a refused redirect or
// a proxy that refused the credentials are not.
func retryableTransport(err error) bool {
	var (
		pe  *permanentError
		dns *net.DNSError
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		he  x509.HostnameError
		cie x509.CertificateInvalidError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
		pse *proxyStatusError
	)
	switch {
	case errors.As(err, &pe), errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &he),
		errors.As(err, &cie), errors.As(err, &rhe), errors.As(err, &ae):
		return false
	case errors.As(err, &pse):
		return retryableStatus(pse.code)
	case errors.As(err, &dns):
		return !dns.IsNotFound
	}
	return true
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when
// absent or unparsable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// proxyStatusError is a proxy's refusal of a CONNECT tunnel (for https://
// targets), with its status code. net/http reports that refusal only as
// the status text ("Proxy Authentication Required", no code, no type);
// onProxyConnectResponse turns it into this typed error.
type proxyStatusError struct {
	code   int
	status string // "407 Proxy Authentication Required"
	proxy  string // redacted proxy URL
}

func (e *proxyStatusError) Error() string {
	msg := fmt.Sprintf("proxy %s refused the tunnel: HTTP %s", e.proxy, e.status)
	if e.code == http.StatusProxyAuthRequired {
		msg += ": check the proxy user name and password (percent-encode special characters)"
	}
	return msg
}

// onProxyConnectResponse is an http.Transport.OnProxyConnectResponse hook
// that reports a refused CONNECT with its status code and without the
// proxy password.
func onProxyConnectResponse(_ context.Context, proxyURL *url.URL, _ *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return &proxyStatusError{code: resp.StatusCode, status: resp.Status, proxy: proxyURL.Redacted()}
}
