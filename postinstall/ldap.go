package postinstall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The LDAP checks talk to the directory the way the connector does
// (lib/ldap.js, lib/users.js of auth0/ad-ldap-connector): LDAP_URL as is
// (ldaps:// with the connector's CA list, ldap:// in clear: it never uses
// StartTLS), a simple bind as LDAP_BIND_USER, and its own search filters
// with "{0}" replaced by an escaped value.
func ldapChecks() []Check {
	return []Check{ldapDiscover{}, ldapReach{}, ldapBind{}, ldapSearch{}}
}

// The connector's defaults (lib/initConf.js) for the keys the checks read.
const (
	defUserByName   = "(sAMAccountName={0})"
	defSearchAll    = "(objectCategory=person)"
	defSearchGroups = "(member:1.2.840.113556.1.4.1941:={0})"
	defListGroups   = "(objectCategory=group)"
	defHeartbeat    = "(&(objectclass=user)(|(sAMAccountName=foo)(UserPrincipalName=foo)))"
	defGroupsTimout = 20 // GROUPS_TIMEOUT_SECONDS
)

// ldapSettings is what the connector reads from its configuration for
// LDAP. nconf gives the process environment precedence over config.json,
// so a key set in the service environment wins here too.
type ldapSettings struct {
	URL          string
	Scheme       string // ldap or ldaps
	Host, Port   string
	Base         string
	GroupsBase   string // LDAP_BASE_GROUPS, else LDAP_BASE
	BindUser     string
	Anonymous    bool // ANONYMOUS_SEARCH_ENABLED
	UserByName   string
	SearchAll    string
	SearchGroups string
	ListGroups   string
	Heartbeat    string // LDAP_HEARTBEAT_SEARCH_QUERY
	Groups       bool   // GROUPS (default true)
	GroupsTime   int    // GROUPS_TIMEOUT_SECONDS
}

func (s *ldapSettings) TLS() bool { return s.Scheme == "ldaps" }

func (s *ldapSettings) Addr() string { return net.JoinHostPort(s.Host, s.Port) }

// cfgValue returns key's value as a string: the service environment first,
// then config.json (non-string JSON values as their JSON text).
func (e *Env) cfgValue(key string) (string, bool) {
	if v, ok := e.ServiceEnv[key]; ok {
		return v, true
	}
	if e.Config == nil {
		return "", false
	}
	raw, ok := e.Config.Raw(key)
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return strings.TrimSpace(string(raw)), true
}

func (e *Env) cfgString(key, def string) string {
	if v, ok := e.cfgValue(key); ok && v != "" {
		return v
	}
	return def
}

func (e *Env) cfgBool(key string, def bool) bool {
	v, ok := e.cfgValue(key)
	if !ok || v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "false", "0", "no", "null":
		return false
	}
	return true
}

// errNoLDAPConfig is returned when the connector has no LDAP settings yet.
var errNoLDAPConfig = errors.New("no LDAP settings")

// ldapConfig reads the settings. A missing config or LDAP_URL is
// errNoLDAPConfig (the check skips); a malformed URL is another error (the
// check fails: the connector cannot connect either).
func ldapConfig(env *Env) (*ldapSettings, error) {
	if env.Config == nil && len(env.ServiceEnv) == 0 {
		return nil, fmt.Errorf("%w: config.json was not read (see config.valid)", errNoLDAPConfig)
	}
	s := &ldapSettings{
		URL:          strings.TrimSpace(env.cfgString("LDAP_URL", "")),
		Base:         env.cfgString("LDAP_BASE", ""),
		BindUser:     env.cfgString("LDAP_BIND_USER", ""),
		Anonymous:    env.cfgBool("ANONYMOUS_SEARCH_ENABLED", false),
		UserByName:   env.cfgString("LDAP_USER_BY_NAME", defUserByName),
		SearchAll:    env.cfgString("LDAP_SEARCH_ALL_QUERY", defSearchAll),
		SearchGroups: env.cfgString("LDAP_SEARCH_GROUPS", defSearchGroups),
		ListGroups:   env.cfgString("LDAP_SEARCH_LIST_GROUPS_QUERY", defListGroups),
		Heartbeat:    env.cfgString("LDAP_HEARTBEAT_SEARCH_QUERY", defHeartbeat),
		Groups:       env.cfgBool("GROUPS", true),
		GroupsTime:   defGroupsTimout,
	}
	s.GroupsBase = env.cfgString("LDAP_BASE_GROUPS", s.Base)
	if n, err := strconv.Atoi(env.cfgString("GROUPS_TIMEOUT_SECONDS", "")); err == nil && n > 0 {
		s.GroupsTime = n
	}
	if s.URL == "" {
		return s, fmt.Errorf("%w: LDAP_URL is not set in config.json (the connector's setup has not been run)", errNoLDAPConfig)
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return s, fmt.Errorf("LDAP_URL %q does not parse: %v", s.URL, err)
	}
	s.Scheme = strings.ToLower(u.Scheme)
	switch s.Scheme {
	case "ldap":
		s.Port = "389"
	case "ldaps":
		s.Port = "636"
	default:
		return s, fmt.Errorf("LDAP_URL %q has scheme %q: the connector needs ldap:// or ldaps://", s.URL, u.Scheme)
	}
	s.Host = u.Hostname()
	if p := u.Port(); p != "" {
		s.Port = p
	}
	if s.Host == "" {
		return s, fmt.Errorf("LDAP_URL %q names no host", s.URL)
	}
	return s, nil
}

