//go:build linux

package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// SRV is one SRV record dnsmasq serves.
type SRV struct {
	Name   string // e.g. _ldap._tcp.dc._msdcs.example.test
	Target string // host name the record points at
	Port   int
}

// Dnsmasq is a running dnsmasq (see StartDnsmasq).
type Dnsmasq struct {
	Addr string // 127.0.0.1:PORT, UDP and TCP
	PID  int
}

// StartDnsmasq starts dnsmasq on a loopback port serving records and
// nothing else: no upstream, no /etc/hosts, and authoritative NXDOMAIN for
// every name under each domain given in local (e.g. "example.test"). It is
// killed by its pid when the test ends. A missing dnsmasq fails the test
// when CI=true and skips it otherwise.
func StartDnsmasq(t testing.TB, local []string, records ...SRV) *Dnsmasq {
	t.Helper()
	bin := findBinary("dnsmasq", "/usr/sbin/dnsmasq")
	if bin == "" {
		Missing(t, "dnsmasq (apt-get install dnsmasq, or scripts/deps.sh)")
	}
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	d := &Dnsmasq{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	args := []string{
		"--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
		"--port=" + strconv.Itoa(port), "--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts", "--no-poll", "--log-facility=-",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root") // no privilege drop needed for a loopback test server
	}
	for _, l := range append([]string{"adldapctl.invalid"}, local...) { // the first for the readiness probe
		args = append(args, "--local=/"+l+"/")
	}
	for _, r := range records {
		args = append(args, fmt.Sprintf("--srv-host=%s,%s,%d", r.Name, r.Target, r.Port))
	}
	out, err := os.Create(filepath.Join(dir, "dnsmasq.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	var exited <-chan struct{}
	d.PID, exited = startDaemon(t, "dnsmasq", cmd)

	// Ready when it answers a query (any answer: NXDOMAIN included).
	r := d.Resolver()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "dnsmasq.out"))
			t.Fatalf("dnsmasq exited during startup:\n%s", log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, _, err := r.LookupSRV(ctx, "", "", "_ready._tcp.adldapctl.invalid.")
		cancel()
		var dnsErr *net.DNSError
		if err == nil || (errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
			return d
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dnsmasq.out"))
			t.Fatalf("dnsmasq does not answer on %s after 10s (%v):\n%s", d.Addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Resolver is a Go resolver that asks only this dnsmasq.
func (d *Dnsmasq) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, network, d.Addr)
	}}
}
