package connector

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRecordValidate(t *testing.T) {
	now := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		r    InstallRecord
		want string // "" = valid, else fragment of the error
	}{
		{InstallRecord{Version: "6.4.1", InstalledAt: now}, ""},
		{InstallRecord{Version: "v6.4.1", Previous: "6.4.0", InstalledAt: now}, ""},
		{InstallRecord{Version: "6.5.0-rc.1", InstalledAt: now}, ""},
		{InstallRecord{InstalledAt: now}, "no version"},
		{InstallRecord{Version: "  ", InstalledAt: now}, "no version"},
		{InstallRecord{Version: "latest", InstalledAt: now}, `version "latest" is not a version`},
		{InstallRecord{Version: "6.4.1", Previous: "x", InstalledAt: now}, `previous_version "x"`},
		{InstallRecord{Version: "6.4.1"}, "no installed_at"},
	} {
		err := tc.r.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.r, err)
			}
			if _, err := tc.r.Encode(); err != nil {
				t.Errorf("Encode %+v: %v", tc.r, err)
			}
			continue
		}
		if !errors.Is(err, ErrRecordInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
		if b, err := tc.r.Encode(); err == nil || b != nil {
			t.Errorf("Encode wrote an invalid record: %s", b)
		}
	}
	if (*InstallRecord)(nil).Validate() == nil {
		t.Error("nil record valid")
	}
}

func TestReadRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, RecordFile)
	if _, err := ReadRecord(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	good := &InstallRecord{Version: "6.4.1", Tag: "v6.4.1", InstalledAt: time.Now().UTC().Truncate(time.Second)}
	b, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b, 0o644)
	r, err := ReadRecord(path)
	if err != nil || r.Version != "6.4.1" || !r.InstalledAt.Equal(good.InstalledAt) {
		t.Fatalf("round trip: %+v %v", r, err)
	}
	for _, bad := range []string{"", "  \n", `{"fresh":true}`, `{"version":"6.4.1"`, `{"version":6}`, `null`, `[]`,
		`{"version":"6.4.1","installed_at":"2026-11-30T01:00:00Z"} {}`, `{"version":"","installed_at":"2026-11-30T01:00:00Z"}`} {
		os.WriteFile(path, []byte(bad), 0o644)
		_, err := ReadRecord(path)
		var re *RecordError
		if !errors.As(err, &re) || re.Path != path || !errors.Is(err, ErrRecordInvalid) {
			t.Errorf("%q: %v", bad, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, path) || !strings.Contains(msg, "move it aside and run adldapctl install") {
			t.Errorf("%q: message %s", bad, msg)
		}
		if _, err := ParseRecord([]byte(bad)); !errors.Is(err, ErrRecordInvalid) {
			t.Errorf("ParseRecord(%q): %v", bad, err)
		}
	}
}