// settingsOutcome turns a ldapConfig error into the check's outcome.
func settingsOutcome(err error) Outcome {
	if errors.Is(err, errNoLDAPConfig) {
		return Skipped(err.Error())
	}
	return Failed(err.Error(), "set LDAP_URL in config.json to ldap://HOST:389 or ldaps://HOST:636 (a domain controller or the domain's DNS name) and restart the connector: adldapctl service restart")
}

// ---- ldap.discover

type ldapDiscover struct{}

func (ldapDiscover) ID() string     { return "ldap.discover" }
func (ldapDiscover) Title() string  { return "Domain controllers found in DNS" }
func (ldapDiscover) Deps() []string { return nil }

// srvTarget is one answer of a SRV lookup.
type srvTarget struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

func (ldapDiscover) Run(ctx context.Context, env *Env) Outcome {
	s, err := ldapConfig(env)
	domain := ""
	if s != nil {
		domain = ldapDomain(s.Base, s.Host)
	}
	if domain == "" {
		if err != nil {
			return settingsOutcome(err)
		}
		return Skipped("no domain to look up: LDAP_BASE has no DC= parts and LDAP_URL's host is an address")
	}
	r := net.DefaultResolver
	server := "the system resolver"
	if env.Resolver != "" {
		server = env.Resolver
		addr := env.Resolver
		r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	}
	names := []string{"_ldap._tcp.dc._msdcs." + domain, "_ldap._tcp." + domain}
	var lookErrs []string
	for _, name := range names {
		// Each name gets part of the time: a silent DNS server makes this
		// a warning, not the engine's timeout.
		lctx, cancel := context.WithTimeout(ctx, ldapTimeoutLeft(ctx)/time.Duration(len(names)))
		_, srvs, err := r.LookupSRV(lctx, "", "", name+".")
		cancel()
		if err != nil {
			var de *net.DNSError
			switch {
			case errors.As(err, &de) && de.IsNotFound:
			case errors.As(err, &de) && de.IsTimeout, isTimeout(err):
				lookErrs = append(lookErrs, name+": no answer")
			case errors.As(err, &de):
				lookErrs = append(lookErrs, name+": "+de.Err) // without the resolv.conf server Go names
			default:
				lookErrs = append(lookErrs, fmt.Sprintf("%s: %v", name, err))
			}
			continue
		}
		var targets []srvTarget
		var shown []string
		for _, srv := range srvs {
			t := srvTarget{Host: strings.TrimSuffix(srv.Target, "."), Port: int(srv.Port)}
			targets = append(targets, t)
			shown = append(shown, net.JoinHostPort(t.Host, strconv.Itoa(t.Port)))
		}
		out := Passed(fmt.Sprintf("%s lists %d domain controller(s): %s", name, len(targets), strings.Join(shown, ", "))).
			With("domain", domain).With("record", name).With("targets", targets).With("resolver", server)
		if s != nil && s.Host != "" {
			out = out.With("ldap_url_host_listed", hostListed(s.Host, targets))
		}
		return out
	}
	diag := fmt.Sprintf("no SRV record for %s or %s at %s", names[0], names[1], server)
	if len(lookErrs) > 0 {
		diag = fmt.Sprintf("the SRV lookups for %s and %s at %s failed (%s)", names[0], names[1], server, strings.Join(lookErrs, "; "))
	}
	return Warned(diag+"; the connector uses LDAP_URL directly, so this only matters for finding a domain controller",
		"point this server's DNS at the domain's DNS servers (AD registers these records), or ignore this if LDAP_URL names a reachable server").
		With("domain", domain).With("resolver", server)
}

