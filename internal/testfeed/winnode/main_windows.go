//go:build windows

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
)

func main() {
	const usage = `usage: node.exe [--service NAME] server.js|admin\server.js`
	args := os.Args[1:]
	service := ""
	if len(args) > 0 && args[0] == "--service" {
		if len(args) < 2 || args[1] == "" {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		service, args = args[1], args[2:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if service != "" {
		if err := svc.Run(service, &handler{name: service, script: args[0]}); err != nil {
			fmt.Fprintf(os.Stderr, "node.exe: run as service %q: %v\n", service, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(console(args[0]))
}

// handler runs node.exe as a Windows service itself (--service NAME).
type handler struct{ name, script string }

// serviceEnvironment applies the service's Environment value
// (HKLM\SYSTEM\CurrentControlSet\Services\NAME\Environment, REG_MULTI_SZ
// KEY=VALUE entries). Windows' SCM gives them to the service process
// itself; Wine 8's ignores the value (seen), so the stand-in reads it,
// which on Windows changes nothing.
func serviceEnvironment(name string) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Services\`+name, registry.QUERY_VALUE)
	if err != nil {
		return
	}
	defer func() { _ = k.Close() }()
	env, _, err := k.GetStringsValue("Environment")
	if err != nil {
		return
	}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			_ = os.Setenv(k, v)
		}
	}
}

func (h *handler) Execute(_ []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	s <- svc.Status{State: svc.StartPending, WaitHint: 10000}
	serviceEnvironment(h.name)
	a, srv, serve, err := start(h.script)
	if err != nil {
		fail(a, err)
		return true, 1
	}
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	s <- svc.Status{State: svc.Running, Accepts: accepts}
	for {
		select {
		case err := <-errc:
			fail(a, err)
			return true, 1
		case c := <-r:
			switch c.Cmd {
			case svc.Interrogate:
				s <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				s <- svc.Status{State: svc.StopPending, WaitHint: 5000}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = srv.Shutdown(ctx)
				cancel()
				return false, 0
			}
		}
	}
}
