package postinstall

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ldapConn is a connection to LDAP_URL made the way the connector makes
// it, closed when the check's context ends.
type ldapConn struct {
	*ldap.Conn
	ctx         context.Context
	addr        string    // host:port as dialled
	tlsSummary  string    // "TLS 1.3, CN=..., issued by ..." (ldaps)
	notAfter    time.Time // the server certificate's expiry (ldaps)
	trustSource string    // where the trusted CAs came from (ldaps)
	deadline    time.Time // requests time out here (go-ldap says so with a plain network error)
	stop        func() bool
}

func (c *ldapConn) Close() {
	c.stop()
	_ = c.Conn.Close() // read-only checks: nothing to lose
}

// lost reports whether err is the connection failing (closed, timed out)
// rather than an LDAP result from the server.
func (c *ldapConn) lost(err error) bool {
	var lerr *ldap.Error
	return c.ctx.Err() != nil || !errors.As(err, &lerr) || lerr.ResultCode == ldap.ErrorNetwork
}

// noAnswer is the outcome of a connection that went silent or broke
// during what.
func (c *ldapConn) noAnswer(what string, err error) Outcome {
	if c.ctx.Err() != nil || isTimeout(err) || !time.Now().Before(c.deadline) {
		return Failed(fmt.Sprintf("connected to %s, but the server never answered %s before the timeout (phase: LDAP)", c.addr, what),
			"check that this port is the directory's LDAP port (389 plain, 636 ldaps) and that no firewall or load balancer holds the connection; a rerun with a longer --timeout tells a slow server from a dead one").
			With("phase", "LDAP").With("address", c.addr)
	}
	return Failed(fmt.Sprintf("connected to %s, but the connection failed during %s: %v (phase: LDAP)", c.addr, what, err),
		"check that LDAP_URL names an LDAP server on the right port (389 plain, 636 ldaps)").
		With("phase", "LDAP").With("address", c.addr)
}

// ldapPhaseError is a connection that failed before LDAP was spoken.
type ldapPhaseError struct {
	Phase  string // DNS, TCP, TLS
	Diag   string
	Fix    string
	Detail map[string]any
}

func (p *ldapPhaseError) outcome() Outcome {
	o := Failed(p.Diag+" (phase: "+p.Phase+")", p.Fix).With("phase", p.Phase)
	for k, v := range p.Detail {
		o = o.With(k, v)
	}
	return o
}

// dialLDAP connects to s's server: DNS, TCP, then TLS for ldaps:// with
// the connector's trust. Each failure names its phase.
func dialLDAP(ctx context.Context, env *Env, s *ldapSettings) (*ldapConn, *ldapPhaseError) {
	deadline := time.Now().Add(ldapTimeoutLeft(ctx))
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ip := net.ParseIP(s.Host)
	if ip == nil {
		ips, err := net.DefaultResolver.LookupIPAddr(dctx, s.Host)
		if err != nil || len(ips) == 0 {
			why := "no address"
			var de *net.DNSError
			switch {
			case errors.As(err, &de) && de.IsNotFound:
				why = "no such host"
			case err != nil && (isTimeout(err) || dctx.Err() != nil):
				why = "the DNS server did not answer in time"
			case err != nil:
				why = err.Error()
			}
			return nil, &ldapPhaseError{Phase: "DNS", Diag: fmt.Sprintf("cannot resolve %s (LDAP_URL): %s", s.Host, why),
				Fix: "check the host name in LDAP_URL and this server's DNS settings (it must resolve the domain's names)"}
		}
		// The connector asks Node for IPv4 first.
		ip = ips[0].IP
		for _, a := range ips {
			if a.IP.To4() != nil {
				ip = a.IP
				break
			}
		}
	}
	addr := net.JoinHostPort(ip.String(), s.Port)
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, connectError(s, addr, err, dctx.Err() != nil)
	}
	_ = raw.SetDeadline(deadline) // a silent peer fails the phase, not the engine
	c := &ldapConn{ctx: ctx, addr: net.JoinHostPort(s.Host, s.Port), deadline: deadline}
	conn := raw
	if s.TLS() {
		tr, err := connectorTrust(env)
		if err != nil {
			_ = raw.Close()
			return nil, &ldapPhaseError{Phase: "TLS", Diag: "cannot read the connector's trusted CAs: " + err.Error(),
				Fix: "fix SSL_CA_PATH in config.json (a folder of .pem/.crt/.cer files), or remove it to use the system store"}
		}
		source := tr.source()
		c.trustSource = source
		cfg, verr := connectorTLSConfig(tr, s.Host, env.now())
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = raw.Close()
			return nil, tlsError(s, c.addr, source, err, *verr, dctx.Err() != nil)
		}
		st := tc.ConnectionState()
		c.tlsSummary = fmt.Sprintf("%s, %s, issued by %s, valid until %s", tls.VersionName(st.Version),
			st.PeerCertificates[0].Subject, st.PeerCertificates[0].Issuer, st.PeerCertificates[0].NotAfter.Format("2006-01-02"))
		c.notAfter = st.PeerCertificates[0].NotAfter
		conn = tc
	}
	lc := ldap.NewConn(conn, s.TLS())
	lc.Start()
	lc.SetTimeout(time.Until(deadline))
	c.Conn = lc
	c.stop = context.AfterFunc(ctx, func() { _ = lc.Close() })
	return c, nil
}

