//go:build windows

// Command winprobe reads the Windows state adldapctl changes, from a
// process of its own, for the tests under Wine. It shares no code with
// adldapctl: it calls the APIs itself.
//
//	winprobe certs                 "<Root|CA> <sha256>" per certificate of the LocalMachine stores
//	winprobe regmulti KEY VALUE    the REG_MULTI_SZ HKLM\KEY\VALUE, one entry a line ("(missing)" when absent)
//	winprobe serve NAME ENVFILE    run as service NAME (svc.Run), writing its environment to ENVFILE at start
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: winprobe certs | regmulti KEY VALUE | serve NAME ENVFILE")
	}
	switch os.Args[1] {
	case "certs":
		for _, name := range []string{"Root", "CA"} {
			certs(name)
		}
	case "regmulti":
		if len(os.Args) != 4 {
			fail("regmulti KEY VALUE")
		}
		k, err := registry.OpenKey(registry.LOCAL_MACHINE, os.Args[2], registry.QUERY_VALUE)
		if err != nil {
			fail(err.Error())
		}
		v, _, err := k.GetStringsValue(os.Args[3])
		if err == registry.ErrNotExist {
			fmt.Println("(missing)")
			return
		}
		if err != nil {
			fail(err.Error())
		}
		for _, e := range v {
			fmt.Println(e)
		}
	case "serve":
		if len(os.Args) != 4 {
			fail("serve NAME ENVFILE")
		}
		_ = os.WriteFile(os.Args[3], []byte(strings.Join(os.Environ(), "\n")+"\n"), 0o600)
		if err := svc.Run(os.Args[2], handler{}); err != nil {
			fail(err.Error())
		}
	default:
		fail("unknown command " + os.Args[1])
	}
}

func certs(name string) {
	p, _ := windows.UTF16PtrFromString(name)
	h, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM, 0, 0,
		windows.CERT_SYSTEM_STORE_LOCAL_MACHINE|windows.CERT_STORE_READONLY_FLAG, uintptr(unsafe.Pointer(p)))
	if err != nil {
		fail(err.Error())
	}
	defer windows.CertCloseStore(h, 0)
	var ctx *windows.CertContext
	for {
		ctx, _ = windows.CertEnumCertificatesInStore(h, ctx)
		if ctx == nil {
			return
		}
		sum := sha256.Sum256(unsafe.Slice(ctx.EncodedCert, ctx.Length))
		fmt.Println(name, hex.EncodeToString(sum[:]))
	}
}

type handler struct{}

func (handler) Execute(_ []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	s <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for c := range r {
		switch c.Cmd {
		case svc.Interrogate:
			s <- c.CurrentStatus
		case svc.Stop, svc.Shutdown:
			s <- svc.Status{State: svc.StopPending}
			return false, 0
		}
	}
	return false, 0
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "winprobe:", msg)
	os.Exit(1)
}
