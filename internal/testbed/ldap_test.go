//go:build linux

package testbed

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestStartSlapd(t *testing.T) {
	s := StartSlapd(t)
	ldapsearch, err := exec.LookPath("ldapsearch")
	if err != nil {
		t.Skip("ldapsearch not installed")
	}
	out, err := exec.Command(ldapsearch, "-x", "-H", s.URL, "-D", SlapdServiceDN, "-w", SlapdServicePass,
		"-b", SlapdGroupsBase, "(member="+SlapdUserDN+")", "cn").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cn: admins") {
		t.Fatalf("service account search: %v\n%s", err, out)
	}
	out, _ = exec.Command(ldapsearch, "-x", "-H", s.URL, "-D", SlapdNoGroupsDN, "-w", SlapdNoGroupsPass,
		"-b", "ou=people,"+SlapdBase, "(uid=alice)", "cn").CombinedOutput()
	if !strings.Contains(string(out), "cn: Alice") {
		t.Fatalf("nogroups cannot read users:\n%s", out)
	}
	out, _ = exec.Command(ldapsearch, "-x", "-H", s.URL, "-D", SlapdNoGroupsDN, "-w", SlapdNoGroupsPass,
		"-b", SlapdBase, "(objectClass=groupOfNames)", "cn").CombinedOutput()
	if strings.Contains(string(out), "cn: admins") {
		t.Fatalf("nogroups reads groups:\n%s", out)
	}
	cmd := exec.Command(ldapsearch, "-x", "-H", s.LDAPSURL, "-D", SlapdServiceDN, "-w", SlapdServicePass,
		"-b", SlapdBase, "-s", "base", "(objectClass=*)", "dn")
	cmd.Env = append(cmd.Environ(), "LDAPTLS_CACERT="+s.CAFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldaps with the test CA: %v\n%s", err, out)
	}
}

func TestStartDnsmasq(t *testing.T) {
	d := StartDnsmasq(t, []string{"example.test"}, SRV{Name: "_ldap._tcp.dc._msdcs.example.test", Target: "dc1.example.test", Port: 3389})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, srvs, err := d.Resolver().LookupSRV(ctx, "", "", "_ldap._tcp.dc._msdcs.example.test.")
	if err != nil || len(srvs) != 1 || srvs[0].Target != "dc1.example.test." || srvs[0].Port != 3389 {
		t.Fatalf("SRV: %v %+v", err, srvs)
	}
	_, _, err = d.Resolver().LookupSRV(ctx, "", "", "_ldap._tcp.example.test.")
	var dnsErr *net.DNSError
	if !asDNS(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("missing record: want not found, got %v", err)
	}
}

func asDNS(err error, target **net.DNSError) bool {
	e, ok := err.(*net.DNSError)
	*target = e
	return ok
}
