package postinstall

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// adBindCode is one of Active Directory's "data XXX" sub-codes of an
// invalidCredentials (49) bind result.
type adBindCode struct {
	What string // plain words
	Fix  string
}

// adBindCodes are the sub-codes AD puts in the diagnostic message of a
// failed bind ("80090308: LdapErr: DSID-0C09042A, comment:
// AcceptSecurityContext error, data 775, v3839").
var adBindCodes = map[string]adBindCode{
	"525": {"the bind user does not exist (AD data 525: user not found)",
		"check LDAP_BIND_USER: a DN (CN=svc,OU=...,DC=...), a UPN (svc@corp.example.com) or DOMAIN\\svc of an existing account"},
	"52e": {"invalid credentials: the password is wrong (AD data 52e)",
		"set the service account's current password in the connector (its admin console, or LDAP_BIND_PASSWORD in config.json) and restart it: adldapctl service restart"},
	"530": {"the account is not permitted to log on at this time (AD data 530: logon hours)",
		"allow the service account to log on at all hours (Active Directory Users and Computers → Account → Logon Hours)"},
	"531": {"the account is not permitted to log on from this workstation (AD data 531)",
		"add this server to the service account's \"Log On To\" list, or allow all computers (Account → Log On To)"},
	"532": {"the account's password has expired (AD data 532)",
		"set a new password for the service account (and consider \"Password never expires\" for it), then update the connector"},
	"533": {"the account is disabled (AD data 533)",
		"enable the service account in Active Directory"},
	"534": {"the account has not been granted this logon type on this machine (AD data 534)",
		"grant the service account network logon (\"Access this computer from the network\") on the domain controllers"},
	"701": {"the account has expired (AD data 701)",
		"extend or clear the service account's expiry date (Account → Account expires)"},
	"773": {"the account must change its password before it can log on (AD data 773)",
		"set a new password for the service account and clear \"User must change password at next logon\", then update the connector"},
	"775": {"the account is locked out (AD data 775)",
		"unlock the service account in Active Directory; find what keeps sending an old password (often a stale copy of it elsewhere) before it locks again"},
}

var adDataRe = regexp.MustCompile(`(?i)\bdata ([0-9a-f]{3,8})\b`)

// explainBindError turns a failed bind into plain words and a fix, and
// returns AD's sub-code when there was one.
func explainBindError(err error) (why, fix, adCode string) {
	var lerr *ldap.Error
	if !errors.As(err, &lerr) {
		return err.Error(), "check LDAP_BIND_USER and its password", ""
	}
	msg := ""
	if lerr.Err != nil {
		msg = lerr.Err.Error()
	}
	switch lerr.ResultCode {
	case ldap.LDAPResultInvalidCredentials:
		if m := adDataRe.FindStringSubmatch(msg); m != nil {
			code := strings.ToLower(m[1])
			if c, ok := adBindCodes[code]; ok {
				return c.What, c.Fix, code
			}
			return fmt.Sprintf("invalid credentials (AD data %s)", code),
				"check LDAP_BIND_USER and its password; look up AD's bind sub-code " + code, code
		}
		return "invalid credentials: wrong bind DN or password",
			"check LDAP_BIND_USER (the full DN of the service account, or its UPN on AD) and set its current password in the connector (its admin console, or LDAP_BIND_PASSWORD in config.json), then restart it: adldapctl service restart", ""
	case ldap.LDAPResultStrongAuthRequired:
		return "the server requires a protected connection for binds (strong authentication required: LDAP signing / channel binding is enforced)",
			"use ldaps://HOST:636 in LDAP_URL (the connector does not use StartTLS), with the CA of the server's certificate imported: adldapctl certs import CA.pem", ""
	case ldap.LDAPResultConfidentialityRequired:
		return "the server requires an encrypted connection (confidentiality required)",
			"use ldaps://HOST:636 in LDAP_URL (the connector does not use StartTLS), with the CA of the server's certificate imported: adldapctl certs import CA.pem", ""
	case ldap.LDAPResultUnwillingToPerform:
		return "the server refuses the bind (unwilling to perform" + withMsg(msg) + ")",
			"check LDAP_BIND_USER and that a password is set; the directory may forbid simple binds", ""
	case ldap.LDAPResultInappropriateAuthentication:
		return "the server does not accept a simple bind for this account (inappropriate authentication" + withMsg(msg) + ")",
			"check that LDAP_BIND_USER has a password in the directory", ""
	}
	return fmt.Sprintf("result %d %s%s", lerr.ResultCode, ldap.LDAPResultCodeMap[lerr.ResultCode], withMsg(msg)),
		"check LDAP_BIND_USER and its password", ""
}

// explainSearchError turns a failed search under base (named by key in
// config.json) into plain words and a fix.
func explainSearchError(err error, base, key string) (why, fix string) {
	var lerr *ldap.Error
	if !errors.As(err, &lerr) {
		return err.Error(), "check " + key + " and the service account's read permissions"
	}
	msg := ""
	if lerr.Err != nil {
		msg = lerr.Err.Error()
	}
	switch lerr.ResultCode {
	case ldap.LDAPResultNoSuchObject:
		return fmt.Sprintf("%s does not exist, or the service account cannot see it (no such object)", base),
			"check " + key + " (it must be an existing DN the service account may read)"
	case ldap.LDAPResultInsufficientAccessRights:
		return "insufficient access rights" + withMsg(msg),
			"grant the service account read access under " + base
	case ldap.LDAPResultReferral:
		return fmt.Sprintf("the server refers the search elsewhere: %s is not in its naming contexts", base),
			"point LDAP_URL at a server holding " + base + " (or use the global catalog, port 3268/3269)"
	case ldap.LDAPResultOperationsError:
		return "operations error" + withMsg(msg) + " (AD answers this to unauthenticated searches)",
			"check that the service account binds (ldap.bind) and may search " + base
	case ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded:
		return ldap.LDAPResultCodeMap[lerr.ResultCode] + withMsg(msg),
			"narrow " + key + " or raise the directory's limits"
	}
	return fmt.Sprintf("result %d %s%s", lerr.ResultCode, ldap.LDAPResultCodeMap[lerr.ResultCode], withMsg(msg)),
		"check " + key + " and the service account's read permissions"
}

func withMsg(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}
