package updater

import (
	"testing"

	"github.com/hashicorp/go-version"
)

type versionT = version.Version

func mustVersion(t *testing.T, s string) *version.Version {
	t.Helper()
	v, err := ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
