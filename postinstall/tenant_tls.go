package postinstall

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
)

// Node's names for certificate failures (what the connector logs).
const (
	nodeLeafSignature  = "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
	nodeSelfSignedInCh = "SELF_SIGNED_CERT_IN_CHAIN"
	nodeIssuerLocally  = "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
	nodeDepthZero      = "DEPTH_ZERO_SELF_SIGNED_CERT"
	nodeExpired        = "CERT_HAS_EXPIRED"
	nodeNotYetValid    = "CERT_NOT_YET_VALID"
	nodeAltName        = "ERR_TLS_CERT_ALTNAME_INVALID"
)

// trust is the set of roots the connector trusts, and where they came from.
type trust struct {
	pool *x509.CertPool // self-signed roots: the anchors
	// inter are trusted CA certificates that are not self-signed: OpenSSL
	// (so Node) uses them to build the chain but, without
	// X509_V_FLAG_PARTIAL_CHAIN, still needs a trusted root above them.
	inter   []*x509.Certificate
	sources []string
	n       int
}

// add puts c where OpenSSL's chain building would use it.
func (t *trust) add(c *x509.Certificate) {
	t.n++
	if selfSigned(c) {
		t.pool.AddCert(c)
		return
	}
	t.inter = append(t.inter, c)
}

// connectorTrust builds the root pool the way the connector's
// lib/add_certs.js does: the files of SSL_CA_PATH when config.json sets it,
// else <openssl version -d>/certs/*.{pem,crt,cer} on Linux (the distro's
// folder), the system stores on Windows; plus env.CAFiles.
func connectorTrust(env *Env) (*trust, error) {
	t := &trust{pool: x509.NewCertPool()}
	p := env.Platform
	dir, label, optional := "", "", false
	if env.Config != nil && p != nil && strings.TrimSpace(env.Config.String(connector.KeyCAPath)) != "" {
		label = "SSL_CA_PATH " + strings.TrimSpace(env.Config.String(connector.KeyCAPath))
		l := connector.Layout{InstallDir: p.Paths.InstallDir, ConnectorDir: p.Unrooted(p.Paths.InstallDir), OS: p.OS}
		rel, err := l.CAPath(env.Config)
		if err != nil {
			return nil, fmt.Errorf("SSL_CA_PATH: %w", err)
		}
		dir = filepath.Join(p.Paths.InstallDir, filepath.FromSlash(rel))
	} else if p != nil && p.OS == "windows" {
		sys, err := x509.SystemCertPool()
		if err == nil {
			t.pool = sys
			t.sources = append(t.sources, "Windows certificate stores")
		}
	} else if p != nil {
		certs := platform.TrustLayoutFor(p.Family).CertsDir
		dir, label, optional = filepath.Join(p.Root, filepath.FromSlash(certs)), "the OS store "+certs, true
	}
	if dir != "" {
		// The file names the connector reads: SSL_CA_FILE, a regexp.
		names, err := regexp.Compile(defaultCAFile)
		if env.Config != nil {
			if v := strings.TrimSpace(env.Config.String("SSL_CA_FILE")); v != "" {
				if re, rerr := regexp.Compile(v); rerr == nil {
					names = re
				}
			}
		}
		if err != nil {
			return nil, err
		}
		if err := t.addDir(dir, names); err != nil {
			if !optional || !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		t.sources = append(t.sources, label)
	}
	for _, f := range env.CAFiles {
		if err := t.addFile(f); err != nil {
			return nil, err
		}
		t.sources = append(t.sources, filepath.Base(f))
	}
	return t, nil
}

// defaultCAFile is the connector's SSL_CA_FILE default: the file names it
// reads from a CA folder.
const defaultCAFile = `.+.(pem|crt|cer)$`

// source names where the trust came from, for diagnoses.
func (t *trust) source() string {
	if len(t.sources) == 0 {
		return "no CA folder"
	}
	return strings.Join(t.sources, " + ")
}

func (t *trust) addDir(dir string, names *regexp.Regexp) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read the connector's CA folder %s: %w", dir, err)
	}
	for _, e := range ents {
		if !names.MatchString(e.Name()) {
			continue
		}
		if err := t.addFile(filepath.Join(dir, e.Name())); err != nil {
			continue // the connector skips what it cannot read too
		}
	}
	return nil
}

func (t *trust) addFile(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	for rest := data; ; {
		var c *x509.Certificate
		c, rest = nextCert(rest)
		if c == nil {
			break
		}
		t.add(c)
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		if c, err := x509.ParseCertificate(data); err == nil { // a DER .cer
			t.add(c)
		}
	}
	return nil
}

