package updater

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-version"
)

// Channel selects which releases Latest may return.
type Channel string

const (
	// ChannelStable admits only releases that are neither drafts nor
	// prereleases.
	ChannelStable Channel = "stable"
	// ChannelPrerelease also admits prereleases. Drafts are never admitted.
	ChannelPrerelease Channel = "prerelease"
)

// ParseChannel parses a --channel value. The empty string means stable.
func ParseChannel(s string) (Channel, error) {
	switch c := Channel(strings.ToLower(strings.TrimSpace(s))); c {
	case "":
		return ChannelStable, nil
	case ChannelStable, ChannelPrerelease:
		return c, nil
	}
	return "", fmt.Errorf("unknown channel %q: use %q or %q", s, ChannelStable, ChannelPrerelease)
}

// Admits reports whether a release with the given prerelease and draft
// flags belongs to channel c. Drafts never do.
func (c Channel) Admits(prerelease, draft bool) bool {
	if draft {
		return false
	}
	switch c {
	case ChannelPrerelease:
		return true
	case ChannelStable, "":
		return !prerelease
	}
	return false
}

// ParseVersion parses a connector version or release tag such as "6.4.1",
// "v6.4.1", "6.4" (equal to 6.4.0) or "6.5.0-rc.1". It is lenient in the
// way of go-version's NewVersion, but rejects empty input and anything that
// is not a version with an error that quotes the input.
func ParseVersion(s string) (*version.Version, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, errors.New("empty version: expected something like 6.4.1 or v6.4.1")
	}
	v, err := version.NewVersion(t)
	if err != nil {
		return nil, fmt.Errorf("invalid version %q: expected something like 6.4.1 or v6.4.1", s)
	}
	return v, nil
}

// CompareVersions parses a and b and returns -1, 0 or +1 as a is older
// than, equal to or newer than b. A prerelease is older than its release
// (6.5.0-rc.1 < 6.5.0) and newer than the release before (6.5.0-rc.1 >
// 6.4.1); build metadata is ignored.
func CompareVersions(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// IsNewer reports whether candidate is strictly newer than current. A nil
// current (nothing installed) makes any candidate newer.
func IsNewer(candidate, current *version.Version) bool {
	if candidate == nil {
		return false
	}
	if current == nil {
		return true
	}
	return candidate.GreaterThan(current)
}

// tagFor returns the canonical "vX.Y.Z[-pre]" spelling of v.
func tagFor(v *version.Version) string {
	return "v" + v.String()
}
