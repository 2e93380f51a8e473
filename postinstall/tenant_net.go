package postinstall

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/redact"
)

// Phase names the step of a connection that failed, in the words of the
// diagnosis.
type Phase string

// Phases of reaching the tenant or the hub, in order.
const (
	PhaseConfig  Phase = "config"
	PhaseDNS     Phase = "DNS"
	PhaseConnect Phase = "TCP connect"
	PhaseProxy   Phase = "proxy CONNECT"
	PhaseTLS     Phase = "TLS"
	PhaseHTTP    Phase = "HTTP"
	PhaseUpgrade Phase = "WebSocket upgrade"
)

// phaseError is a failure of one phase, with a message free of secrets.
type phaseError struct {
	Phase  Phase
	Status int // proxy CONNECT or HTTP status, when there was one
	Msg    string
	Err    error
}

func (e *phaseError) Error() string { return string(e.Phase) + ": " + e.Msg }
func (e *phaseError) Unwrap() error { return e.Err }

// effectiveProxy is the proxy the connector uses: HTTP_PROXY of its
// service environment beats config.json's, and it is used for https too.
// src says where it came from ("" no proxy).
func effectiveProxy(env *Env) (u *url.URL, src string, err error) {
	raw := ""
	if v := strings.TrimSpace(env.ServiceEnv[connector.ProxyKey]); v != "" {
		raw, src = v, "service environment"
	} else if env.Config != nil {
		if v := strings.TrimSpace(env.Config.String(connector.ProxyKey)); v != "" {
			raw, src = v, "config.json"
		}
	}
	if raw == "" {
		return nil, "", nil
	}
	u, err = connector.ParseProxy(raw)
	if err != nil {
		return nil, src, err
	}
	return u, src, nil
}

// tenantURL is https://<tenant> from PROVISIONING_TICKET
// (https://HOST/p/ad/TICKET). The ticket itself is a secret: errors never
// quote it.
func tenantURL(env *Env) (*url.URL, error) {
	if env.Config == nil {
		return nil, errors.New("config.json could not be read (see config.valid)")
	}
	t := strings.TrimSpace(env.Config.String("PROVISIONING_TICKET"))
	if t == "" {
		return nil, errors.New("config.json has no PROVISIONING_TICKET")
	}
	u, err := url.Parse(t)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("PROVISIONING_TICKET is not an https://TENANT/p/ad/TICKET URL")
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// ticketURL is the whole PROVISIONING_TICKET URL (a secret: never shown).
func ticketURL(env *Env) (*url.URL, error) {
	if _, err := tenantURL(env); err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimSpace(env.Config.String("PROVISIONING_TICKET")))
	if err != nil {
		return nil, errors.New("PROVISIONING_TICKET is not a URL")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// session is one connection to a tenant-side host, opened the way the
// connector opens it: through its proxy (CONNECT for https and ws(s), as
// its tunnel agent does), TLS unverified here and classified separately.
type session struct {
	conn    net.Conn
	br      *bufio.Reader
	target  *url.URL
	proxy   *url.URL
	certs   []*x509.Certificate // what the server (or an intercepting proxy) presented
	tlsConn *tls.Conn
	stop    func() bool
}

func (s *session) Close() {
	if s.stop != nil {
		s.stop()
	}
	_ = s.conn.Close() // the probe is done with it
}

// hostPort is u's host with its default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	switch u.Scheme {
	case "https", "wss":
		return net.JoinHostPort(u.Hostname(), "443")
	default:
		return net.JoinHostPort(u.Hostname(), "80")
	}
}

// dialPhased opens a TCP connection to addr, naming DNS and connect
// failures apart.
func dialPhased(ctx context.Context, addr, what string) (net.Conn, *phaseError) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &phaseError{Phase: PhaseConfig, Msg: fmt.Sprintf("%s address %q: %v", what, addr, err), Err: err}
	}
	ips := []string{host}
	if net.ParseIP(host) == nil {
		ips, err = net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			return nil, &phaseError{Phase: PhaseDNS, Msg: fmt.Sprintf("cannot resolve %s %s: %v", what, host, cleanNetErr(err)), Err: err}
		}
	}
	var d net.Dialer
	var last error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
		if err == nil {
			return c, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &phaseError{Phase: PhaseConnect, Msg: fmt.Sprintf("cannot connect to %s %s: %v", what, addr, cleanNetErr(last)), Err: last}
}

// why is err in words, or the timeout when ctx ended (the connection was
// closed under the read).
func why(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return "no answer before the timeout (the peer accepted the connection and never answered)"
	}
	return cleanNetErr(err)
}

// probeContext ends a little before ctx, so that a check names the phase
// that hung before the engine's own timeout answers for it.
func probeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := time.Until(dl) / 20
	if margin > 300*time.Millisecond {
		margin = 300 * time.Millisecond
	}
	return context.WithDeadline(ctx, dl.Add(-margin))
}

// cleanNetErr drops Go's "dial tcp a->b:" prefixes, keeping the reason.
func cleanNetErr(err error) string {
	if err == nil {
		return "unknown error"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Err
	}
	return err.Error()
}