// chainVerdict is what verifyChain found.
type chainVerdict struct {
	OK            bool
	Code          string // Node's error name, "" when OK
	Reason        string // plain words
	MissingIssuer string // subject of the issuer that could not be found
	Chain         []*x509.Certificate
	Root          *x509.Certificate // the root the chain verified to (OK only)
}

// verifyChain verifies the certificates a server presented for host
// against tr at now, and classifies a failure the way OpenSSL (and so
// Node) would name it.
func verifyChain(presented []*x509.Certificate, host string, tr *trust, now time.Time) chainVerdict {
	if len(presented) == 0 {
		return chainVerdict{Code: "NO_CERTIFICATE", Reason: "the server presented no certificate"}
	}
	leaf := presented[0]
	inter := x509.NewCertPool()
	for _, c := range presented[1:] {
		inter.AddCert(c)
	}
	for _, c := range tr.inter {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: tr.pool, Intermediates: inter, CurrentTime: now})
	if err == nil {
		ch := chains[0]
		return chainVerdict{OK: true, Chain: ch, Root: ch[len(ch)-1]}
	}
	// The expiry of any certificate on the presented path comes first, as
	// OpenSSL reports it once the chain is built.
	for _, c := range presented {
		if now.After(c.NotAfter) {
			return chainVerdict{Code: nodeExpired, Chain: presented, Reason: fmt.Sprintf("certificate %q expired on %s", c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339))}
		}
		if now.Before(c.NotBefore) {
			return chainVerdict{Code: nodeNotYetValid, Chain: presented, Reason: fmt.Sprintf("certificate %q is valid only from %s (check the clock)", c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339))}
		}
	}
	var hn x509.HostnameError
	if errors.As(err, &hn) {
		return chainVerdict{Code: nodeAltName, Reason: fmt.Sprintf("the certificate is not valid for %s (%v)", host, err)}
	}
	// Build the path ourselves: leaf, then each issuer found among the
	// presented certificates and the trusted intermediates.
	cands := append(append([]*x509.Certificate{}, presented[1:]...), tr.inter...)
	path := []*x509.Certificate{leaf}
	used := map[*x509.Certificate]bool{leaf: true}
	for {
		cur := path[len(path)-1]
		if selfSigned(cur) {
			break
		}
		var next *x509.Certificate
		for _, c := range cands {
			if !used[c] && bytes.Equal(cur.RawIssuer, c.RawSubject) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		used[next] = true
		path = append(path, next)
	}
	top := path[len(path)-1]
	switch {
	case len(path) == 1 && selfSigned(leaf):
		return chainVerdict{Code: nodeDepthZero, Chain: path, MissingIssuer: leaf.Subject.String(),
			Reason: fmt.Sprintf("the server presented a lone self-signed certificate %q that the connector does not trust", leaf.Subject.String())}
	case selfSigned(top):
		return chainVerdict{Code: nodeSelfSignedInCh, Chain: path, MissingIssuer: top.Subject.String(),
			Reason: fmt.Sprintf("the chain ends in the self-signed root %q, which the connector does not trust", top.Subject.String())}
	case len(path) == 1:
		return chainVerdict{Code: nodeLeafSignature, Chain: path, MissingIssuer: leaf.Issuer.String(),
			Reason: fmt.Sprintf("the issuer of the server's certificate, %q, is neither sent by the server nor trusted (a missing intermediate, or a CA to import)", leaf.Issuer.String())}
	default:
		return chainVerdict{Code: nodeIssuerLocally, Chain: path, MissingIssuer: top.Issuer.String(),
			Reason: fmt.Sprintf("the issuer %q of %q is not in the connector's trust", top.Issuer.String(), top.Subject.String())}
	}
}

// selfSigned reports whether c is its own issuer and signed by its key.
func selfSigned(c *x509.Certificate) bool {
	// CheckSignature, not CheckSignatureFrom: a self-signed leaf is no CA.
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// fingerprint is the SHA-256 of c in hex (what certs import --fingerprint takes).
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// publicRoot reports whether root is in the host's public store (Go's
// system pool); false when that store cannot be read.
func publicRoot(chain []*x509.Certificate, now time.Time) bool {
	sys, err := x509.SystemCertPool()
	if err != nil || len(chain) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = chain[0].Verify(x509.VerifyOptions{Roots: sys, Intermediates: inter, CurrentTime: now})
	return err == nil
}

// nextCert returns the first certificate of the PEM data and the rest
// (nil when there is none left).
func nextCert(data []byte) (*x509.Certificate, []byte) {
	for {
		b, rest := pem.Decode(data)
		if b == nil {
			return nil, nil
		}
		data = rest
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			return c, rest
		}
	}
}
