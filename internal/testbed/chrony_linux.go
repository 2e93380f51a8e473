//go:build linux

package testbed

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartChrony starts chronyd as an SNTP server on 127.0.0.1 whose clock is
// off by offset (faketime), never touching the system clock (-x). It
// returns the server's "127.0.0.1:PORT". faketime takes whole seconds. chronyd and faketime missing fail
// the test when CI=true and skip it otherwise.
func StartChrony(t testing.TB, offset time.Duration) string {
	t.Helper()
	chronyd := findBinary("chronyd", "/usr/sbin/chronyd")
	faketime := findBinary("faketime", "/usr/bin/faketime")
	if chronyd == "" || faketime == "" {
		Missing(t, "chronyd and faketime (apt-get install chrony faketime, or scripts/deps.sh)")
	}
	dir := bedDir(t, "chrony", 0o777)
	port, addr := loopbackPort(t)
	conf := strings.Join([]string{
		"# throwaway SNTP server for adldapctl tests",
		"port " + strconv.Itoa(port),
		"bindaddress 127.0.0.1",
		"allow 127.0.0.1",
		"local stratum 1",
		"cmdport 0",
		"pidfile " + filepath.Join(dir, "chronyd.pid"),
		"driftfile " + filepath.Join(dir, "drift"),
		"",
	}, "\n")
	confFile := filepath.Join(dir, "chrony.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "chronyd.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sign := "+"
	if offset < 0 {
		sign, offset = "-", -offset
	}
	// -d: foreground; -x: never adjust the system clock; -u root: no
	// privilege drop, so that the throwaway files stay ours.
	args := []string{"-f", fmt.Sprintf("%s%ds", sign, int64(offset/time.Second)), chronyd, "-d", "-x", "-f", confFile}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	cmd := exec.Command(faketime, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	_, exited := startDaemon(t, "chronyd under faketime", cmd)
	logs := func() string { data, _ := os.ReadFile(filepath.Join(dir, "chronyd.out")); return string(data) }

	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("chronyd exited during startup:\n%s", logs())
		default:
		}
		if sntpAnswers(addr) {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronyd does not answer SNTP on %s after 20s:\n%s", addr, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sntpAnswers sends one SNTP v4 client request and reports whether a
// server answer with a non-zero stratum came back.
func sntpAnswers(addr string) bool {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	req := make([]byte, 48)
	req[0] = 0x23 // LI 0, version 4, mode 3 (client)
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Write(req); err != nil {
		return false
	}
	resp := make([]byte, 48)
	n, err := c.Read(resp)
	return err == nil && n >= 48 && resp[0]&7 == 4 && resp[1] != 0
}
