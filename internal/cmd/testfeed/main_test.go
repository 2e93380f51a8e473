package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-releases", "6.4.1:bogus"},
		{"-releases", ""},
		{"-nosuchflag"},
		{"extra"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (stderr %q)", args, code, errb.String())
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) wrote to stdout: %q", args, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-addr", "256.0.0.1:0"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "listen") {
		t.Errorf("bad addr: code %d, stderr %q", code, errb.String())
	}
}
