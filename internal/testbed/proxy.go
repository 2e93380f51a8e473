//go:build linux

package testbed

import (
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Squid is a running squid forward proxy (see StartSquid).
type Squid struct {
	URL       string // http://USER:PASS@127.0.0.1:PORT, user and password percent-encoded
	Addr      string // 127.0.0.1:PORT
	Dir       string // config, password file and logs
	PID       int
	AccessLog string // one line per request, with its status (TCP_DENIED/407, TCP_TUNNEL/200, ...)
}

// StartSquid starts squid on 127.0.0.1 requiring Basic proxy auth as
// user/pass (other credentials get 407), forwarding plain http to any host,
// loopback included, and tunnelling CONNECT to any port, caching nothing.
// It returns the proxy URL with the credentials in it. squid runs in the
// foreground from a throwaway config and is stopped by its pid when the
// test ends. A missing squid fails the test when CI=true and skips it
// otherwise.
func StartSquid(t testing.TB, user, pass string) (proxyURL string) {
	t.Helper()
	return StartSquidProxy(t, user, pass).URL
}

// StartSquidProxy is StartSquid returning the whole Squid (its access log,
// pid, directory).
func StartSquidProxy(t testing.TB, username, pass string) *Squid {
	t.Helper()
	squid := findBinary("squid", "/usr/sbin/squid")
	helper := findBinary("", "/usr/lib/squid/basic_ncsa_auth", "/usr/lib64/squid/basic_ncsa_auth", "/usr/libexec/squid/basic_ncsa_auth")
	if squid == "" || helper == "" {
		Missing(t, "squid with basic_ncsa_auth (apt-get install squid, or scripts/deps.sh)")
	}
	if username == "" || strings.ContainsAny(username, ": \t\r\n") {
		t.Fatalf("StartSquid: unusable user name %q", username)
	}

	// squid started as root drops to an unprivileged user, which must be
	// able to read the config and password file and write the logs: a
	// world-readable directory of our own, not t.TempDir (mode 0700).
	dir := bedDir(t, "squid", 0o755)
	port, addr := loopbackPort(t)

	salt := randomHex(4)
	htpasswd := username + ":" + apr1(pass, salt) + "\n"
	runAs := ""
	var uid, gid = -1, -1
	if os.Geteuid() == 0 {
		for _, name := range []string{"proxy", "nobody"} {
			if u, err := user.Lookup(name); err == nil {
				runAs = name
				uid, _ = strconv.Atoi(u.Uid)
				gid, _ = strconv.Atoi(u.Gid)
				break
			}
		}
		if runAs == "" {
			t.Fatal("StartSquid: running as root but there is no proxy or nobody user for squid to run as")
		}
	}
	conf := renderSquidConf(dir, addr, helper, runAs)
	for name, data := range map[string]string{"htpasswd": htpasswd, "squid.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if uid >= 0 {
		for _, p := range []string{dir, filepath.Join(dir, "htpasswd"), filepath.Join(dir, "squid.conf")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}

	out, err := os.Create(filepath.Join(dir, "squid.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// -N: foreground, no kid processes; -n: a service name of our own so
	// that concurrent instances share nothing.
	cmd := exec.Command(squid, "-N", "-n", "adldapctltest"+strconv.Itoa(port), "-f", filepath.Join(dir, "squid.conf"))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	pid, exited := startDaemon(t, "squid", cmd)

	s := &Squid{Addr: addr, Dir: dir, PID: pid, AccessLog: filepath.Join(dir, "access.log")}
	s.URL = (&url.URL{Scheme: "http", User: url.UserPassword(username, pass), Host: addr}).String()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("squid exited during startup:\n%s", s.logs())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("squid does not accept connections on %s after 30s:\n%s", addr, s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// squidCommon writes what every throwaway squid of the tests sets: its
// files in dir, no cache, no side ports, a quick shutdown.
func squidCommon(p func(format string, args ...any), dir, runAs string) {
	if runAs != "" {
		p("cache_effective_user %s", runAs)
	}
	p("pid_filename %s", filepath.Join(dir, "squid.pid"))
	p("cache_log %s", filepath.Join(dir, "cache.log"))
	p("access_log stdio:%s", filepath.Join(dir, "access.log"))
	p("cache_store_log none")
	p("coredump_dir %s", dir)
	p("netdb_filename none")
	p("cache deny all")
	p("cache_mem 8 MB")
	p("icp_port 0")
	p("htcp_port 0")
	p("pinger_enable off")
	p("shutdown_lifetime 0 seconds")
}

func renderSquidConf(dir, addr, helper, runAs string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# throwaway squid for adldapctl tests")
	p("http_port %s", addr)
	p("visible_hostname adldapctl-test-proxy")
	squidCommon(p, dir, runAs)
	p("auth_param basic program %s %s", helper, filepath.Join(dir, "htpasswd"))
	p("auth_param basic children 2 startup=1 idle=1")
	p("auth_param basic realm adldapctl-test")
	p("auth_param basic credentialsttl 1 second")
	p("acl authenticated proxy_auth REQUIRED")
	// No Safe_ports/SSL_ports and no to_localhost rule: tests tunnel and
	// forward to loopback servers on any port.
	p("http_access allow authenticated")
	p("http_access deny all")
	return b.String()
}

// logs returns squid's own output and the end of its cache.log.
func (s *Squid) logs() string {
	var b strings.Builder
	for _, name := range []string{"squid.out", "cache.log"} {
		data, _ := os.ReadFile(filepath.Join(s.Dir, name))
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s", name, data)
	}
	return b.String()
}

// startDaemon starts a bed's daemon in its own process group (killed with
// the test process if that dies), and stops it by its pid at cleanup. It
// returns the pid and a channel closed when the daemon has exited.
func startDaemon(t TB, what string, cmd *exec.Cmd) (int, <-chan struct{}) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { stopByPID(pid, exited) })
	return pid, exited
}

// stopByPID kills the process pid (ours) and its children (the auth
// helpers), each by its pid. A throwaway proxy needs no graceful shutdown,
// which takes squid two seconds.
func stopByPID(pid int, exited <-chan struct{}) {
	killTree(pid)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

func findBinary(name string, paths ...string) string {
	if name != "" {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// bedDir makes a throwaway folder for a bed's config, data and logs,
// removed at cleanup. Daemons that drop to an unprivileged user need it
// readable (mode 0755) or writable by them (0777): not t.TempDir's 0700.
func bedDir(t TB, name string, mode os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "adldapctl-"+name+"-")
	if err != nil {
		t.Fatalf("%s bed: %v", name, err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // a temp dir: best effort
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatalf("%s bed: %v", name, err)
	}
	return dir
}

// loopbackPort returns a port free on 127.0.0.1 a moment ago, and its
// "127.0.0.1:PORT".
func loopbackPort(t TB) (int, string) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("not a TCP address")
	}
	return tcp.Port, nil
}

// apr1 is Apache's MD5-based password hash ("$apr1$SALT$HASH", what
// htpasswd -m and openssl passwd -apr1 write), which basic_ncsa_auth
// checks.
func apr1(password, salt string) string {
	const magic = "$apr1$"
	pw, sl := []byte(password), []byte(salt)
	alt := md5.Sum(append(append(append([]byte{}, pw...), sl...), pw...))
	d := md5.New()
	d.Write(pw)
	d.Write([]byte(magic))
	d.Write(sl)
	for i := len(pw); i > 0; i -= 16 {
		d.Write(alt[:min(i, 16)])
	}
	for i := len(pw); i > 0; i >>= 1 {
		if i&1 != 0 {
			d.Write([]byte{0})
		} else {
			d.Write(pw[:1])
		}
	}
	sum := d.Sum(nil)
	for i := 0; i < 1000; i++ {
		r := md5.New()
		if i&1 != 0 {
			r.Write(pw)
		} else {
			r.Write(sum)
		}
		if i%3 != 0 {
			r.Write(sl)
		}
		if i%7 != 0 {
			r.Write(pw)
		}
		if i&1 != 0 {
			r.Write(sum)
		} else {
			r.Write(pw)
		}
		sum = r.Sum(nil)
	}
	const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var out []byte
	to64 := func(v uint32, n int) {
		for ; n > 0; n-- {
			out = append(out, itoa64[v&0x3f])
			v >>= 6
		}
	}
	for _, g := range [][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		to64(uint32(sum[g[0]])<<16|uint32(sum[g[1]])<<8|uint32(sum[g[2]]), 4)
	}
	to64(uint32(sum[11]), 2)
	return magic + salt + "$" + string(out)
}
