// Command testfeed serves a stand-in for the GitHub releases of
// auth0/ad-ldap-connector on loopback, for scripts and manual tests:
//
//	testfeed -addr 127.0.0.1:0 -releases 6.4.1,6.5.0,6.6.0:crash,6.7.0-rc.1:pre [-url-file F] [-v]
//
// The first line on stdout is the feed URL (give it to adldapctl --feed).
// Release modifiers: pre, draft, crash (server.js exits 1 at start), nolock
// (no package-lock.json). It serves until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/adldapctl/adldapctl/internal/testfeed"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testfeed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	releases := fs.String("releases", "6.4.1", "comma-separated versions, each with optional :pre, :draft, :crash, :nolock")
	urlFile := fs.String("url-file", "", "also write the feed URL (and a newline) to this file")
	verbose := fs.Bool("v", false, "log every request to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "testfeed: unexpected arguments %q\n", fs.Args())
		return 2
	}
	rels, err := testfeed.ParseReleases(*releases)
	if err != nil {
		fmt.Fprintf(stderr, "testfeed: -releases: %v\n", err)
		return 2
	}

	// Signals are caught before the URL is announced, so a script that
	// reads the URL and then signals us always gets a clean shutdown.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)

	srv, err := testfeed.Start(*addr, rels)
	if err != nil {
		fmt.Fprintf(stderr, "testfeed: %v\n", err)
		return 1
	}
	defer srv.Close()
	if *verbose {
		l := log.New(stderr, "testfeed: ", log.LstdFlags|log.Lmicroseconds)
		srv.SetLogf(l.Printf)
	}
	if *urlFile != "" {
		if err := writeAtomic(*urlFile, []byte(srv.URL+"\n")); err != nil {
			fmt.Fprintf(stderr, "testfeed: -url-file: %v\n", err)
			return 1
		}
	}
	fmt.Fprintln(stdout, srv.URL)
	for _, r := range rels {
		fmt.Fprintf(stderr, "testfeed: v%s prerelease=%t draft=%t crash=%t nolock=%t tarball=%s\n",
			r.Version, r.Prerelease, r.Draft, r.Sample.CrashOnStart, r.Sample.NoLockfile, srv.TarballURL(r.Version))
	}

	sig := <-sigs
	fmt.Fprintf(stderr, "testfeed: %v, stopping\n", sig)
	return 0
}

// writeAtomic writes data so a reader polling for the file never sees it
// half-written.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".testfeed-url-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // a temp file: best effort
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