func hostListed(host string, targets []srvTarget) bool {
	for _, t := range targets {
		if strings.EqualFold(t.Host, host) {
			return true
		}
	}
	return false
}

// ldapDomain is the DNS domain of the directory: LDAP_BASE's DC= parts
// (DC=corp,DC=example,DC=com → corp.example.com), else LDAP_URL's host
// without its first label when it is a name with at least three labels.
func ldapDomain(base, host string) string {
	if dn, err := ldap.ParseDN(base); err == nil {
		var parts []string
		for _, rdn := range dn.RDNs {
			for _, a := range rdn.Attributes {
				if strings.EqualFold(a.Type, "dc") && a.Value != "" {
					parts = append(parts, a.Value)
				}
			}
		}
		if len(parts) > 0 {
			return strings.ToLower(strings.Join(parts, "."))
		}
	}
	if host == "" || net.ParseIP(host) != nil {
		return ""
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	if len(labels) >= 3 {
		return strings.ToLower(strings.Join(labels[1:], "."))
	}
	return ""
}

// ---- ldap.reach

type ldapReach struct{}

func (ldapReach) ID() string     { return "ldap.reach" }
func (ldapReach) Title() string  { return "LDAP server reachable (TCP, TLS)" }
func (ldapReach) Deps() []string { return nil }

// certWarnBefore is how close to its expiry an LDAPS certificate warns.
const certWarnBefore = 14 * 24 * time.Hour

// startTLSOID is the StartTLS extended operation.
const startTLSOID = "1.3.6.1.4.1.1466.20037"

func (ldapReach) Run(ctx context.Context, env *Env) Outcome {
	s, err := ldapConfig(env)
	if err != nil {
		return settingsOutcome(err)
	}
	lc, perr := dialLDAP(ctx, env, s)
	if perr != nil {
		return perr.outcome()
	}
	defer lc.Close()
	// A request the server must answer, even anonymously: the root DSE.
	res, err := lc.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"supportedExtension", "namingContexts", "defaultNamingContext", "vendorName"}, nil))
	var lerr *ldap.Error
	if err != nil && (!errors.As(err, &lerr) || lerr.ResultCode >= ldap.ErrorNetwork) { // no LDAP answer
		return lc.noAnswer("a read of the root DSE", err)
	}
	out := Outcome{}.With("url", s.URL).With("address", lc.addr)
	var ctxs []string
	startTLS := false
	if res != nil && len(res.Entries) > 0 {
		e := res.Entries[0]
		ctxs = e.GetAttributeValues("namingContexts")
		for _, x := range e.GetAttributeValues("supportedExtension") {
			startTLS = startTLS || x == startTLSOID
		}
		if len(ctxs) > 0 {
			out = out.With("naming_contexts", ctxs)
		}
	}
	if s.TLS() {
		out = out.With("tls", lc.tlsSummary)
		out.Status, out.Diagnosis = Pass, fmt.Sprintf("%s answers over TLS; its certificate (%s) is trusted by the connector's CAs (%s)", lc.addr, lc.tlsSummary, lc.trustSource)
	} else {
		st := "not offered"
		if startTLS {
			st = lc.tryStartTLS(env, s.Host)
		}
		out = out.With("starttls", st)
		out.Status, out.Diagnosis = Pass, fmt.Sprintf("%s answers plain LDAP (the connector does not use StartTLS, so binds and user passwords cross the network in clear; StartTLS: %s)", lc.addr, st)
		out.Remediation = "consider ldaps://" + net.JoinHostPort(s.Host, "636") + " in LDAP_URL, with the CA of the server's certificate imported: adldapctl certs import CA.pem"
	}
	if left := lc.notAfter.Sub(env.now()); s.TLS() && left < certWarnBefore {
		days := int(left.Hours() / 24)
		return Warned(fmt.Sprintf("%s answers over TLS, but its certificate (%s) expires in %d day(s): the connector cannot connect after that", lc.addr, lc.tlsSummary, days),
			"renew the domain controller's LDAPS certificate (AD: the Domain Controller or Kerberos Authentication template; autoenrollment renews it)").
			With("url", s.URL).With("tls", lc.tlsSummary).With("expires_in_days", days)
	}
	if s.Base != "" && len(ctxs) > 0 && !underAny(s.Base, ctxs) {
		return Warned(fmt.Sprintf("%s answers, but LDAP_BASE %q is under none of its naming contexts (%s)", lc.addr, s.Base, strings.Join(ctxs, "; ")),
			"set LDAP_BASE to a DN under one of the server's naming contexts, e.g. "+ctxs[0]).With("url", s.URL).With("naming_contexts", ctxs)
	}
	return out
}

