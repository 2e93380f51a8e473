package updater

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// noWait is the default retry policy without the waiting; it records the
// waits it was asked for in *waits (when not nil).
func noWait(waits *[]time.Duration) RetryPolicy {
	return RetryPolicy{Sleep: func(ctx context.Context, d time.Duration) error {
		if waits != nil {
			*waits = append(*waits, d)
		}
		return ctx.Err()
	}}
}

// startFeed serves release 6.4.1 with body as its source tarball.
func startFeed(t *testing.T, body []byte) (*testfeed.Server, Artifact) {
	t.Helper()
	s, err := testfeed.Start("", []testfeed.ReleaseSpec{{Version: "6.4.1", Tarball: body}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, Artifact{Name: "ad-ldap-connector-v6.4.1.tar.gz", URL: s.TarballURL("6.4.1")}
}

func TestFetchRetries503(t *testing.T) {
	body := payload(50_000)
	s, a := startFeed(t, body)
	s.Inject(a.URL, 1, testfeed.Fault{Status: http.StatusServiceUnavailable})
	var waits []time.Duration
	var logs []string
	d := &Downloader{Retry: noWait(&waits), Logf: func(f string, args ...any) { logs = append(logs, fmt.Sprintf(f, args...)) }}
	res, err := d.Fetch(context.Background(), a, t.TempDir(), VerifyOptions{SHA256: sum(body)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != "user-sha256" || s.Requests(a.URL) != 2 || len(waits) != 1 {
		t.Errorf("Result %+v after %d requests, %d waits; want success on the second request", res, s.Requests(a.URL), len(waits))
	}
	if waits[0] < 500*time.Millisecond || waits[0] > 600*time.Millisecond {
		t.Errorf("first wait = %s, want 0.5 s plus up to 20%% jitter", waits[0])
	}
	if all := strings.Join(logs, "\n"); !strings.Contains(all, "503") || !strings.Contains(all, "retrying") {
		t.Errorf("logs should say why and that it retries:\n%s", all)
	}
}

func TestFetchRetryStatuses(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{
		{408, true}, {429, true}, {500, true}, {502, true}, {503, true}, {504, true},
		{400, false}, {401, false}, {403, false}, {404, false}, {407, false}, {410, false},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			var hits int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits++
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			dir := t.TempDir()
			u := srv.URL + "/x.msi"
			_, err := (&Downloader{Retry: noWait(nil)}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: u}, dir, VerifyOptions{})
			if err == nil || !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), strconv.Itoa(tc.status)) {
				t.Fatalf("err = %v, want the URL and the status", err)
			}
			want := 1
			if tc.retry {
				want = 3
				if !strings.Contains(err.Error(), "3 attempts") {
					t.Errorf("err = %v, want the number of attempts", err)
				}
			}
			if hits != want {
				t.Errorf("%d requests, want %d", hits, want)
			}
			if errors.Is(err, ErrVerification) {
				t.Error("an HTTP error is not a verification failure")
			}
			assertEmpty(t, dir)
		})
	}
}

func TestFetchRetryAfter(t *testing.T) {
	body := payload(1000)
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if hits == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	var waits []time.Duration
	d := &Downloader{Retry: noWait(&waits)}
	if _, err := d.Fetch(context.Background(), Artifact{Name: "x.msi", URL: srv.URL}, t.TempDir(), VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] != 7*time.Second {
		t.Errorf("waits = %v, want the server's Retry-After of 7s", waits)
	}
}

func TestFetchSingleAttempt(t *testing.T) {
	s, a := startFeed(t, payload(1000))
	s.Inject(a.URL, 1, testfeed.Fault{Status: http.StatusBadGateway})
	_, err := (&Downloader{Retry: RetryPolicy{Attempts: 1}}).Fetch(context.Background(), a, t.TempDir(), VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), "502") || strings.Contains(err.Error(), "attempts") {
		t.Fatalf("err = %v, want a plain 502", err)
	}
	if s.Requests(a.URL) != 1 {
		t.Errorf("Attempts: 1 made %d requests", s.Requests(a.URL))
	}
}

func TestFetchCancelDuringBackoff(t *testing.T) {
	s, a := startFeed(t, payload(1000))
	s.Inject(a.URL, 5, testfeed.Fault{Status: http.StatusServiceUnavailable})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := (&Downloader{Retry: RetryPolicy{Delay: time.Minute}}).Fetch(ctx, a, t.TempDir(), VerifyOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("cancelling took %s; the backoff wait must stop with the context", time.Since(start))
	}
}

func TestRetryPolicyDelay(t *testing.T) {
	var p RetryPolicy
	if p.attempts() != 3 || (RetryPolicy{Attempts: 1}).attempts() != 1 {
		t.Errorf("attempts: default %d", p.attempts())
	}
	for _, tc := range []struct {
		policy     RetryPolicy
		failed     int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{p, 1, 0, 500 * time.Millisecond, 600 * time.Millisecond},
		{p, 2, 0, time.Second, 1200 * time.Millisecond},
		{p, 3, 0, 2 * time.Second, 2400 * time.Millisecond},
		{p, 20, 0, 30 * time.Second, 30 * time.Second},
		{p, 1, 5 * time.Second, 5 * time.Second, 5 * time.Second},
		{p, 1, time.Hour, 30 * time.Second, 30 * time.Second},
		{RetryPolicy{Delay: time.Second, MaxDelay: 3 * time.Second}, 3, 0, 3 * time.Second, 3 * time.Second},
	} {
		for i := 0; i < 20; i++ {
			if d := tc.policy.delay(tc.failed, tc.retryAfter); d < tc.lo || d > tc.hi {
				t.Errorf("%+v.delay(%d, %s) = %s, want within [%s, %s]", tc.policy, tc.failed, tc.retryAfter, d, tc.lo, tc.hi)
				break
			}
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"12", 12 * time.Second}, {"-1", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		if got := retryAfter(h, now); got != tc.want {
			t.Errorf("Retry-After %q: %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestRetryableTransport(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}, true},
		{"timeout", context.DeadlineExceeded, true},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "feed.invalid", IsNotFound: true}, false},
		{"DNS server failure", &net.DNSError{Err: "server misbehaving", Name: "feed.example", IsTemporary: true}, true},
		{"refused redirect", &url.Error{Op: "Get", URL: "https://x", Err: &permanentError{errors.New("redirect: refusing plain http")}}, false},
		{"proxy 407", &proxyStatusError{code: 407, status: "407 Proxy Authentication Required"}, false},
		{"proxy 502", &proxyStatusError{code: 502, status: "502 Bad Gateway"}, true},
	} {
		if got := retryableTransport(fmt.Errorf("download x: %w", tc.err)); got != tc.want {
			t.Errorf("%s: retryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOnProxyConnectResponse(t *testing.T) {
	pu, _ := url.Parse("http://svc:s3cret@proxy.example:3128")
	if err := onProxyConnectResponse(context.Background(), pu, nil, &http.Response{StatusCode: 200, Status: "200 Connection established"}); err != nil {
		t.Fatalf("200: %v", err)
	}
	err := onProxyConnectResponse(context.Background(), pu, nil, &http.Response{StatusCode: 407, Status: "407 Proxy Authentication Required"})
	if err == nil || !strings.Contains(err.Error(), "407") || !strings.Contains(err.Error(), "password") ||
		!strings.Contains(err.Error(), "proxy.example:3128") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("407: %v", err)
	}
	if retryableTransport(err) {
		t.Error("a refused proxy login must not be retried")
	}
}
