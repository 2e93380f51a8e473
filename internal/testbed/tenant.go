package testbed

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6455 and the connector's thumbprint
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Chain is what the tenant stand-in presents.
type Chain int

// Chains of the tenant stand-in.
const (
	ChainGood                Chain = iota // leaf + intermediate (root trusted by the test)
	ChainMissingIntermediate              // the leaf only
	ChainFull                             // leaf + intermediate + root (root self-signed, in the chain)
	ChainSelfSigned                       // one self-signed leaf
	ChainExpired                          // expired leaf + intermediate
)

// TenantOptions shape the tenant stand-in.
type TenantOptions struct {
	Chain   Chain
	Skew    time.Duration // added to the /test clock and the Date header
	Latency time.Duration // slept before each answer is stamped and sent
	Ticket  string        // the ticket path element (default "TESTTICKET")
	// Thumbprint served by <ticket>/info ("" the SHA-1 of ConnectorCert).
	Thumbprint string
}

// Tenant is a running loopback stand-in for an Auth0 tenant: /test,
// /p/ad/<ticket>/info and the WebSocket hub /lo/hub, over HTTPS with a
// private chain (root → intermediate → leaf for 127.0.0.1) generated at
// start, keys in memory only.
type Tenant struct {
	URL       string // https://127.0.0.1:PORT
	TicketURL string // URL/p/ad/<ticket>
	HubURL    string // URL/lo/hub
	Root      *x509.Certificate
	Inter     *x509.Certificate
	// ConnectorCertPEM is a certificate to put in <install>/certs/cert.pem;
	// its SHA-1 is what /info answers unless Thumbprint says otherwise.
	ConnectorCertPEM []byte
	Requests         func() int // requests served so far
}

// CA is a test certificate authority held in memory.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA makes a self-signed root CA named cn.
func NewCA(t TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn, Organization: []string{"adldapctl tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return &CA{Cert: sign(t, tmpl, tmpl, &key.PublicKey, key), Key: key}
}

// Sub makes an intermediate CA under ca.
func (ca *CA) Sub(t TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn, Organization: []string{"adldapctl tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return &CA{Cert: sign(t, tmpl, ca.Cert, &key.PublicKey, ca.Key), Key: key}
}

// Leaf issues a server certificate for 127.0.0.1 and localhost valid from
// notBefore to notAfter.
func (ca *CA) Leaf(t TB, cn string, notBefore, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	issuer, ikey := ca.Cert, ca.Key
	if issuer == nil { // self-signed leaf
		issuer, ikey = tmpl, key
	}
	return sign(t, tmpl, issuer, &key.PublicKey, ikey), key
}

// PEM is c PEM-encoded.
func PEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// WriteCA writes c as a PEM file name in dir and returns its path.
func WriteCA(t TB, dir, name string, c *x509.Certificate) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, PEM(c), 0o644); err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
	return p
}

func newKey(t TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return k
}

func serial(t TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("serial: %v", err)
	}
	return n
}

func sign(t TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return c
}

// StartTenant starts the tenant stand-in on 127.0.0.1; it is stopped when
// the test ends.
func StartTenant(t TB, o TenantOptions) *Tenant {
	t.Helper()
	if o.Ticket == "" {
		o.Ticket = "TESTTICKET"
	}
	root := NewCA(t, "adldapctl test root")
	inter := root.Sub(t, "adldapctl test intermediate")
	now := time.Now()
	var chain [][]byte
	var key *ecdsa.PrivateKey
	switch o.Chain {
	case ChainSelfSigned:
		var leaf *x509.Certificate
		leaf, key = (&CA{}).Leaf(t, "127.0.0.1", now.Add(-time.Hour), now.Add(24*time.Hour))
		chain = [][]byte{leaf.Raw}
	case ChainExpired:
		var leaf *x509.Certificate
		leaf, key = inter.Leaf(t, "127.0.0.1", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		chain = [][]byte{leaf.Raw, inter.Cert.Raw}
	default:
		var leaf *x509.Certificate
		leaf, key = inter.Leaf(t, "127.0.0.1", now.Add(-time.Hour), now.Add(24*time.Hour))
		chain = [][]byte{leaf.Raw}
		if o.Chain != ChainMissingIntermediate {
			chain = append(chain, inter.Cert.Raw)
		}
		if o.Chain == ChainFull {
			chain = append(chain, root.Cert.Raw)
		}
	}
	connCert, _ := root.Leaf(t, "adldapctl test connector", now.Add(-time.Hour), now.Add(24*time.Hour))
	thumb := o.Thumbprint
	if thumb == "" {
		sum := sha1.Sum(connCert.Raw) //nolint:gosec // the connector's thumbprint
		thumb = strings.ToUpper(hex.EncodeToString(sum[:]))
	}

	var mu sync.Mutex
	served := 0
	mux := http.NewServeMux()
	stamp := func(w http.ResponseWriter) time.Time {
		mu.Lock()
		served++
		mu.Unlock()
		time.Sleep(o.Latency)
		at := time.Now().Add(o.Skew)
		w.Header().Set("Date", at.UTC().Format(http.TimeFormat))
		return at
	}
	mux.HandleFunc("GET /test", func(w http.ResponseWriter, r *http.Request) {
		at := stamp(w)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"clock": at.UnixMilli()}) // a test server: the client sees a short body
	})
	mux.HandleFunc("GET /p/ad/{ticket}/info", func(w http.ResponseWriter, r *http.Request) {
		stamp(w)
		if r.PathValue("ticket") != o.Ticket {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"thumbprints": []string{thumb}}) // see above
	})
	mux.HandleFunc("GET /lo/hub", func(w http.ResponseWriter, r *http.Request) {
		stamp(w)
		key := r.Header.Get("Sec-WebSocket-Key")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
			http.Error(w, "expected a WebSocket upgrade", http.StatusBadRequest)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		c, rw, err := hj.Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(sum[:]))
		_ = rw.Flush() // the client reads the head; nothing more is spoken
		_, _ = bufio.NewReader(c).ReadByte()
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only: the hub needs Hijack
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: key}}},
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }() // ends with Close
	t.Cleanup(func() { _ = srv.Close() })

	base := "https://" + ln.Addr().String()
	return &Tenant{
		URL: base, TicketURL: base + "/p/ad/" + o.Ticket, HubURL: base + "/lo/hub",
		Root: root.Cert, Inter: inter.Cert, ConnectorCertPEM: PEM(connCert),
		Requests: func() int { mu.Lock(); defer mu.Unlock(); return served },
	}
}

// StartSilent starts a TCP listener on 127.0.0.1 that accepts connections
// and never reads or answers (a black-holing firewall or proxy); it returns
// its address. Connections are held until the test ends.
func StartSilent(t TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close() // stops the accept loop
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}