// connectorTLSConfig verifies the server's chain against the connector's
// trust only, as Node does with its ca list; *verr holds why it refused.
func connectorTLSConfig(tr *trust, host string, now time.Time) (cfg *tls.Config, verr **tlsVerifyError) {
	verr = new(*tlsVerifyError)
	return &tls.Config{
		ServerName:         serverName(host),
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below, against the connector's CAs only
		VerifyConnection: func(cs tls.ConnectionState) error {
			v := verifyChain(cs.PeerCertificates, host, tr, now)
			if v.OK {
				return nil
			}
			err := &tlsVerifyError{NodeCode: v.Code, Issuer: v.MissingIssuer, Err: errors.New(v.Reason)}
			*verr = err
			return err
		},
	}, verr
}

// tryStartTLS upgrades c with StartTLS and says how that went, for an
// admin weighing ldaps:// (the connector itself never uses StartTLS).
func (c *ldapConn) tryStartTLS(env *Env, host string) string {
	tr, err := connectorTrust(env)
	if err != nil {
		return "offered (the connector's CAs cannot be read: " + err.Error() + ")"
	}
	cfg, verr := connectorTLSConfig(tr, host, env.now())
	err = c.StartTLS(cfg)
	// slapd answers operationsError ("cannot start TLS when operations are
	// outstanding") while it is still retiring the root DSE read it has
	// just answered: a moment later the same request goes through.
	for i := 0; i < 5 && ldap.IsErrorWithCode(err, ldap.LDAPResultOperationsError) && *verr == nil; i++ {
		time.Sleep(time.Duration(20<<i) * time.Millisecond)
		err = c.StartTLS(cfg)
	}
	if err != nil {
		if *verr != nil {
			return fmt.Sprintf("offered, but the certificate is not trusted by the connector (%s, issuer %q)", (*verr).NodeCode, (*verr).Issuer)
		}
		return "offered, but failed: " + err.Error()
	}
	return "offered, certificate trusted by the connector"
}

func serverName(host string) string {
	if net.ParseIP(host) != nil {
		return ""
	}
	return host
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func connectError(s *ldapSettings, addr string, err error, timedOut bool) *ldapPhaseError {
	p := &ldapPhaseError{Phase: "TCP", Detail: map[string]any{"address": addr}}
	switch {
	case isConnRefused(err):
		p.Diag = fmt.Sprintf("connection to %s refused: nothing listens on port %s there", addr, s.Port)
		p.Fix = "check the port in LDAP_URL (389 for ldap://, 636 for ldaps://) and that the directory service runs on " + s.Host
	case timedOut || isTimeout(err):
		p.Diag = fmt.Sprintf("connecting to %s timed out: no answer to the TCP handshake", addr)
		p.Fix = "a firewall between this server and " + s.Host + " drops the traffic: open TCP " + s.Port + " to it"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		p.Diag = fmt.Sprintf("%s is unreachable from this server: %v", addr, err)
		p.Fix = "check routing from this server to " + s.Host
	default:
		p.Diag = fmt.Sprintf("cannot connect to %s: %v", addr, err)
		p.Fix = "check LDAP_URL and the network path to " + s.Host
	}
	return p
}

func tlsAnswer(err error) string {
	if errors.As(err, new(tls.RecordHeaderError)) {
		return "data that is not TLS"
	}
	return "a closed connection"
}

// tlsVerifyError is a certificate the connector would not accept, with
// Node's name for the failure.
type tlsVerifyError struct {
	NodeCode string
	Issuer   string
	Err      error
}

func (e *tlsVerifyError) Error() string { return e.NodeCode + ": " + e.Err.Error() }

func tlsError(s *ldapSettings, addr, source string, err error, verr *tlsVerifyError, timedOut bool) *ldapPhaseError {
	p := &ldapPhaseError{Phase: "TLS", Detail: map[string]any{"address": addr, "trust": source}}
	switch {
	case verr != nil:
		p.Detail["node_error"] = verr.NodeCode
		switch verr.NodeCode {
		case "ERR_TLS_CERT_ALTNAME_INVALID":
			p.Diag = fmt.Sprintf("%s's certificate does not name %s (%v)", addr, s.Host, verr.Err)
			p.Fix = "use in LDAP_URL a host name the certificate names, or reissue the domain controller's certificate with that name"
		case "CERT_HAS_EXPIRED":
			p.Diag = fmt.Sprintf("%s's certificate has expired (%v)", addr, verr.Err)
			p.Fix = "renew the domain controller's LDAPS certificate"
		default:
			p.Diag = fmt.Sprintf("%s's certificate is not trusted by the connector (%s): issuer %q is not among its CAs (%s)", addr, verr.NodeCode, verr.Issuer, source)
			p.Fix = "import the CA that issued the LDAP server's certificate (" + verr.Issuer + "): adldapctl certs import CA.pem, then restart the connector: adldapctl service restart"
		}
	case timedOut || isTimeout(err):
		p.Diag = fmt.Sprintf("%s accepted the connection but never completed a TLS handshake", addr)
		p.Fix = "check that this port serves LDAPS (636); a plain LDAP port (389) needs ldap:// in LDAP_URL"
	case errors.As(err, new(tls.RecordHeaderError)) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		p.Diag = fmt.Sprintf("%s does not speak TLS: it answered the TLS hello with %s (plain LDAP on this port?)", addr, tlsAnswer(err))
		p.Fix = "use ldap:// for this port, or the LDAPS port (636) with ldaps://"
	default:
		p.Diag = fmt.Sprintf("TLS handshake with %s failed: %v", addr, err)
		p.Fix = "check the domain controller's LDAPS certificate and TLS settings (TLS 1.2 or newer)"
	}
	return p
}
