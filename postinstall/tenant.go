package postinstall

import (
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the connector's thumbprint is SHA-1
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

var (
	_ Check = clockSkew{}
	_ Check = tenantReach{}
	_ Check = tenantHub{}
	_ Check = tenantTLS{}
	_ Check = certsThumbprint{}
)

func tenantChecks() []Check {
	return []Check{clockSkew{}, tenantReach{}, tenantHub{}, tenantTLS{}, certsThumbprint{}}
}

// Fixes named in remediations.
const (
	fixProxy   = "check the proxy: adldapctl proxy show, then adldapctl proxy set http://HOST:PORT (or proxy clear to go direct)"
	fixTicket  = "set PROVISIONING_TICKET in config.json to the ticket URL shown in the Auth0 dashboard (Connections → Enterprise → AD/LDAP → Setup)"
	defaultHub = "https://login.auth0.com/lo/hub"
)

// tenantSetup is what every tenant-side check starts from.
type tenantSetup struct {
	tenant   *url.URL
	proxy    *url.URL
	proxySrc string
}

func setup(env *Env) (*tenantSetup, *Outcome) {
	tu, err := tenantURL(env)
	if err != nil {
		o := Failed(err.Error(), fixTicket)
		return nil, &o
	}
	p, src, err := effectiveProxy(env)
	if err != nil {
		o := Failed(fmt.Sprintf("the connector's proxy (from %s) is unusable: %v", src, err), fixProxy).With("tenant", tu.Host)
		return nil, &o
	}
	return &tenantSetup{tenant: tu, proxy: p, proxySrc: src}, nil
}

// phaseFailure turns a phaseError into an outcome naming the phase.
func (s *tenantSetup) phaseFailure(what string, pe *phaseError) Outcome {
	fix := fixProxy
	switch pe.Phase {
	case PhaseDNS:
		fix = "make the host resolvable from this server (DNS), or set a proxy that can reach it: adldapctl proxy set http://HOST:PORT"
		if s.proxy != nil {
			fix = "the proxy's host name does not resolve: fix DNS or give the proxy by IP with adldapctl proxy set"
		}
	case PhaseConnect:
		fix = "open outbound TCP to it in the firewall, or go through the site's proxy: adldapctl proxy set http://HOST:PORT"
		if s.proxy != nil {
			fix = "the proxy does not accept connections: check its address with adldapctl proxy show, or set the right one with adldapctl proxy set"
		}
	case PhaseProxy:
		if pe.Status == http.StatusProxyAuthRequired {
			fix = "put the proxy's user name and password in the proxy URL (adldapctl proxy set) or ask for the connector's host to be allowed without authentication; the connector's tunnel agent may not send credentials"
		} else {
			fix = "ask the proxy's administrators to allow CONNECT to " + hostPort(s.tenant) + " for this server"
		}
	case PhaseTLS:
		fix = "see tenant.tls; a proxy that intercepts TLS must be exempted or its CA imported with adldapctl certs import"
	case PhaseHTTP, PhaseUpgrade:
		fix = "an answer other than the expected one usually means a proxy or firewall in the way: exempt the tenant's host from inspection"
	}
	o := Failed(fmt.Sprintf("%s failed at %s: %s", what, pe.Phase, pe.Msg), fix)
	o = o.With("phase", string(pe.Phase)).With("proxy", proxyDesc(s.proxy, s.proxySrc))
	if pe.Status != 0 {
		o = o.With("status", pe.Status)
	}
	return o
}

// tlsFailure is the outcome of a chain that does not verify.
func (s *tenantSetup) tlsFailure(v chainVerdict, host string) Outcome {
	diag := fmt.Sprintf("the certificate of %s does not verify with the connector's trust: %s: %s", host, v.Code, v.Reason)
	var fix string
	switch v.Code {
	case nodeSelfSignedInCh, nodeIssuerLocally, nodeDepthZero:
		top := v.Chain[len(v.Chain)-1]
		fix = fmt.Sprintf("if this CA is yours, trust it: adldapctl certs import --from-url https://%s --fingerprint %s (check that fingerprint out of band first)", host, fingerprint(top))
	case nodeLeafSignature:
		fix = fmt.Sprintf("get the CA certificate of %q (from whoever runs the server or proxy) and run adldapctl certs import FILE, or have the server send its intermediate certificate", v.MissingIssuer)
	case nodeExpired, nodeNotYetValid:
		fix = "check this server's clock (clock.skew); if it is right, the certificate presented must be renewed by whoever runs it"
	default:
		fix = "the certificate presented does not belong to " + host + ": a proxy or DNS entry in the way"
	}
	if s.proxy != nil && v.Code != nodeExpired && v.Code != nodeNotYetValid {
		diag += fmt.Sprintf("; a proxy is in the path (%s): this is what a TLS-intercepting proxy looks like", proxyDesc(s.proxy, s.proxySrc))
		fix = "the proxy intercepts TLS: ask for " + host + " to be exempted from inspection, or " + fix
	}
	o := Failed(diag, fix).With("node_error", v.Code).With("proxy", proxyDesc(s.proxy, s.proxySrc))
	if v.MissingIssuer != "" {
		o = o.With("missing_issuer", v.MissingIssuer)
	}
	var subjects []string
	for _, c := range v.Chain {
		subjects = append(subjects, c.Subject.String())
	}
	return o.With("presented_chain", strings.Join(subjects, " ← "))
}

// connect opens a verified session to target: phase failures and chain
// failures come back as outcomes.
func (s *tenantSetup) connect(ctx context.Context, env *Env, what string, target *url.URL) (*session, *Outcome) {
	tr, err := connectorTrust(env)
	if err != nil {
		o := Failed(fmt.Sprintf("cannot read the connector's trusted CAs: %v", err), "fix SSL_CA_PATH in config.json, or the OS store (adldapctl certs list)")
		return nil, &o
	}
	sess, pe := open(ctx, target, s.proxy)
	if pe != nil {
		o := s.phaseFailure(what, pe)
		return nil, &o
	}
	if sess.tlsConn != nil {
		if v := verifyChain(sess.certs, target.Hostname(), tr, env.now()); !v.OK {
			sess.Close()
			o := s.tlsFailure(v, target.Host)
			o.Diagnosis = fmt.Sprintf("%s failed at TLS: %s", what, o.Diagnosis)
			o = o.With("phase", string(PhaseTLS))
			return nil, &o
		}
	}
	return sess, nil
}

// tenantReach: GET https://<tenant>/test through the connector's proxy.
type tenantReach struct{}

func (tenantReach) ID() string     { return "tenant.reach" }
func (tenantReach) Title() string  { return "Auth0 tenant reachable (/test)" }
func (tenantReach) Deps() []string { return nil }
func (tenantReach) Run(ctx context.Context, env *Env) Outcome {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	s, bad := setup(env)
	if bad != nil {
		return *bad
	}
	u := *s.tenant
	u.Path = "/test"
	sess, bad := s.connect(ctx, env, "GET "+u.String(), &u)
	if bad != nil {
		return bad.With("tenant", s.tenant.Host)
	}
	defer sess.Close()
	resp, t0, t1, pe := sess.roundTrip(ctx, env, newGET(ctx, &u))
	if pe != nil {
		return s.phaseFailure("GET "+u.String(), pe).With("tenant", s.tenant.Host)
	}
	_ = resp.Body.Close() // only the status matters
	o := Passed(fmt.Sprintf("%s answered %s in %v via %s", u.String(), resp.Status, t1.Sub(t0).Round(1e6), proxyDesc(s.proxy, s.proxySrc)))
	if resp.StatusCode != http.StatusOK {
		o = Failed(fmt.Sprintf("tenant.reach failed at HTTP: %s answered %s", u.String(), resp.Status),
			"an answer other than 200 from /test usually means a proxy or firewall page: check the proxy and the tenant's host name in PROVISIONING_TICKET").
			With("phase", string(PhaseHTTP)).With("status", resp.StatusCode)
	}
	if o.Status == Pass && s.proxy != nil && s.proxy.User != nil {
		// The connector's tunnel agent passes only the proxy's host and
		// port: ask as it would, without the credentials.
		anon := *s.proxy
		anon.User = nil
		if as, pe := open(ctx, &u, &anon); pe == nil {
			as.Close()
		} else if pe.Phase == PhaseProxy && pe.Status == http.StatusProxyAuthRequired {
			o = Warned(o.Diagnosis+"; but only with the proxy credentials: without them the proxy answers 407, and the connector's tunnel agent passes only the proxy's host and port, so the connector itself may be refused",
				"ask for this server (or the tenant's host) to be allowed through the proxy without authentication, then adldapctl proxy set http://HOST:PORT").
				With("proxy_auth_required", true)
		}
	}
	return o.With("tenant", s.tenant.Host).With("proxy", proxyDesc(s.proxy, s.proxySrc)).With("rtt_ms", t1.Sub(t0).Milliseconds())
}

// tenantTLS: the chain the tenant (or a proxy) presents, with the
// connector's trust.
type tenantTLS struct{}

func (tenantTLS) ID() string     { return "tenant.tls" }
func (tenantTLS) Title() string  { return "Tenant certificate trusted as the connector trusts" }
func (tenantTLS) Deps() []string { return nil }
func (tenantTLS) Run(ctx context.Context, env *Env) Outcome {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	s, bad := setup(env)
	if bad != nil {
		return *bad
	}
	tr, err := connectorTrust(env)
	if err != nil {
		return Failed(fmt.Sprintf("cannot read the connector's trusted CAs: %v", err), "fix SSL_CA_PATH in config.json, or the OS store (adldapctl certs list)")
	}
	target := *s.tenant
	if target.Scheme != "https" {
		return Skipped("the tenant URL is not https")
	}
	sess, pe := open(ctx, &target, s.proxy)
	if pe != nil {
		return s.phaseFailure("TLS to "+target.Host, pe).With("tenant", target.Host)
	}
	sess.Close()
	now := env.now()
	v := verifyChain(sess.certs, target.Hostname(), tr, now)
	if !v.OK {
		return s.tlsFailure(v, target.Host).With("tenant", target.Host).With("trust", tr.source())
	}
	o := Passed(fmt.Sprintf("the certificate of %s verifies to %q with the connector's trust", target.Host, v.Root.Subject.String()))
	if s.proxy != nil && !publicRoot(sess.certs, now) {
		o = Warned(fmt.Sprintf("the certificate of %s verifies only through the private root %q while a proxy is in the path (%s): a TLS-intercepting proxy",
			target.Host, v.Root.Subject.String(), proxyDesc(s.proxy, s.proxySrc)),
			"works while that root stays trusted; ask for "+target.Host+" to be exempted from TLS inspection, or keep the root imported: adldapctl certs import --from-url https://"+target.Host+" --fingerprint "+fingerprint(v.Root)).
			With("intercepted", true)
	}
	return o.With("tenant", target.Host).With("root", v.Root.Subject.String()).With("root_sha256", fingerprint(v.Root)).
		With("trust", tr.source()).With("proxy", proxyDesc(s.proxy, s.proxySrc))
}

// certsThumbprint: certs/cert.pem against GET <ticket>/info.
type certsThumbprint struct{}

func (certsThumbprint) ID() string     { return "certs.thumbprint" }
func (certsThumbprint) Title() string  { return "Connector certificate known to the tenant" }
func (certsThumbprint) Deps() []string { return nil }
func (certsThumbprint) Run(ctx context.Context, env *Env) Outcome {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	if env.Platform == nil {
		return Skipped("no platform paths")
	}
	certFile := filepath.Join(env.Platform.Paths.InstallDir, "certs", "cert.pem")
	data, err := os.ReadFile(certFile)
	if err != nil {
		return Failed(fmt.Sprintf("cannot read the connector's certificate %s: %v", certFile, err),
			"restore certs/ from the backup (adldapctl rollback), or re-run the connector's setup with a new ticket")
	}
	c, _ := nextCert(data)
	if c == nil {
		return Failed(certFile+" holds no PEM certificate", "restore certs/cert.pem from the backup, or re-run the connector's setup with a new ticket")
	}
	sum := sha1.Sum(c.Raw) //nolint:gosec // the connector's thumbprint
	local := strings.ToUpper(hex.EncodeToString(sum[:]))

	s, bad := setup(env)
	if bad != nil {
		return bad.With("local_thumbprint", local)
	}
	tu, err := ticketURL(env)
	if err != nil {
		return Failed(err.Error(), fixTicket)
	}
	info := *tu
	info.Path += "/info"
	sess, bad := s.connect(ctx, env, "GET <PROVISIONING_TICKET>/info", &info)
	if bad != nil {
		return bad.With("local_thumbprint", local)
	}
	defer sess.Close()
	resp, _, _, pe := sess.roundTrip(ctx, env, newGET(ctx, &info))
	if pe != nil {
		return s.phaseFailure("GET <PROVISIONING_TICKET>/info", pe).With("local_thumbprint", local)
	}
	body, err := readBody(resp.Body, 1<<20)
	_ = resp.Body.Close() // read already
	if resp.StatusCode != http.StatusOK {
		return Failed(fmt.Sprintf("GET <PROVISIONING_TICKET>/info answered %s", resp.Status),
			"the ticket may be revoked or mistyped: "+fixTicket).With("status", resp.StatusCode).With("local_thumbprint", local)
	}
	var doc struct {
		Thumbprints []string `json:"thumbprints"`
	}
	if err != nil || json.Unmarshal(body, &doc) != nil {
		return Failed("GET <PROVISIONING_TICKET>/info did not answer JSON (a proxy page?)", fixProxy).With("local_thumbprint", local)
	}
	if len(doc.Thumbprints) == 0 {
		return Failed("the tenant knows no certificate for this connector (thumbprints is empty)",
			"re-run the connector's setup so that it registers certs/cert.pem with the tenant").With("local_thumbprint", local)
	}
	remote := normThumb(doc.Thumbprints[0])
	o := Passed("certs/cert.pem (SHA-1 " + local + ") is the certificate the tenant knows")
	if remote != local {
		o = Failed(fmt.Sprintf("certs/cert.pem has thumbprint %s but the tenant expects %s: the connector signs with a certificate the tenant does not know", local, remote),
			"restore the certs/ folder that was registered with the tenant (adldapctl rollback keeps it), or re-run the connector's setup with a new ticket to register this one")
	}
	return o.With("local_thumbprint", local).With("tenant_thumbprint", remote).With("tenant", s.tenant.Host)
}

// normThumb is a thumbprint upper-case without colons or spaces.
func normThumb(s string) string {
	return strings.ToUpper(strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s)))
}

