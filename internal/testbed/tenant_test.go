package testbed

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestStartTenant(t *testing.T) {
	ten := StartTenant(t, TenantOptions{Skew: time.Hour})
	roots := x509.NewCertPool()
	roots.AddCert(ten.Root)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := c.Get(ten.URL + "/test")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ Clock int64 }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(time.UnixMilli(doc.Clock)); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("clock off by %v, want 1h", d)
	}
	for url, code := range map[string]int{ten.TicketURL + "/info": 200, ten.URL + "/p/ad/OTHER/info": 404} {
		r, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != code {
			t.Errorf("GET %s: %d, want %d", url, r.StatusCode, code)
		}
	}
	// The leaf-only variant does not verify without its intermediate.
	bad := StartTenant(t, TenantOptions{Chain: ChainMissingIntermediate})
	if _, err := c.Get(bad.URL + "/test"); err == nil {
		t.Error("leaf-only chain verified")
	}
}

func TestStartSilent(t *testing.T) {
	addr := StartSilent(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Errorf("the silent peer answered (%d bytes, %v)", n, err)
	}
}
