package installer

import (
	"os"
	"slices"
	"testing"

	"github.com/adldapctl/adldapctl/platform"
)

// FuzzReadJournal feeds arbitrary bytes to the journal reader: it never
// panics, and whatever it accepts names a known operation and phase, with
// a valid target version from the stage phase on.
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"fresh":true}`))
	f.Add([]byte(`{"format":1,"id":"x","op":"update","phase":"resolve","started_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"format":1,"id":"x","op":"install","phase":"switch","fresh":true,"to_version":"6.4.1","record":{"version":"6.4.1","installed_at":"2026-01-01T00:00:00Z"},"started_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"format":1,"id":"x","op":"rollback","phase":"rollback","from_version":"6.5.0","to_version":"6.4.1","record":{"version":"6.4.1","installed_at":"2026-01-01T00:00:00Z"},"started_at":"2026-01-01T00:00:00Z"}`))
	root := f.TempDir()
	p, err := platform.Detect(root)
	if err != nil {
		f.Fatal(err)
	}
	os.MkdirAll(p.Paths.StateDir, 0o755)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(journalPath(p), data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := readJournal(p, nil)
		if err != nil {
			return
		}
		if j == nil {
			t.Fatal("a journal file exists but readJournal returned none")
		}
		if !slices.Contains([]string{"install", "update", "rollback"}, j.Op) {
			t.Fatalf("accepted op %q", j.Op)
		}
		idx := slices.Index(Phases, j.Phase)
		if idx < 0 && j.Phase != PhaseRollback {
			t.Fatalf("accepted phase %q", j.Phase)
		}
		if (j.Phase == PhaseRollback || idx >= slices.Index(Phases, PhaseStage)) && !validVersion(j.ToVersion) {
			t.Fatalf("accepted target %q at %s", j.ToVersion, j.Phase)
		}
	})
}