// open connects to target (https/wss get TLS) through proxy when non-nil.
// ctx bounds every phase: the connection is closed when it ends.
func open(ctx context.Context, target, proxy *url.URL) (*session, *phaseError) {
	s := &session{target: target, proxy: proxy}
	addr := hostPort(target)
	if proxy != nil {
		c, perr := dialPhased(ctx, hostPort(proxy), "proxy")
		if perr != nil {
			return nil, perr
		}
		s.conn = c
	} else {
		c, perr := dialPhased(ctx, addr, "host")
		if perr != nil {
			return nil, perr
		}
		s.conn = c
	}
	s.stop = context.AfterFunc(ctx, func() { _ = s.conn.Close() }) // unblocks reads at the deadline
	fail := func(pe *phaseError) (*session, *phaseError) {
		s.Close()
		return nil, pe
	}
	if proxy != nil {
		if proxy.Scheme == "https" {
			tc := tls.Client(s.conn, &tls.Config{ServerName: proxy.Hostname()})
			if err := tc.HandshakeContext(ctx); err != nil {
				return fail(&phaseError{Phase: PhaseProxy, Msg: fmt.Sprintf("TLS to the https proxy %s: %s", proxy.Host, why(ctx, err)), Err: err})
			}
			s.conn = tc
		}
		s.br = bufio.NewReader(s.conn)
		req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
		if proxy.User != nil {
			pw, _ := proxy.User.Password()
			req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(proxy.User.Username()+":"+pw)))
		}
		if err := req.Write(s.conn); err != nil {
			return fail(&phaseError{Phase: PhaseProxy, Msg: fmt.Sprintf("sending CONNECT %s to proxy %s: %s", addr, proxy.Host, why(ctx, err)), Err: err})
		}
		resp, err := http.ReadResponse(s.br, req)
		if err != nil {
			return fail(&phaseError{Phase: PhaseProxy, Msg: fmt.Sprintf("proxy %s did not answer CONNECT %s: %s", proxy.Host, addr, why(ctx, err)), Err: err})
		}
		_ = resp.Body.Close() // a CONNECT answer has no body we need
		if resp.StatusCode != http.StatusOK {
			msg := fmt.Sprintf("proxy %s refused CONNECT %s: %s", proxy.Host, addr, resp.Status)
			if resp.StatusCode == http.StatusProxyAuthRequired {
				msg = fmt.Sprintf("proxy %s answered 407 Proxy Authentication Required to CONNECT %s", proxy.Host, addr)
				if proxy.User == nil {
					msg += " (no credentials are configured)"
				} else {
					msg += " (the configured credentials were refused)"
				}
			}
			return fail(&phaseError{Phase: PhaseProxy, Status: resp.StatusCode, Msg: msg})
		}
		if s.br.Buffered() > 0 {
			return fail(&phaseError{Phase: PhaseProxy, Msg: "proxy sent data after its CONNECT answer"})
		}
	}
	if target.Scheme == "https" || target.Scheme == "wss" {
		// Verification is done by the caller with the connector's trust,
		// so that a failure can be named the way Node names it.
		tc := tls.Client(s.conn, &tls.Config{
			ServerName:         target.Hostname(),
			InsecureSkipVerify: true, //nolint:gosec // verified by verifyChain with the connector's roots
			NextProtos:         []string{"http/1.1"},
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(&phaseError{Phase: PhaseTLS, Msg: fmt.Sprintf("TLS handshake with %s: %s", target.Host, why(ctx, err)), Err: err})
		}
		s.conn, s.tlsConn = tc, tc
		s.certs = tc.ConnectionState().PeerCertificates
	}
	s.br = bufio.NewReader(s.conn)
	return s, nil
}

// roundTrip sends req on s and reads the answer's head; it returns the
// times just before the write and just after the head arrived.
func (s *session) roundTrip(ctx context.Context, env *Env, req *http.Request) (*http.Response, time.Time, time.Time, *phaseError) {
	t0 := env.now()
	if err := req.Write(s.conn); err != nil {
		return nil, t0, t0, &phaseError{Phase: PhaseHTTP, Msg: fmt.Sprintf("sending %s %s: %s", req.Method, safePath(req.URL), why(ctx, err)), Err: err}
	}
	resp, err := http.ReadResponse(s.br, req)
	t1 := env.now()
	if err != nil {
		msg := fmt.Sprintf("no HTTP answer to %s %s: %s", req.Method, safePath(req.URL), why(ctx, err))
		return nil, t0, t1, &phaseError{Phase: PhaseHTTP, Msg: msg, Err: err}
	}
	return resp, t0, t1, nil
}

// safePath is a URL's path for messages: a ticket path is never shown.
func safePath(u *url.URL) string {
	if strings.Contains(u.Path, "/p/ad/") {
		return "<PROVISIONING_TICKET>" + u.Path[strings.LastIndex(u.Path, "/"):]
	}
	return u.Path
}

// newGET is a GET of u for a session (path only on the wire, Host set).
func newGET(ctx context.Context, u *url.URL) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil) // u is a parsed URL
	req.Header.Set("User-Agent", "adldapctl-verify")
	return req
}

// readBody reads at most n bytes of a body.
func readBody(r io.Reader, n int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, n))
}

// proxyDesc describes the proxy for details, password masked.
func proxyDesc(p *url.URL, src string) string {
	if p == nil {
		return "none (direct)"
	}
	return redact.URL(p.String()) + " (from " + src + ")"
}