// underAny reports whether dn is one of roots or under one of them.
func underAny(dn string, roots []string) bool {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return true // config.valid's business; do not guess here
	}
	for _, r := range roots {
		rd, err := ldap.ParseDN(r)
		if err != nil || len(rd.RDNs) == 0 {
			continue
		}
		if rd.EqualFold(d) || rd.AncestorOfFold(d) {
			return true
		}
	}
	return false
}

// ---- ldap.bind

type ldapBind struct{}

func (ldapBind) ID() string     { return "ldap.bind" }
func (ldapBind) Title() string  { return "Service account binds" }
func (ldapBind) Deps() []string { return []string{"ldap.reach"} }

func (ldapBind) Run(ctx context.Context, env *Env) Outcome {
	s, err := ldapConfig(env)
	if err != nil {
		return settingsOutcome(err)
	}
	if s.Anonymous {
		return Passed("ANONYMOUS_SEARCH_ENABLED is on: the connector searches without a service account, so there is no bind to check")
	}
	cred := bindCredential(env, s)
	if cred.out != nil {
		return *cred.out
	}
	lc, perr := dialLDAP(ctx, env, s)
	if perr != nil {
		return perr.outcome()
	}
	defer lc.Close()
	if err := lc.Bind(s.BindUser, cred.password); err != nil {
		if lc.lost(err) {
			return lc.noAnswer("the bind", err)
		}
		return bindFailure(s, err)
	}
	return Passed(fmt.Sprintf("%s bound to %s (password from %s)", s.BindUser, lc.addr, cred.source)).
		With("bind_user", s.BindUser).With("credential_from", cred.source)
}

// bindFailure explains a bind the server refused.
func bindFailure(s *ldapSettings, err error) Outcome {
	why, fix, code := explainBindError(err)
	out := Failed(fmt.Sprintf("%s cannot bind to %s: %s", s.BindUser, s.Addr(), why), fix).With("bind_user", s.BindUser)
	var lerr *ldap.Error
	if errors.As(err, &lerr) {
		out = out.With("ldap_result", fmt.Sprintf("%d %s", lerr.ResultCode, ldap.LDAPResultCodeMap[lerr.ResultCode]))
	}
	if code != "" {
		out = out.With("ad_data", code)
	}
	return out
}

// ---- ldap.search

type ldapSearch struct{}

func (ldapSearch) ID() string     { return "ldap.search" }
func (ldapSearch) Title() string  { return "Users and their groups can be read" }
func (ldapSearch) Deps() []string { return []string{"ldap.bind"} }

