// Package certstest makes throwaway certificate chains for tests: a root,
// an intermediate and a leaf for 127.0.0.1 and localhost, with keys that
// live only in memory, and encodes them as PEM, DER or PKCS#7.
package certstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Chain is root → intermediate → leaf.
type Chain struct {
	Root, Inter, Leaf          *x509.Certificate
	RootKey, InterKey, LeafKey *ecdsa.PrivateKey
}

// Options tune NewChainWith.
type Options struct {
	Name                string    // prefix of the common names (default "Test")
	NotBefore, NotAfter time.Time // validity of every certificate (default now-1h, now+24h)
}

// NewChain returns a fresh chain named name.
func NewChain(t testing.TB, name string) *Chain {
	t.Helper()
	return NewChainWith(t, Options{Name: name})
}

// NewChainWith returns a fresh chain.
func NewChainWith(t testing.TB, o Options) *Chain {
	t.Helper()
	if o.Name == "" {
		o.Name = "Test"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	c := &Chain{RootKey: newKey(t), InterKey: newKey(t), LeafKey: newKey(t)}
	c.Root = sign(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: o.Name + " Root CA", Organization: []string{"adldapctl tests"}},
		IsCA:    true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		NotBefore: o.NotBefore, NotAfter: o.NotAfter,
	}, nil, c.RootKey, nil)
	c.Inter = sign(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: o.Name + " Intermediate CA", Organization: []string{"adldapctl tests"}},
		IsCA:    true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		NotBefore: o.NotBefore, NotAfter: o.NotAfter,
	}, c.Root, c.InterKey, c.RootKey)
	c.Leaf = sign(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		NotBefore:             o.NotBefore, NotAfter: o.NotAfter,
	}, c.Inter, c.LeafKey, c.InterKey)
	return c
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ServerCertificate is the leaf with the intermediate, as a server sends it.
func (c *Chain) ServerCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Leaf.Raw, c.Inter.Raw}, PrivateKey: c.LeafKey, Leaf: c.Leaf}
}

// PEM encodes certs as a PEM bundle.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// P7B encodes certs as a degenerate PKCS#7 SignedData (no signers), the
// shape of a .p7b file, in DER.
func P7B(certs ...*x509.Certificate) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(ci *cryptobyte.Builder) {
		ci.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2})
		ci.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(ex *cryptobyte.Builder) {
			ex.AddASN1(cbasn1.SEQUENCE, func(sd *cryptobyte.Builder) {
				sd.AddASN1Int64(1)
				sd.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {})
				sd.AddASN1(cbasn1.SEQUENCE, func(inner *cryptobyte.Builder) {
					inner.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1})
				})
				sd.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(set *cryptobyte.Builder) {
					for _, c := range certs {
						set.AddBytes(c.Raw)
					}
				})
				sd.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {})
			})
		})
	})
	return b.BytesOrPanic()
}

// P7BPEM is P7B in PEM armour (-----BEGIN PKCS7-----).
func P7BPEM(certs ...*x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: P7B(certs...)})
}
