// Package certs reads certificate chains (PEM bundles, single DER
// certificates, PKCS#7 .p7b files in DER or PEM armour) and sorts them into
// trust anchors: self-signed CAs are roots, other CAs intermediates, and a
// certificate that is not a CA (a leaf) is never an anchor. It is pure: it
// knows nothing of where a trust store lives or how a chain was fetched.
package certs

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrNoCertificates is wrapped when input holds no certificate adldapctl
// can read (garbage, a private key, an empty file).
var ErrNoCertificates = errors.New("no certificate found")

// Role is what a certificate can be in a trust store.
type Role string

const (
	Root         Role = "root"         // a self-signed CA
	Intermediate Role = "intermediate" // a CA issued by another CA
	Leaf         Role = "leaf"         // not a CA: never a trust anchor
)

// Cert is one certificate with its role and SHA-256 fingerprint.
type Cert struct {
	X509   *x509.Certificate
	Role   Role
	SHA256 string // lower-case hex of the DER
}

// Anchor reports whether c may go into a trust store.
func (c Cert) Anchor() bool { return c.Role != Leaf }

// Subject is the certificate's subject in RFC 2253 form.
func (c Cert) Subject() string { return c.X509.Subject.String() }

// Issuer is the certificate's issuer in RFC 2253 form.
func (c Cert) Issuer() string { return c.X509.Issuer.String() }

// PEM is the certificate PEM-encoded.
func (c Cert) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.X509.Raw})
}

// Warning says what is wrong with c's validity period at now, or "".
func (c Cert) Warning(now time.Time) string {
	switch {
	case now.After(c.X509.NotAfter):
		return fmt.Sprintf("expired on %s", c.X509.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(c.X509.NotBefore):
		return fmt.Sprintf("not valid before %s", c.X509.NotBefore.UTC().Format(time.DateOnly))
	}
	return ""
}

// Fingerprint is the lower-case hex SHA-256 of a certificate's DER.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

var fpClean = strings.NewReplacer(":", "", " ", "", "-", "")

// NormalizeFingerprint accepts hex with or without colons (as openssl and
// browsers print it), any case, and returns lower-case hex. full requires
// all 64 digits; otherwise at least 12 (a unique prefix) are needed.
func NormalizeFingerprint(s string, full bool) (string, error) {
	h := strings.ToLower(fpClean.Replace(strings.TrimSpace(s)))
	h = strings.TrimPrefix(h, "sha256=")
	if _, err := hex.DecodeString(h + strings.Repeat("0", len(h)%2)); err != nil || h == "" {
		return "", fmt.Errorf("fingerprint %q is not hex: give the SHA-256 as printed by adldapctl (64 hex digits, colons allowed)", s)
	}
	switch {
	case len(h) > 64:
		return "", fmt.Errorf("fingerprint %q is longer than a SHA-256 (64 hex digits)", s)
	case full && len(h) != 64:
		return "", fmt.Errorf("fingerprint %q is not a full SHA-256: give all 64 hex digits", s)
	case len(h) < 12:
		return "", fmt.Errorf("fingerprint %q is too short: give at least 12 hex digits", s)
	}
	return h, nil
}

// Parse reads every certificate in data: PEM (CERTIFICATE, TRUSTED
// CERTIFICATE and PKCS7 blocks; other blocks such as keys are skipped), a
// DER certificate, or a DER PKCS#7 SignedData. Duplicates are dropped,
// first occurrence kept. It fails with ErrNoCertificates when nothing
// readable is found and on any malformed certificate.
func Parse(data []byte) ([]*x509.Certificate, error) {
	var ders [][]byte
	if bytes.Contains(data, []byte("-----BEGIN")) {
		rest := data
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			switch b.Type {
			case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE":
				ders = append(ders, b.Bytes)
			case "PKCS7", "CERTIFICATE CHAIN":
				certs, err := parsePKCS7(b.Bytes)
				if err != nil {
					return nil, err
				}
				ders = append(ders, certs...)
			}
		}
	} else if c, err := x509.ParseCertificate(data); err == nil {
		ders = append(ders, c.Raw)
	} else if certs, perr := parsePKCS7(data); perr == nil {
		ders = certs
	} else {
		return nil, fmt.Errorf("%w: neither PEM, a DER certificate nor PKCS#7 (%v)", ErrNoCertificates, err)
	}
	var out []*x509.Certificate
	seen := map[string]bool{}
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrNoCertificates, i+1, err)
		}
		fp := Fingerprint(c)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w in the input (a PEM CERTIFICATE block, a DER certificate or a PKCS#7 .p7b)", ErrNoCertificates)
	}
	return out, nil
}

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// parsePKCS7 returns the DER certificates of a PKCS#7 (RFC 2315 / CMS)
// ContentInfo holding SignedData, as .p7b files carry them:
//
//	ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT SignedData }
//	SignedData  ::= SEQUENCE { version INTEGER, digestAlgorithms SET,
//	    contentInfo SEQUENCE, certificates [0] IMPLICIT SET OF Certificate OPTIONAL, ... }
func parsePKCS7(der []byte) ([][]byte, error) {
	bad := func(what string) error {
		return fmt.Errorf("%w: not a PKCS#7 certificate bundle (%s)", ErrNoCertificates, what)
	}
	s := cryptobyte.String(der)
	var ci, content, sd cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, bad("no ContentInfo")
	}
	if !ci.ReadASN1ObjectIdentifier(&oid) {
		return nil, bad("no content type")
	}
	if !oid.Equal(oidSignedData) {
		return nil, bad("content type " + oid.String() + " is not signedData")
	}
	if !ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return nil, bad("no SignedData")
	}
	var version int
	var skip cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&skip, cbasn1.SET) || !sd.ReadASN1(&skip, cbasn1.SEQUENCE) {
		return nil, bad("malformed SignedData")
	}
	var set cryptobyte.String
	var present bool
	if !sd.ReadOptionalASN1(&set, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, bad("malformed certificates")
	}
	var out [][]byte
	for !set.Empty() {
		var cert cryptobyte.String
		var tag cbasn1.Tag
		if !set.ReadAnyASN1Element(&cert, &tag) {
			return nil, bad("malformed certificate")
		}
		if tag == cbasn1.SEQUENCE { // other choices (attribute certificates) are skipped
			out = append(out, cert)
		}
	}
	if len(out) == 0 {
		return nil, bad("it holds no certificate")
	}
	return out, nil
}

