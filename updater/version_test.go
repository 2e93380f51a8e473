package updater

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means error
	}{
		{"6.4.1", "6.4.1"},
		{"v6.4.1", "6.4.1"},
		{" v6.4.1 ", "6.4.1"},
		{"6.4", "6.4.0"},
		{"6.5.0-rc.1", "6.5.0-rc.1"},
		{"v6.5.0-rc.1", "6.5.0-rc.1"},
		{"", ""},
		{"   ", ""},
		{"nightly", ""},
		{"v", ""},
		{"6.4.1 beta", ""},
		{"latest", ""},
	} {
		v, err := ParseVersion(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseVersion(%q) = %v, want error", tc.in, v)
			} else if !strings.Contains(err.Error(), "version") {
				t.Errorf("ParseVersion(%q) error %q does not say what was expected", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tc.in, err)
			continue
		}
		if got := v.String(); got != tc.want {
			t.Errorf("ParseVersion(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseVersionErrorQuotesInput(t *testing.T) {
	_, err := ParseVersion("banana")
	if err == nil || !strings.Contains(err.Error(), `"banana"`) {
		t.Fatalf("error %v should quote the input", err)
	}
	_, err = ParseVersion("")
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("error %v should say the version is empty", err)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"6.4.1", "6.4.1", 0},
		{"v6.4.1", "6.4.1", 0},
		{"6.4", "6.4.0", 0},
		{"6.4.1+build5", "6.4.1", 0},
		{"6.4.1", "6.4.0", 1},
		{"6.4.0", "6.4.1", -1},
		{"6.10.0", "6.9.0", 1}, // numeric, not lexical
		{"7.0.0", "6.99.99", 1},
		{"6.5.0-rc.1", "6.5.0", -1},
		{"6.5.0", "6.5.0-rc.1", 1},
		{"6.5.0-rc.1", "6.4.1", 1},
		{"6.5.0-rc.2", "6.5.0-rc.1", 1},
		{"6.5.0-rc.10", "6.5.0-rc.2", 1},
		{"6.5.0-beta.1", "6.5.0-rc.1", -1},
		{"v6.5.0-rc.1", "6.5.0-rc.1", 0},
	} {
		got, err := CompareVersions(tc.a, tc.b)
		if err != nil {
			t.Errorf("CompareVersions(%q, %q): %v", tc.a, tc.b, err)
			continue
		}
		if got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if _, err := CompareVersions("6.4.1", "x"); err == nil {
		t.Error("CompareVersions with garbage: want error")
	}
	if _, err := CompareVersions("", "6.4.1"); err == nil {
		t.Error("CompareVersions with empty: want error")
	}
}

func TestIsNewer(t *testing.T) {
	v := func(s string) *versionT { return mustVersion(t, s) }
	if !IsNewer(v("6.4.1"), nil) {
		t.Error("anything is newer than nothing installed")
	}
	if IsNewer(nil, v("6.4.1")) {
		t.Error("nil candidate is never newer")
	}
	if !IsNewer(v("6.5.0"), v("6.4.1")) || IsNewer(v("6.4.1"), v("6.4.1")) || IsNewer(v("6.4.0"), v("6.4.1")) {
		t.Error("IsNewer wrong on plain versions")
	}
	if IsNewer(v("6.5.0-rc.1"), v("6.5.0")) || !IsNewer(v("6.5.0-rc.1"), v("6.4.1")) {
		t.Error("IsNewer wrong on prereleases")
	}
}

func TestChannel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Channel
		ok   bool
	}{
		{"", ChannelStable, true},
		{"stable", ChannelStable, true},
		{"Prerelease", ChannelPrerelease, true},
		{"beta", "", false},
	} {
		got, err := ParseChannel(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseChannel(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		ch                Channel
		prerelease, draft bool
		want              bool
	}{
		{ChannelStable, false, false, true},
		{ChannelStable, true, false, false},
		{ChannelStable, false, true, false},
		{ChannelPrerelease, false, false, true},
		{ChannelPrerelease, true, false, true},
		{ChannelPrerelease, true, true, false},
		{ChannelPrerelease, false, true, false},
		{Channel("bogus"), false, false, false},
	} {
		if got := tc.ch.Admits(tc.prerelease, tc.draft); got != tc.want {
			t.Errorf("%q.Admits(prerelease=%v, draft=%v) = %v, want %v", tc.ch, tc.prerelease, tc.draft, got, tc.want)
		}
	}
}
