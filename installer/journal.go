package installer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/adldapctl/adldapctl/platform"
)

// Phase names, in transaction order. They are written to the journal
// before the phase starts.
const (
	PhaseResolve  = "resolve"
	PhaseDownload = "download"
	PhaseVerify   = "verify"
	PhaseStage    = "stage"
	PhaseStop     = "stop"
	PhaseSwitch   = "switch"
	PhaseStart    = "start"
	PhaseHealth   = "health"
	PhaseCommit   = "commit"
	PhaseRollback = "rollback"
)

// Phases lists the transaction's phases in order.
var Phases = []string{PhaseResolve, PhaseDownload, PhaseVerify, PhaseStage, PhaseStop, PhaseSwitch, PhaseStart, PhaseHealth, PhaseCommit}

// Journal is the on-disk record of a transaction in progress.
type Journal struct {
	ID           string    `json:"id"`
	Op           string    `json:"op"` // install, update, rollback
	Phase        string    `json:"phase"`
	FromVersion  string    `json:"from_version,omitempty"`
	ToVersion    string    `json:"to_version"`
	Fresh        bool      `json:"fresh"` // no previous install
	ServiceWasUp bool      `json:"service_was_running"`
	KeepOld      bool      `json:"keep_old"` // move the old tree to .previous on commit
	Record       []byte    `json:"record,omitempty"`
	PrevRecord   []byte    `json:"prev_record,omitempty"`
	StartedAt    time.Time `json:"started_at"`
	path         string
}

// JournalFile is the journal's name in the state dir.
const JournalFile = "journal.json"

func journalPath(p *platform.Platform) string { return filepath.Join(p.Paths.StateDir, JournalFile) }

// readJournal returns the journal, or nil when there is none.
func readJournal(p *platform.Platform) (*Journal, error) {
	path := journalPath(p)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("journal %s is damaged (%v): move it aside and run adldapctl status", path, err)
	}
	j.path = path
	return &j, nil
}

// enter records that phase is about to start (fsync'd file and folder),
// then gives the test hook a chance to stop the process there.
func (j *Journal) enter(phase string) error {
	j.Phase = phase
	b, _ := json.MarshalIndent(j, "", "  ")
	if err := platform.WriteFileAtomic(j.path, b, 0o600); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return testHook(phase)
}

func (j *Journal) clear() error {
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return platform.SyncDir(filepath.Dir(j.path))
}