func (ldapSearch) Run(ctx context.Context, env *Env) Outcome {
	s, err := ldapConfig(env)
	if err != nil {
		return settingsOutcome(err)
	}
	if s.Base == "" {
		return Failed("LDAP_BASE is not set: the connector searches users under it",
			"set LDAP_BASE in config.json to the DN users live under (e.g. DC=corp,DC=example,DC=com) and restart the connector: adldapctl service restart")
	}
	cred := credential{}
	if !s.Anonymous {
		cred = bindCredential(env, s)
		if cred.out != nil {
			return *cred.out
		}
	}
	for _, q := range [][2]string{{"LDAP_SEARCH_ALL_QUERY", s.SearchAll}, {"LDAP_USER_BY_NAME", s.UserByName},
		{"LDAP_SEARCH_GROUPS", s.SearchGroups}, {"LDAP_HEARTBEAT_SEARCH_QUERY", s.Heartbeat}} {
		key, f := q[0], q[1]
		if _, err := ldap.CompileFilter(fill(f, "x")); err != nil {
			return Failed(fmt.Sprintf("%s %q is not a valid LDAP filter (%v): the connector silently finds nothing with it", key, f, err),
				"fix "+key+" in config.json (or remove it for the connector's default) and restart the connector: adldapctl service restart")
		}
	}
	lc, perr := dialLDAP(ctx, env, s)
	if perr != nil {
		return perr.outcome()
	}
	defer lc.Close()
	who := "anonymous"
	if !s.Anonymous {
		who = s.BindUser
		if err := lc.Bind(s.BindUser, cred.password); err != nil {
			if lc.lost(err) {
				return lc.noAnswer("the bind", err)
			}
			return bindFailure(s, err)
		}
	}

	// 0. The heartbeat: the connector runs it every LDAP_HEARTBEAT_SECONDS
	// and exits when it fails.
	if _, err := lc.Search(ldap.NewSearchRequest(s.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, 5, false,
		s.Heartbeat, []string{"cn"}, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		if lc.lost(err) {
			return lc.noAnswer("the heartbeat search", err)
		}
		why, fix := explainSearchError(err, s.Base, "LDAP_BASE")
		return Failed(fmt.Sprintf("the connector's heartbeat search under %s with %s as %s fails (%s): the connector exits on that, every LDAP_HEARTBEAT_SECONDS", s.Base, s.Heartbeat, who, why), fix).
			With("base", s.Base).With("filter", s.Heartbeat)
	}

	// 1. Users, with the connector's list query, one is enough.
	nameAttrs := placeholderAttrs(s.UserByName)
	attrs := append([]string{"memberOf", "cn"}, nameAttrs...)
	res, err := lc.Search(ldap.NewSearchRequest(s.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, s.GroupsTime, false,
		s.SearchAll, attrs, nil))
	if err != nil && !(ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && res != nil && len(res.Entries) > 0) {
		if lc.lost(err) {
			return lc.noAnswer("the user search", err)
		}
		why, fix := explainSearchError(err, s.Base, "LDAP_BASE")
		return Failed(fmt.Sprintf("searching users under %s with %s as %s failed: %s", s.Base, s.SearchAll, who, why), fix)
	}
	if res == nil || len(res.Entries) == 0 {
		return Failed(fmt.Sprintf("no user under %s matches LDAP_SEARCH_ALL_QUERY %s (searching as %s)", s.Base, s.SearchAll, who),
			"check LDAP_BASE (the users must be under it), that the service account may read user objects, and LDAP_SEARCH_ALL_QUERY / LDAP_USER_BY_NAME for a non-AD directory (e.g. (objectClass=inetOrgPerson), (uid={0}))").
			With("base", s.Base).With("filter", s.SearchAll)
	}
	user := res.Entries[0]
	out := Outcome{}.With("base", s.Base).With("user", user.DN).With("users_filter", s.SearchAll)

	// 2. That user by name, as a login looks it up.
	byName := "not tried: the user has none of the attributes LDAP_USER_BY_NAME matches on"
	for _, a := range nameAttrs {
		v := user.GetAttributeValue(a)
		if v == "" {
			continue
		}
		filter := fill(s.UserByName, escapeFilterValue(v))
		r2, err := lc.Search(ldap.NewSearchRequest(s.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, s.GroupsTime, false,
			filter, []string{"cn"}, nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			if lc.lost(err) {
				return lc.noAnswer("the user-by-name search", err)
			}
			why, fix := explainSearchError(err, s.Base, "LDAP_BASE")
			return Failed(fmt.Sprintf("looking up %s by name with LDAP_USER_BY_NAME %s failed: %s", v, filter, why), fix)
		}
		if r2 == nil || len(r2.Entries) == 0 || !strings.EqualFold(r2.Entries[0].DN, user.DN) {
			return Failed(fmt.Sprintf("LDAP_USER_BY_NAME %s finds no user %q under %s although %s has %s=%s: logins would fail with a wrong-username error", filter, v, s.Base, user.DN, a, v),
				"fix LDAP_USER_BY_NAME in config.json (its {0} is the login name) and restart the connector: adldapctl service restart").
				With("user", user.DN).With("filter", filter)
		}
		byName = fmt.Sprintf("found by %s", filter)
		out = out.With("user_by_name", filter)
		break
	}

	if !s.Groups {
		out.Status, out.Diagnosis = Pass, fmt.Sprintf("found %s under %s (%s); GROUPS is off, so groups are not looked up", user.DN, s.Base, byName)
		return out
	}

	// 3. That user's groups, as the connector fetches them at login.
	gfilter := fill(s.SearchGroups, escapeFilterValue(user.DN))
	gres, err := lc.Search(ldap.NewSearchRequest(s.GroupsBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, s.GroupsTime, false,
		gfilter, []string{"cn", "memberOf"}, nil))
	out = out.With("groups_base", s.GroupsBase).With("groups_filter", gfilter)
	noGroupsFix := "grant the service account read access to the group objects under " + s.GroupsBase +
		" (AD: Read permission on the groups' OU, including the member attribute; OpenLDAP: an ACL with read on that subtree), or set LDAP_BASE_GROUPS to where the groups are, then restart the connector: adldapctl service restart"
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		if lc.lost(err) {
			return lc.noAnswer("the group search", err)
		}
		why, _ := explainSearchError(err, s.GroupsBase, "LDAP_BASE_GROUPS")
		o := Failed(fmt.Sprintf("%s can read users (found %s) but not groups: the group search under %s with %s failed: %s; users would log in without their groups",
			who, user.DN, s.GroupsBase, gfilter, why), noGroupsFix)
		o.Detail = out.Detail
		return o
	}
	var groups []string
	if gres != nil {
		for _, g := range gres.Entries {
			groups = append(groups, groupName(g))
		}
	}
	if len(groups) == 0 {
		memberOf := user.GetAttributeValues("memberOf")
		visible, probeErr := anyGroupVisible(lc, s)
		if len(memberOf) > 0 || !visible {
			seen := fmt.Sprintf("sees no group at all under %s (%s)", s.GroupsBase, s.ListGroups)
			if len(memberOf) > 0 {
				seen = fmt.Sprintf("finds none of the %d groups the user's memberOf names", len(memberOf))
			}
			if probeErr != nil {
				seen += fmt.Sprintf(" (%v)", probeErr)
			}
			o := Failed(fmt.Sprintf("%s can read users (found %s) but not groups: the group search %s %s; it lacks permission to read groups, so users would log in without their groups",
				who, user.DN, gfilter, seen), noGroupsFix)
			o.Detail = out.Detail
			return o
		}
		out.Status, out.Diagnosis = Pass, fmt.Sprintf("found %s under %s (%s); it is in no group, and groups under %s are readable", user.DN, s.Base, byName, s.GroupsBase)
		return out
	}
	sort.Strings(groups)
	out = out.With("groups", groups)
	out.Status, out.Diagnosis = Pass, fmt.Sprintf("found %s under %s (%s) and its %d group(s): %s", user.DN, s.Base, byName, len(groups), strings.Join(firstN(groups, 5), ", "))
	return out
}

// anyGroupVisible reports whether the bound account sees any group under
// the groups base with the connector's list-groups query.
func anyGroupVisible(lc *ldapConn, s *ldapSettings) (bool, error) {
	if _, err := ldap.CompileFilter(s.ListGroups); err != nil {
		return false, fmt.Errorf("LDAP_SEARCH_LIST_GROUPS_QUERY %q is not a valid filter", s.ListGroups)
	}
	res, err := lc.Search(ldap.NewSearchRequest(s.GroupsBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, s.GroupsTime, false,
		s.ListGroups, []string{"cn"}, nil))
	if res != nil && len(res.Entries) > 0 {
		return true, nil
	}
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		why, _ := explainSearchError(err, s.GroupsBase, "LDAP_BASE_GROUPS")
		return false, errors.New(why)
	}
	return false, nil
}