// tenantHub: a WebSocket upgrade to AD_HUB.
type tenantHub struct{}

func (tenantHub) ID() string     { return "tenant.hub" }
func (tenantHub) Title() string  { return "WebSocket to the hub (AD_HUB)" }
func (tenantHub) Deps() []string { return nil }
func (tenantHub) Run(ctx context.Context, env *Env) Outcome {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	s, bad := setup(env)
	if bad != nil {
		return *bad
	}
	raw := defaultHub
	if v := strings.TrimSpace(env.Config.String("AD_HUB")); v != "" {
		raw = v
	}
	hub, err := url.Parse(raw)
	if err != nil || hub.Host == "" {
		return Failed("AD_HUB is not a URL", "set AD_HUB in config.json to the hub URL, or remove it for the default "+defaultHub)
	}
	switch hub.Scheme {
	case "https":
		hub.Scheme = "wss"
	case "http":
		hub.Scheme = "ws"
	case "ws", "wss":
	default:
		return Failed(fmt.Sprintf("AD_HUB has scheme %q", hub.Scheme), "AD_HUB must be an https:// (or http://) URL")
	}
	shown := hub.Scheme + "://" + hub.Host + hub.Path
	sess, bad := s.connect(ctx, env, "WebSocket to "+shown, hub)
	if bad != nil {
		return bad.With("hub", shown)
	}
	defer sess.Close()
	var k [16]byte
	_, _ = rand.Read(k[:]) // never fails
	key := base64.StdEncoding.EncodeToString(k[:])
	hu := *hub
	hu.Scheme = map[string]string{"wss": "https", "ws": "http"}[hub.Scheme]
	req := newGET(ctx, &hu)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", key)
	resp, t0, t1, pe := sess.roundTrip(ctx, env, req)
	if pe != nil {
		pe.Phase = PhaseUpgrade
		return s.phaseFailure("WebSocket to "+shown, pe).With("hub", shown)
	}
	_ = resp.Body.Close() // only the head matters
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return Failed(fmt.Sprintf("WebSocket to %s failed at %s: answered %s instead of 101 Switching Protocols", shown, PhaseUpgrade, resp.Status),
			"a proxy or firewall that does not pass WebSocket upgrades is in the way: allow WebSocket (Upgrade) to "+hub.Host).
			With("phase", string(PhaseUpgrade)).With("status", resp.StatusCode).With("hub", shown)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAccept(key) {
		return Failed(fmt.Sprintf("WebSocket to %s failed at %s: 101 with a wrong Sec-WebSocket-Accept (something in the path answered for the hub)", shown, PhaseUpgrade),
			"a proxy in the path answers the upgrade itself: exempt "+hub.Host+" from inspection").With("phase", string(PhaseUpgrade)).With("hub", shown)
	}
	return Passed(fmt.Sprintf("WebSocket upgrade to %s accepted in %v via %s", shown, t1.Sub(t0).Round(1e6), proxyDesc(s.proxy, s.proxySrc))).
		With("hub", shown).With("proxy", proxyDesc(s.proxy, s.proxySrc))
}

// wsAccept is RFC 6455's Sec-WebSocket-Accept for key.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
	return base64.StdEncoding.EncodeToString(h[:])
}