// Classify gives each certificate its role and sorts them: roots first,
// then intermediates, then leaves, each group in input order.
func Classify(in []*x509.Certificate) []Cert {
	out := make([]Cert, 0, len(in))
	for _, c := range in {
		out = append(out, Cert{X509: c, Role: roleOf(c), SHA256: Fingerprint(c)})
	}
	rank := map[Role]int{Root: 0, Intermediate: 1, Leaf: 2}
	sort.SliceStable(out, func(i, j int) bool { return rank[out[i].Role] < rank[out[j].Role] })
	return out
}

func roleOf(c *x509.Certificate) Role {
	if !c.IsCA {
		// A v1 self-signed certificate (no basicConstraints) is how old
		// private CAs look; x509 reports IsCA false for it.
		if !(c.Version == 1 && selfSigned(c)) {
			return Leaf
		}
	}
	if selfSigned(c) {
		return Root
	}
	return Intermediate
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// Anchors returns the certificates that may go into a trust store.
func Anchors(cs []Cert) []Cert {
	var out []Cert
	for _, c := range cs {
		if c.Anchor() {
			out = append(out, c)
		}
	}
	return out
}

// Pin is the certificate a --fingerprint should name for cs: the first
// root, or, when the input has no root (a server that sends only its leaf
// and intermediates), the topmost intermediate, the one whose issuer is
// not in the input. ok is false when cs holds no anchor.
func Pin(cs []Cert) (Cert, bool) {
	anchors := Anchors(cs)
	if len(anchors) == 0 {
		return Cert{}, false
	}
	if anchors[0].Role == Root {
		return anchors[0], true
	}
	for _, c := range anchors {
		if issuerIn(c, anchors) == nil {
			return c, true
		}
	}
	return anchors[0], true
}

// ErrFingerprintMismatch is wrapped when --fingerprint names no anchor of
// the input.
var ErrFingerprintMismatch = errors.New("fingerprint matches no CA certificate of the chain")

// Select returns what an import pinned to fp adds: the anchor whose
// SHA-256 is fp (root or intermediate), and every other CA of cs whose
// issuer chain, by verified signatures within cs, leads to it. Other
// certificates are not trusted by the pin and are left out: a chain fetched
// through an interceptor cannot slip its own CA in beside a pinned root.
func Select(cs []Cert, fp string) ([]Cert, error) {
	anchors := Anchors(cs)
	var pinned *Cert
	for i := range anchors {
		if anchors[i].SHA256 == fp {
			pinned = &anchors[i]
		}
	}
	if pinned == nil {
		for _, c := range cs {
			if c.SHA256 == fp && c.Role == Leaf {
				return nil, fmt.Errorf("%w: %s is the leaf %s, which is never a trust anchor; pin the root (or topmost intermediate) instead", ErrFingerprintMismatch, fp, c.Subject())
			}
		}
		return nil, fmt.Errorf("%w: no root or intermediate has SHA-256 %s", ErrFingerprintMismatch, fp)
	}
	var out []Cert
	for _, c := range anchors {
		if reaches(c, *pinned, anchors) {
			out = append(out, c)
		}
	}
	return out, nil
}

// issuerIn returns the certificate of set (other than c) that signed c.
func issuerIn(c Cert, set []Cert) *Cert {
	for i := range set {
		s := set[i]
		if s.SHA256 == c.SHA256 {
			continue
		}
		if bytes.Equal(c.X509.RawIssuer, s.X509.RawSubject) && c.X509.CheckSignatureFrom(s.X509) == nil {
			return &set[i]
		}
	}
	return nil
}

func reaches(c, pinned Cert, set []Cert) bool {
	cur := c
	for range len(set) + 1 {
		if cur.SHA256 == pinned.SHA256 {
			return true
		}
		next := issuerIn(cur, set)
		if next == nil {
			return false
		}
		cur = *next
	}
	return false
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// FileStem names c's file in a trust store: adldapctl-<subject slug>-<first
// 12 hex digits of its SHA-256>. The slug comes from the common name (or
// the first organisation, or "ca") folded to [a-z0-9-], at most 40 bytes.
func FileStem(c Cert) string {
	name := c.X509.Subject.CommonName
	if name == "" && len(c.X509.Subject.Organization) > 0 {
		name = c.X509.Subject.Organization[0]
	}
	slug := strings.Trim(slugRe.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(slug) > 40 {
		slug = strings.TrimRight(slug[:40], "-")
	}
	if slug == "" {
		slug = "ca"
	}
	return "adldapctl-" + slug + "-" + c.SHA256[:12]
}

// StemPrefix is how every file adldapctl writes into a trust store begins.
const StemPrefix = "adldapctl-"