func groupName(e *ldap.Entry) string {
	if cn := e.GetAttributeValue("cn"); cn != "" {
		return cn
	}
	return e.DN
}

func firstN(ss []string, n int) []string {
	if len(ss) > n {
		return append(append([]string{}, ss[:n]...), fmt.Sprintf("… %d more", len(ss)-n))
	}
	return ss
}

// fill replaces every {0} of a connector query with v, as the connector
// does (v already escaped).
func fill(filter, v string) string { return strings.ReplaceAll(filter, "{0}", v) }

// escapeFilterValue escapes a value for a filter the way the connector's
// lib/escapeLdapFilter.js does (RFC 4515 for *, (, ), \ and NUL; other
// bytes as they are).
func escapeFilterValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '*', '(', ')', '\\', 0:
			fmt.Fprintf(&b, "\\%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var placeholderRe = regexp.MustCompile(`([A-Za-z][A-Za-z0-9-]*)=\{0\}`)

// placeholderAttrs lists the attributes a query compares with {0}, e.g.
// sAMAccountName and userPrincipalName.
func placeholderAttrs(filter string) []string {
	var out []string
	for _, m := range placeholderRe.FindAllStringSubmatch(filter, -1) {
		out = append(out, m[1])
	}
	return out
}

// ldapTimeoutLeft is the time left before ctx's deadline, less a margin so
// that the check reports its own phase before the engine's timeout fires.
func ldapTimeoutLeft(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return 30 * time.Second
	}
	left := time.Until(dl)
	margin := min(left/10, 300*time.Millisecond)
	return max(left-margin, time.Millisecond)
}
